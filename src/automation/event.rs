//! Events: what happened to a contact, the input of automations.
//!
//! An event has an id, the contact it is about, when it happened, a built-in kind with
//! its typed fields (an order's amount, a journey's new stage) and free-form typed
//! properties. Conditions read both as `event.<name>` fields.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::model::contact::EnrollmentStatus;
use crate::model::ids::{
    AttributeKey, CampaignId, ContactId, CurrencyCode, EventId, EventName, JourneyId, OrderId, PipelineId,
    PropertyKey, SegmentKey, StageKey,
};
use crate::model::value::{Value, ValueRef, ValueType};

/// An event about one contact.
///
/// In JSON the kind and its fields sit beside the common fields:
///
/// ```
/// use journeys::automation::{Event, EventType};
/// let order: Event = serde_json::from_str(r#"{
///     "id": "evt-1", "contact": "ada", "occurred_at": "2026-03-01T09:00:00Z",
///     "kind": "order_created", "order": "o-17", "amount": 129.0, "currency": "EUR",
///     "properties": {"coupon": "SPRING"}
/// }"#)?;
/// assert_eq!(order.event_type(), EventType::OrderCreated);
/// assert_eq!(order.field("amount"), Some(journeys::ValueRef::Number(129.0)));
/// assert_eq!(order.field("coupon"), Some(journeys::ValueRef::String("SPRING")));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The event's id; processing the same id twice for a contact does nothing new.
    pub id: EventId,
    /// Whom the event is about.
    pub contact: ContactId,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// What happened, with its typed fields.
    #[serde(flatten)]
    pub kind: EventKind,
    /// Further typed properties, by name. A property named like one of the kind's
    /// fields is hidden by that field.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<PropertyKey, Value>,
}

/// What happened: the built-in kinds and custom events by name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// The contact was created.
    ContactCreated,
    /// A contact attribute changed.
    ContactFieldChanged {
        /// The attribute.
        field: AttributeKey,
        /// The value before (`None`: unset).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<Value>,
        /// The value after (`None`: removed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<Value>,
    },
    /// The contact was added to a segment.
    AddedToSegment {
        /// The segment.
        segment: SegmentKey,
    },
    /// The contact's enrollment status changed.
    EnrollmentStatusChanged {
        /// The status before (`None`: a new contact).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<EnrollmentStatus>,
        /// The status after.
        to: EnrollmentStatus,
    },
    /// The contact placed an order.
    OrderCreated {
        /// The order's id.
        order: OrderId,
        /// Its amount, a finite number.
        #[serde(deserialize_with = "finite")]
        amount: f64,
        /// Its currency.
        currency: CurrencyCode,
        /// The campaign it is attributed to, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        campaign: Option<CampaignId>,
    },
    /// A deal of the contact changed stage in a sales pipeline.
    DealStageChanged {
        /// The pipeline.
        pipeline: PipelineId,
        /// The stage before (`None`: a new deal).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<StageKey>,
        /// The stage after.
        to: StageKey,
    },
    /// The contact moved in a journey (automations emit these for their own moves).
    JourneyStageChanged {
        /// The journey.
        journey: JourneyId,
        /// The stage before (`None`: entered the journey).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<StageKey>,
        /// The stage after.
        to: StageKey,
    },
    /// The contact was referred by an advocate.
    ReferralAttributed {
        /// The advocate who referred the contact.
        advocate: ContactId,
        /// The referral campaign.
        campaign: CampaignId,
    },
    /// A host-defined event.
    Custom {
        /// Its name, such as `demo_booked`.
        name: EventName,
    },
}

fn finite<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    let n = f64::deserialize(deserializer)?;
    Value::number(n).map(|_| n).map_err(serde::de::Error::custom)
}

/// The kind of an event without its fields: what a rule's trigger names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventType {
    /// [`EventKind::ContactCreated`].
    ContactCreated,
    /// [`EventKind::ContactFieldChanged`].
    ContactFieldChanged,
    /// [`EventKind::AddedToSegment`].
    AddedToSegment,
    /// [`EventKind::EnrollmentStatusChanged`].
    EnrollmentStatusChanged,
    /// [`EventKind::OrderCreated`].
    OrderCreated,
    /// [`EventKind::DealStageChanged`].
    DealStageChanged,
    /// [`EventKind::JourneyStageChanged`].
    JourneyStageChanged,
    /// [`EventKind::ReferralAttributed`].
    ReferralAttributed,
    /// [`EventKind::Custom`].
    Custom,
}

/// A field every event has, whatever its kind.
const COMMON_FIELDS: [(&str, FieldType); 2] =
    [("kind", FieldType::Known(ValueType::String)), ("occurred_at", FieldType::Known(ValueType::Timestamp))];

