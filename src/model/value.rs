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
        self.value_type().name()
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

/// The type of a [`Value`], as conditions check it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// `true` or `false`.
    Bool,
    /// A finite number.
    Number,
    /// Text.
    String,
    /// A list of values.
    List,
    /// An instant in UTC.
    Timestamp,
}

impl ValueType {
    /// The type's name: `bool`, `number`, `string`, `list` or `timestamp`.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Bool => "bool",
            ValueType::Number => "number",
            ValueType::String => "string",
            ValueType::List => "list",
            ValueType::Timestamp => "timestamp",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A borrowed [`Value`]: what a condition reads from an event or a contact without
/// allocating. Typed fields (a stage key, an order amount) are read as one of these
/// directly, with no `Value` behind them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    /// `true` or `false`.
    Bool(bool),
    /// A finite number.
    Number(f64),
    /// Text.
    String(&'a str),
    /// A list of values.
    List(&'a [Value]),
    /// An instant in UTC.
    Timestamp(DateTime<Utc>),
}

impl ValueRef<'_> {
    /// The value's type.
    pub fn value_type(self) -> ValueType {
        match self {
            ValueRef::Bool(_) => ValueType::Bool,
            ValueRef::Number(_) => ValueType::Number,
            ValueRef::String(_) => ValueType::String,
            ValueRef::List(_) => ValueType::List,
            ValueRef::Timestamp(_) => ValueType::Timestamp,
        }
    }

    /// An owned copy.
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Bool(b) => Value::Bool(b),
            ValueRef::Number(n) => Value::Number(n),
            ValueRef::String(s) => Value::String(s.to_owned()),
            ValueRef::List(items) => Value::List(items.to_vec()),
            ValueRef::Timestamp(at) => Value::Timestamp { timestamp: at },
        }
    }
}

impl<'a> From<&'a Value> for ValueRef<'a> {
    fn from(value: &'a Value) -> Self {
        match value {
            Value::Bool(b) => ValueRef::Bool(*b),
            Value::Number(n) => ValueRef::Number(*n),
            Value::String(s) => ValueRef::String(s),
            Value::List(items) => ValueRef::List(items),
            Value::Timestamp { timestamp } => ValueRef::Timestamp(*timestamp),
        }
    }
}

impl Value {
    /// The value's type.
    pub fn value_type(&self) -> ValueType {
        ValueRef::from(self).value_type()
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
