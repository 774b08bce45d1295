//! Typed values for contact attributes and event properties.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// A typed value: what a contact attribute or an event property holds.
///
/// In JSON a value is written as itself (`"gold"`, `42.5`, `true`, `["a", "b"]`),
/// except a timestamp, which is written `{"timestamp": "2026-01-05T13:04:11Z"}` so that
/// a string that happens to look like a date stays a string across a round trip.
/// (With `serde_json`, enable its `float_roundtrip` feature for numbers to round-trip
/// to the last bit.)
///
/// ```
/// use journeys::Value;
/// let v: Value = serde_json::from_str(r#"{"timestamp": "2026-01-05T13:04:11Z"}"#)?;
/// assert_eq!(v.type_name(), "timestamp");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged, try_from = "RawValue")]
pub enum Value {
    /// `true` or `false`.
    Bool(bool),
    /// A finite number.
    Number(f64),
    /// Text.
    String(String),
    /// A list of values.
    List(Vec<Value>),
    /// An instant in UTC.
    Timestamp {
        /// The instant.
        timestamp: DateTime<Utc>,
    },
}

/// The wire form, checked into a [`Value`] (numbers must be finite).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawValue {
    Bool(bool),
    Number(f64),
    String(String),
    List(Vec<Value>),
    Timestamp { timestamp: DateTime<Utc> },
}

impl TryFrom<RawValue> for Value {
    type Error = DomainError;
    fn try_from(raw: RawValue) -> Result<Self, DomainError> {
        Ok(match raw {
            RawValue::Bool(b) => Value::Bool(b),
            RawValue::Number(n) => Value::number(n)?,
            RawValue::String(s) => Value::String(s),
            RawValue::List(items) => Value::List(items),
            RawValue::Timestamp { timestamp } => Value::Timestamp { timestamp },
        })
    }
}

impl Value {
    /// A number value.
    ///
    /// # Errors
    /// [`DomainError::InvalidValue`] when `n` is NaN or infinite.
    pub fn number(n: f64) -> Result<Self, DomainError> {
        if n.is_finite() {
            Ok(Value::Number(n))
        } else {
            Err(DomainError::InvalidValue { field: "number", value: n.to_string(), reason: "must be finite" })
        }
    }

    /// A timestamp value.
    pub fn timestamp(at: DateTime<Utc>) -> Self {
        Value::Timestamp { timestamp: at }
    }

    /// The type's name as written in errors and explanations: `bool`, `number`,
    /// `string`, `list` or `timestamp`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Timestamp { .. } => "timestamp",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Timestamp { timestamp } => f.write_str(&timestamp.to_rfc3339()),
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<DateTime<Utc>> for Value {
    fn from(at: DateTime<Utc>) -> Self {
        Value::timestamp(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_like_string_stays_a_string_across_a_round_trip() {
        let v = Value::from("2026-01-05T13:04:11Z");
        let back: Value = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back, v);
        let at = Value::timestamp("2026-01-05T13:04:11Z".parse().unwrap());
        let back: Value = serde_json::from_str(&serde_json::to_string(&at).unwrap()).unwrap();
        assert_eq!(back, at);
    }

    #[test]
    fn non_finite_numbers_are_refused() {
        assert_eq!(Value::number(f64::NAN).unwrap_err().code(), "invalid_value");
        assert!(Value::number(1.5).is_ok());
    }
}