/// What a condition can know about an event field before it sees an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// A built-in field of this type.
    Known(ValueType),
    /// A built-in field that may hold any type (a changed attribute's value).
    Any,
    /// Not a built-in field: a free-form property, typed only when read.
    Property,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 9] = [
        EventType::ContactCreated,
        EventType::ContactFieldChanged,
        EventType::AddedToSegment,
        EventType::EnrollmentStatusChanged,
        EventType::OrderCreated,
        EventType::DealStageChanged,
        EventType::JourneyStageChanged,
        EventType::ReferralAttributed,
        EventType::Custom,
    ];

    /// The type's key, as written in JSON: `order_created`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ContactCreated => "contact_created",
            EventType::ContactFieldChanged => "contact_field_changed",
            EventType::AddedToSegment => "added_to_segment",
            EventType::EnrollmentStatusChanged => "enrollment_status_changed",
            EventType::OrderCreated => "order_created",
            EventType::DealStageChanged => "deal_stage_changed",
            EventType::JourneyStageChanged => "journey_stage_changed",
            EventType::ReferralAttributed => "referral_attributed",
            EventType::Custom => "custom",
        }
    }

    /// The built-in fields of this type with their types (besides `kind` and
    /// `occurred_at`, which every event has).
    pub fn fields(self) -> &'static [(&'static str, FieldType)] {
        use FieldType::{Any, Known};
        use ValueType::{Number, String};
        match self {
            EventType::ContactCreated => &[],
            EventType::ContactFieldChanged => &[("field", Known(String)), ("from", Any), ("to", Any)],
            EventType::AddedToSegment => &[("segment", Known(String))],
            EventType::EnrollmentStatusChanged => &[("from", Known(String)), ("to", Known(String))],
            EventType::OrderCreated => &[
                ("order", Known(String)),
                ("amount", Known(Number)),
                ("currency", Known(String)),
                ("campaign", Known(String)),
            ],
            EventType::DealStageChanged => {
                &[("pipeline", Known(String)), ("from", Known(String)), ("to", Known(String))]
            }
            EventType::JourneyStageChanged => {
                &[("journey", Known(String)), ("from", Known(String)), ("to", Known(String))]
            }
            EventType::ReferralAttributed => &[("advocate", Known(String)), ("campaign", Known(String))],
            EventType::Custom => &[("name", Known(String))],
        }
    }

    /// What is known of field `name` of events of this type.
    pub fn field_type(self, name: &str) -> FieldType {
        COMMON_FIELDS
            .iter()
            .chain(self.fields())
            .find(|(field, _)| *field == name)
            .map_or(FieldType::Property, |(_, ty)| *ty)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl EventKind {
    /// The kind without its fields.
    pub fn event_type(&self) -> EventType {
        match self {
            EventKind::ContactCreated => EventType::ContactCreated,
            EventKind::ContactFieldChanged { .. } => EventType::ContactFieldChanged,
            EventKind::AddedToSegment { .. } => EventType::AddedToSegment,
            EventKind::EnrollmentStatusChanged { .. } => EventType::EnrollmentStatusChanged,
            EventKind::OrderCreated { .. } => EventType::OrderCreated,
            EventKind::DealStageChanged { .. } => EventType::DealStageChanged,
            EventKind::JourneyStageChanged { .. } => EventType::JourneyStageChanged,
            EventKind::ReferralAttributed { .. } => EventType::ReferralAttributed,
            EventKind::Custom { .. } => EventType::Custom,
        }
    }

    /// The built-in field `name` of this kind; `None` if the kind has no such field
    /// or it is unset.
    fn field(&self, name: &str) -> Option<Option<ValueRef<'_>>> {
        fn text(s: &str) -> Option<ValueRef<'_>> {
            Some(ValueRef::String(s))
        }
        fn stage(s: &Option<StageKey>) -> Option<ValueRef<'_>> {
            s.as_ref().map(|stage| ValueRef::String(stage.as_str()))
        }
        // By kind first, so a name is compared only with the kind's own fields.
        Some(match self {
            EventKind::ContactCreated => return None,
            EventKind::ContactFieldChanged { field, from, to } => match name {
                "field" => text(field.as_str()),
                "from" => from.as_ref().map(ValueRef::from),
                "to" => to.as_ref().map(ValueRef::from),
                _ => return None,
            },
            EventKind::AddedToSegment { segment } => match name {
                "segment" => text(segment.as_str()),
                _ => return None,
            },
            EventKind::EnrollmentStatusChanged { from, to } => match name {
                "from" => from.map(|status| ValueRef::String(status.as_str())),
                "to" => text(to.as_str()),
                _ => return None,
            },
            EventKind::OrderCreated { order, amount, currency, campaign } => match name {
                "order" => text(order.as_str()),
                "amount" => Some(ValueRef::Number(*amount)),
                "currency" => text(currency.as_str()),
                "campaign" => campaign.as_ref().map(|c| ValueRef::String(c.as_str())),
                _ => return None,
            },
            EventKind::DealStageChanged { pipeline, from, to } => match name {
                "pipeline" => text(pipeline.as_str()),
                "from" => stage(from),
                "to" => text(to.as_str()),
                _ => return None,
            },
            EventKind::JourneyStageChanged { journey, from, to } => match name {
                "journey" => text(journey.as_str()),
                "from" => stage(from),
                "to" => text(to.as_str()),
                _ => return None,
            },
            EventKind::ReferralAttributed { advocate, campaign } => match name {
                "advocate" => text(advocate.as_str()),
                "campaign" => text(campaign.as_str()),
                _ => return None,
            },
            EventKind::Custom { name: event } => match name {
                "name" => text(event.as_str()),
                _ => return None,
            },
        })
    }
}

