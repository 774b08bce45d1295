//! Touchpoints: the append-only record of each interaction a contact has, on any
//! channel, whether or not it moved them.
//!
//! A [`Transition`](crate::Transition) says *where* a contact is; touchpoints say *how*
//! they got there. Journey maps (`crate::journey_map`) join the two.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{
    ChannelKey, ContactId, DepartmentKey, DeviceKey, InteractionKey, JourneyId, OutcomeKey, StageKey,
    TouchpointId,
};
use crate::error::DomainError;

/// How a contact felt about an interaction: a finite number from −1.0 (negative) to
/// 1.0 (positive). Checked on construction and on deserialization.
///
/// ```
/// use journeys::Sentiment;
/// assert_eq!(Sentiment::new(0.5)?.get(), 0.5);
/// assert_eq!(Sentiment::new(1.5).unwrap_err().code(), "invalid_value");
/// assert!(serde_json::from_str::<Sentiment>("-2").is_err());
/// # Ok::<(), journeys::DomainError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Sentiment(f64);

impl Sentiment {
    /// The most negative sentiment.
    pub const MIN: f64 = -1.0;
    /// The most positive sentiment.
    pub const MAX: f64 = 1.0;

    /// Checks `value` and wraps it.
    ///
    /// # Errors
    /// [`DomainError::InvalidValue`] when `value` is NaN, infinite or outside −1..=1.
    pub fn new(value: f64) -> Result<Self, DomainError> {
        if (Self::MIN..=Self::MAX).contains(&value) {
            Ok(Sentiment(value))
        } else {
            Err(DomainError::InvalidValue {
                field: "sentiment",
                value: value.to_string(),
                reason: "must be a finite number from -1 to 1",
            })
        }
    }

    /// The number.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Sentiment {
    type Error = DomainError;
    fn try_from(value: f64) -> Result<Self, DomainError> {
        Sentiment::new(value)
    }
}

impl From<Sentiment> for f64 {
    fn from(s: Sentiment) -> f64 {
        s.0
    }
}

impl fmt::Display for Sentiment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The journey and stage a host says a touchpoint belongs to: both or neither.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StageLink {
    /// The journey.
    pub journey: JourneyId,
    /// The stage of that journey.
    pub stage: StageKey,
}

/// One interaction of one contact: where (channel, device, department), what
/// (interaction type), with what result (outcome) and feeling (sentiment).
///
/// Every field is a validated type, so a touchpoint is valid on construction and on
/// deserialization: keys are non-empty bounded slugs, the id is bounded text, the
/// sentiment is finite and within −1..=1.
///
/// ```
/// use journeys::{Sentiment, Touchpoint};
/// let at = "2026-01-05T13:04:11Z".parse()?;
/// let tp = Touchpoint::new("tp-1".parse()?, "ada".parse()?, at, "social".parse()?, "repost".parse()?)
///     .with_device("mobile".parse()?)
///     .with_outcome("new_follower".parse()?)
///     .with_sentiment(Sentiment::new(0.8)?);
/// let json = serde_json::to_string(&tp)?;
/// assert_eq!(serde_json::from_str::<Touchpoint>(&json)?, tp);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Touchpoint {
    /// The touchpoint's id; appending it again is a no-op.
    pub id: TouchpointId,
    /// Who interacted.
    pub contact: ContactId,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// On which channel, such as `website`, `email`, `social` or `store`.
    pub channel: ChannelKey,
    /// On which device, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceKey>,
    /// With which department, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<DepartmentKey>,
    /// What kind of interaction, such as `search`, `listen`, `call` or `purchase`.
    pub interaction: InteractionKey,
    /// What came of it, such as `continued_interest` or `referred_a_friend`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<OutcomeKey>,
    /// How the contact felt, if measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<Sentiment>,
    /// The journey and stage the host links it to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<StageLink>,
}

impl Touchpoint {
    /// A touchpoint with no device, department, outcome, sentiment or stage link.
    pub fn new(
        id: TouchpointId,
        contact: ContactId,
        occurred_at: DateTime<Utc>,
        channel: ChannelKey,
        interaction: InteractionKey,
    ) -> Self {
        Touchpoint {
            id,
            contact,
            occurred_at,
            channel,
            device: None,
            department: None,
            interaction,
            outcome: None,
            sentiment: None,
            stage: None,
        }
    }

    /// The same touchpoint on `device`.
    #[must_use]
    pub fn with_device(mut self, device: DeviceKey) -> Self {
        self.device = Some(device);
        self
    }

    /// The same touchpoint with `department`.
    #[must_use]
    pub fn with_department(mut self, department: DepartmentKey) -> Self {
        self.department = Some(department);
        self
    }

    /// The same touchpoint with `outcome`.
    #[must_use]
    pub fn with_outcome(mut self, outcome: OutcomeKey) -> Self {
        self.outcome = Some(outcome);
        self
    }

    /// The same touchpoint with `sentiment`.
    #[must_use]
    pub fn with_sentiment(mut self, sentiment: Sentiment) -> Self {
        self.sentiment = Some(sentiment);
        self
    }

    /// The same touchpoint linked to a journey's stage.
    #[must_use]
    pub fn in_stage(mut self, journey: JourneyId, stage: StageKey) -> Self {
        self.stage = Some(StageLink { journey, stage });
        self
    }

    /// Where it sits in the time-ordered touchpoint log.
    pub fn position(&self) -> TouchpointPosition {
        TouchpointPosition { occurred_at: self.occurred_at, id: self.id.clone() }
    }
}

/// A position in the time-ordered touchpoint log: touchpoints are ordered by
/// `(occurred_at, id)`, which is unique.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TouchpointPosition {
    /// When the touchpoint happened.
    pub occurred_at: DateTime<Utc>,
    /// Its id.
    pub id: TouchpointId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentiment_refuses_non_finite_and_out_of_range_values() {
        for bad in [f64::NAN, f64::INFINITY, -1.000_001, 1.000_001] {
            assert!(Sentiment::new(bad).is_err(), "{bad} accepted");
        }
        for good in [-1.0, 0.0, 1.0] {
            assert_eq!(Sentiment::new(good).unwrap().get(), good);
        }
    }

    #[test]
    fn deserializing_checks_every_field() {
        let base = r#"{"id":"t1","contact":"ada","occurred_at":"2026-01-05T09:00:00Z","channel":"email","interaction":"open""#;
        let ok: Touchpoint = serde_json::from_str(&format!("{base}}}")).unwrap();
        assert_eq!(ok.channel, "email");
        for bad in [
            r#","sentiment":1.5}"#,
            r#","device":"Mobile Phone"}"#,
            r#","outcome":""}"#,
            r#","stage":{"journey":"referral"}}"#,
        ] {
            assert!(serde_json::from_str::<Touchpoint>(&format!("{base}{bad}")).is_err(), "{bad} accepted");
        }
        let bad_channel = base.replace("email", "E Mail");
        assert!(serde_json::from_str::<Touchpoint>(&format!("{bad_channel}}}")).is_err());
    }
}
