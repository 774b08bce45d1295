//! Validated identifiers.
//!
//! Every identifier is a cheap-to-clone shared string behind one pointer
//! ([`ArcStr`], 8 bytes, its count, length and text in one allocation): a transition
//! names its contact, journey and stages, and the hot paths clone them often; a thin
//! pointer keeps a stored transition in fewer cache lines than a fat one (`Arc<str>`,
//! 16 bytes) would, and reading an id's text is one memory access, not two as behind
//! `Arc<Box<str>>`. Ids cloned from one another share their text, so equal addresses
//! settle most comparisons on the hot paths without reading the text.
//! Construction and deserialization both validate, so an invalid id is never
//! reachable.

use std::borrow::Borrow;
use std::fmt;

use arcstr::ArcStr;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// Longest accepted key or id, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Longest accepted display name, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// Longest accepted free-form note, in bytes.
pub const MAX_NOTE_LEN: usize = 2048;

/// How an identifier's text is checked.
#[derive(Clone, Copy)]
enum IdRule {
    /// Lower-case ASCII letters, digits, `_` and `-`: keys a human types in a rule.
    Slug,
    /// Any printable text without surrounding white space: ids from host systems,
    /// display names and notes.
    Opaque,
}

fn check(field: &'static str, value: &str, rule: IdRule, max: usize) -> Result<(), DomainError> {
    let problem = if value.is_empty() {
        Some("must not be empty")
    } else if value.len() > max {
        Some("is too long")
    } else {
        match rule {
            IdRule::Slug => (!value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'))
            .then_some("may hold only a-z, 0-9, '_' and '-'"),
            IdRule::Opaque => {
                if value.chars().any(char::is_control) {
                    Some("must not contain control characters")
                } else if value.trim() != value {
                    Some("must not start or end with white space")
                } else {
                    None
                }
            }
        }
    };
    match problem {
        Some(reason) => {
            Err(DomainError::InvalidId { field, value: value.chars().take(max + 16).collect(), reason })
        }
        None => Ok(()),
    }
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $field:literal, $rule:expr) => {
        identifier!($(#[$doc])* $name, $field, $rule, MAX_ID_LEN);
    };
    ($(#[$doc:meta])* $name:ident, $field:literal, $rule:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(ArcStr);

        impl $name {
            /// Validates `value` and wraps it.
            ///
            /// # Errors
            /// [`DomainError::InvalidId`] naming the field and the value when it is
            /// empty, too long or has characters not allowed.
            pub fn new(value: impl AsRef<str>) -> Result<Self, DomainError> {
                let value = value.as_ref();
                check($field, value, $rule, $max)?;
                Ok(Self(ArcStr::from(value)))
            }

            /// Checks `value` as [`new`](Self::new) does, without allocating: for
            /// readers that keep ids in their own compact form.
            ///
            /// # Errors
            /// As [`new`](Self::new).
            pub fn validate(value: &str) -> Result<(), DomainError> {
                check($field, value, $rule, $max)
            }

            /// The identifier's text.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(value: String) -> Result<Self, DomainError> {
                Self::new(value)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = DomainError;
            fn try_from(value: &str) -> Result<Self, DomainError> {
                Self::new(value)
            }
        }

        impl std::str::FromStr for $name {
            type Err = DomainError;
            fn from_str(value: &str) -> Result<Self, DomainError> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.to_string()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

identifier!(
    /// A journey's id, a slug such as `referral`.
    JourneyId, "journey", IdRule::Slug
);
identifier!(
    /// A stage's key within its journey, a slug such as `demo_complete`.
    StageKey, "stage", IdRule::Slug
);
identifier!(
    /// A contact's id as the host knows it, such as `c0000042` or an e-mail address.
    ContactId, "contact", IdRule::Opaque
);

impl ContactId {
    /// Whether `self` and `other` share one allocation (then they are equal), told
    /// from their pointers alone: reading no text or length, it waits for no memory.
    pub(crate) fn shares_text_with(&self, other: &ContactId) -> bool {
        ArcStr::ptr_eq(&self.0, &other.0)
    }
}
identifier!(
    /// An automation rule's id, a slug.
    RuleId, "rule", IdRule::Slug
);
identifier!(
    /// An import batch's id, chosen by the host (a file name, a UUID).
    BatchId, "batch", IdRule::Opaque
);
identifier!(
    /// The person or service account that made a manual move.
    ActorId, "actor", IdRule::Opaque
);
identifier!(
    /// A channel key such as `email`, `website` or `phone`; the host defines the set.
    ChannelKey, "channel", IdRule::Slug
);
identifier!(
    /// A caller-chosen key that makes a command safe to retry (rule 11).
    IdempotencyKey, "idempotency_key", IdRule::Opaque
);
identifier!(
    /// The name of a contact attribute, such as `segment` or `plan`.
    AttributeKey, "attribute", IdRule::Slug
);

identifier!(
    /// An interaction type such as `search`, `call` or `purchase`; the host defines the set.
    InteractionKey, "interaction", IdRule::Slug
);
identifier!(
    /// Why the system itself moved a contact, such as `enrollment_status`.
    ReasonKey, "reason", IdRule::Slug
);
// Touchpoints and referrals (journey maps).
identifier!(
    /// A touchpoint's id, chosen by the host (an event id, a UUID); makes appending it
    /// again safe.
    TouchpointId, "touchpoint", IdRule::Opaque
);
identifier!(
    /// A device key such as `mobile` or `desktop`; the host defines the set.
    DeviceKey, "device", IdRule::Slug
);
identifier!(
    /// A department key such as `sales` or `support`; the host defines the set.
    DepartmentKey, "department", IdRule::Slug
);
identifier!(
    /// A touchpoint's outcome such as `continued_interest`, `new_follower` or
    /// `referred_a_friend`; the host defines the set.
    OutcomeKey, "outcome", IdRule::Slug
);
identifier!(
    /// A referral campaign's id, a slug such as `spring-2026`.
    CampaignId, "campaign", IdRule::Slug
);
// Automations: events and what they name.
identifier!(
    /// An event's id, chosen by the host; with the contact it makes processing an
    /// event idempotent.
    EventId, "event", IdRule::Opaque
);
identifier!(
    /// The name of an event property or a custom event's field, such as `amount`.
    PropertyKey, "property", IdRule::Slug
);
identifier!(
    /// The name of a custom event, such as `demo_booked`.
    EventName, "event_name", IdRule::Slug
);
identifier!(
    /// A segment's key, such as `smb`.
    SegmentKey, "segment", IdRule::Slug
);
identifier!(
    /// An order's id in the host's shop.
    OrderId, "order", IdRule::Opaque
);
identifier!(
    /// A currency code such as `EUR`.
    CurrencyCode, "currency", IdRule::Opaque
);
identifier!(
    /// A sales pipeline's key, such as `enterprise`.
    PipelineId, "pipeline", IdRule::Slug
);
identifier!(
    /// The host's key for an external effect's subject: an e-mail template, a reward
    /// kind, a webhook.
    EffectKey, "effect_key", IdRule::Slug
);

identifier!(
    /// A human-readable name of a journey or stage.
    Name, "name", IdRule::Opaque, MAX_NAME_LEN
);
identifier!(
    /// A free-form note, such as the outcome of a touchpoint.
    Note, "note", IdRule::Opaque, MAX_NOTE_LEN
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_refuse_upper_case_and_spaces_naming_the_value() {
        let err = StageKey::new("Demo Complete").unwrap_err();
        assert_eq!(err.code(), "invalid_id");
        assert!(err.to_string().contains("Demo Complete"), "{err}");
        assert!(StageKey::new("demo_complete").is_ok());
    }

    #[test]
    fn opaque_ids_refuse_empty_padded_and_control_text() {
        for bad in ["", " c1", "c1 ", "c\n1"] {
            assert!(ContactId::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ContactId::new("ada@example.com").is_ok());
        assert!(ContactId::new("x".repeat(MAX_ID_LEN + 1)).is_err());
    }

    #[test]
    fn ids_hash_order_show_and_serialize_as_their_text() {
        use std::collections::{BTreeSet, HashSet};
        let ids: Vec<ContactId> = ["c2", "c10", "ada@example.com"].map(|t| t.parse().unwrap()).into();
        // Looked up by `&str` through `Borrow<str>`, with std's and the crate's hashers.
        let std_set: HashSet<ContactId> = ids.iter().cloned().collect();
        let fold_set: HashSet<ContactId, foldhash::fast::FixedState> = ids.iter().cloned().collect();
        for text in ["c2", "c10", "ada@example.com"] {
            assert!(std_set.contains(text) && fold_set.contains(text), "{text} not found");
        }
        assert!(!std_set.contains("c1"));
        let ordered: Vec<&str> =
            ids.iter().collect::<BTreeSet<_>>().into_iter().map(ContactId::as_str).collect();
        assert_eq!(ordered, ["ada@example.com", "c10", "c2"]);
        assert_eq!(
            (ids[1].to_string(), format!("{:?}", ids[1])),
            ("c10".to_owned(), "ContactId(\"c10\")".to_owned())
        );
        assert_eq!(serde_json::to_string(&ids[1]).unwrap(), "\"c10\"");
        // A copy made from the text equals the original.
        assert_eq!(ContactId::new(ids[2].as_str()).unwrap(), ids[2]);
    }

    #[test]
    fn deserializing_an_invalid_id_is_an_error() {
        let parsed: Result<JourneyId, _> = serde_json::from_str("\"Not A Slug\"");
        assert!(parsed.is_err());
        let ok: JourneyId = serde_json::from_str("\"referral\"").unwrap();
        assert_eq!(ok, "referral");
    }
}