impl Event {
    /// An event with no properties.
    pub fn new(id: EventId, contact: ContactId, occurred_at: DateTime<Utc>, kind: EventKind) -> Self {
        Event { id, contact, occurred_at, kind, properties: BTreeMap::new() }
    }

    /// The same event with a property set.
    #[must_use]
    pub fn with_property(mut self, key: PropertyKey, value: Value) -> Self {
        self.properties.insert(key, value);
        self
    }

    /// The event's type.
    pub fn event_type(&self) -> EventType {
        self.kind.event_type()
    }

    /// The field `name`: `kind`, `occurred_at`, a built-in field of the kind, or else
    /// a property. `None` when absent.
    pub fn field(&self, name: &str) -> Option<ValueRef<'_>> {
        match name {
            "kind" => Some(ValueRef::String(self.event_type().as_str())),
            "occurred_at" => Some(ValueRef::Timestamp(self.occurred_at)),
            _ => match self.kind.field(name) {
                Some(builtin) => builtin,
                None => self.properties.get(name).map(ValueRef::from),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        "2026-03-01T09:00:00Z".parse().unwrap()
    }

    #[test]
    fn built_in_fields_hide_properties_and_unset_ones_are_absent() {
        let moved = Event::new(
            "e1".parse().unwrap(),
            "ada".parse().unwrap(),
            at(),
            EventKind::JourneyStageChanged {
                journey: "referral".parse().unwrap(),
                from: None,
                to: "lead".parse().unwrap(),
            },
        )
        .with_property("to".parse().unwrap(), Value::from("shadowed"))
        .with_property("from".parse().unwrap(), Value::from("shadowed"))
        .with_property("channel".parse().unwrap(), Value::from("email"));
        assert_eq!(moved.field("to"), Some(ValueRef::String("lead")));
        assert_eq!(moved.field("from"), None, "an unset built-in field is absent");
        assert_eq!(moved.field("channel"), Some(ValueRef::String("email")));
        assert_eq!(moved.field("kind"), Some(ValueRef::String("journey_stage_changed")));
        assert_eq!(moved.field("nothing"), None);
    }

    #[test]
    fn every_declared_field_is_readable_and_typed_as_declared() {
        let kinds = [
            EventKind::ContactCreated,
            EventKind::ContactFieldChanged {
                field: "plan".parse().unwrap(),
                from: Some(Value::from("free")),
                to: Some(Value::Bool(true)),
            },
            EventKind::AddedToSegment { segment: "smb".parse().unwrap() },
            EventKind::EnrollmentStatusChanged {
                from: Some(EnrollmentStatus::Pending),
                to: EnrollmentStatus::Enrolled,
            },
            EventKind::OrderCreated {
                order: "o1".parse().unwrap(),
                amount: 12.5,
                currency: "EUR".parse().unwrap(),
                campaign: Some("spring".parse().unwrap()),
            },
            EventKind::DealStageChanged {
                pipeline: "sales".parse().unwrap(),
                from: Some("open".parse().unwrap()),
                to: "lost".parse().unwrap(),
            },
            EventKind::JourneyStageChanged {
                journey: "referral".parse().unwrap(),
                from: Some("lead".parse().unwrap()),
                to: "trial".parse().unwrap(),
            },
            EventKind::ReferralAttributed {
                advocate: "bob".parse().unwrap(),
                campaign: "spring".parse().unwrap(),
            },
            EventKind::Custom { name: "demo_booked".parse().unwrap() },
        ];
        assert_eq!(kinds.len(), EventType::ALL.len());
        for (kind, ty) in kinds.into_iter().zip(EventType::ALL) {
            let event = Event::new("e".parse().unwrap(), "ada".parse().unwrap(), at(), kind);
            assert_eq!(event.event_type(), ty);
            for (name, field_type) in COMMON_FIELDS.iter().chain(ty.fields()) {
                let read = event.field(name).unwrap_or_else(|| panic!("{ty}.{name} unreadable"));
                if let FieldType::Known(expected) = field_type {
                    assert_eq!(read.value_type(), *expected, "{ty}.{name}");
                }
            }
            let json = serde_json::to_string(&event).unwrap();
            assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event, "{json}");
        }
    }

    #[test]
    fn a_non_finite_amount_or_unknown_kind_is_refused() {
        let bad = r#"{"id":"e","contact":"ada","occurred_at":"2026-03-01T09:00:00Z",
            "kind":"order_created","order":"o","amount":1e999,"currency":"EUR"}"#;
        assert!(serde_json::from_str::<Event>(bad).is_err());
        let unknown =
            r#"{"id":"e","contact":"ada","occurred_at":"2026-03-01T09:00:00Z","kind":"teleported"}"#;
        assert!(serde_json::from_str::<Event>(unknown).is_err());
    }
}
