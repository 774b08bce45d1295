//! Rules as data: a trigger, conditions and outcomes, in a JSON shape hosts store and
//! edit in their own UI.
//!
//! ```
//! use journeys::automation::Rule;
//! let rule: Rule = serde_json::from_str(r#"{
//!     "id": "big-order-converts",
//!     "name": "An order over 100 converts a trial",
//!     "priority": 10,
//!     "scope": {"enrolled_in": "referral"},
//!     "trigger": {"event": "order_created", "currency": "EUR"},
//!     "conditions": {"all": [
//!         {"field": "event.amount", "op": "gt", "value": 100},
//!         {"field": "stage.referral", "op": "eq", "value": "trial"}
//!     ]},
//!     "outcomes": [
//!         {"action": "move_to_stage", "journey": "referral", "stage": "conversion"},
//!         {"action": "create_reward", "reward": "referral-bonus", "data": {"amount": 20}}
//!     ]
//! }"#)?;
//! assert!(rule.enabled, "rules are enabled unless they say otherwise");
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! ## JSON shape
//!
//! | field | meaning |
//! |---|---|
//! | `id` | the rule's id, a slug, unique in its rule set |
//! | `name` | a display name |
//! | `enabled` | optional, default `true`; a disabled rule is never evaluated |
//! | `priority` | optional integer, default `0`; higher runs first, ties by `id` |
//! | `scope` | optional: `"global"` (default), `{"segment": condition}` (contacts whose fields meet the condition), `{"in_segment": name}` (contacts in a named segment given to `Automations::with_segments`) or `{"enrolled_in": journey}` (members of a journey) |
//! | `trigger` | `{"event": type, …filters}`: the [`EventType`] and optional equality filters on the event's fields, e.g. `"to": "trial"` |
//! | `conditions` | optional [`Condition`] over `event.*`, `contact.*`, `enrollment` and `stage.*` |
//! | `outcomes` | one or more [`Outcome`]s, applied in order |

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::condition::Condition;
use super::event::EventType;
use crate::model::contact::EnrollmentStatus;
use crate::model::ids::{AttributeKey, EffectKey, JourneyId, Name, PropertyKey, RuleId, StageKey};
use crate::model::value::Value;

/// An automation rule: when an event of the trigger's type arrives for a contact in
/// scope and the conditions hold, apply the outcomes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The rule's id, unique in its rule set.
    pub id: RuleId,
    /// A display name.
    pub name: Name,
    /// Whether the rule is evaluated at all.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Higher priorities run first; equal priorities run in rule id order.
    #[serde(default)]
    pub priority: i32,
    /// Which contacts the rule applies to.
    #[serde(default)]
    pub scope: Scope,
    /// The event that sets the rule off.
    pub trigger: Trigger,
    /// What must hold besides the trigger (`None`: nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Condition>,
    /// What the rule does, in order.
    pub outcomes: Vec<Outcome>,
}

fn enabled() -> bool {
    true
}

/// Which contacts a rule applies to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every contact.
    #[default]
    Global,
    /// Contacts whose fields meet a condition (a segment defined inline).
    Segment(Condition),
    /// Members of a journey (contacts enrolled in a campaign).
    EnrolledIn(JourneyId),
    /// Contacts in the named [`Segment`](crate::segment::Segment), one of those given
    /// to [`Automations::with_segments`](crate::automation::Automations::with_segments):
    /// a segment defined once and shared by rules and dashboards.
    InSegment(Name),
}

/// The event that sets a rule off: its type and equality filters on its fields.
///
/// In JSON the filters sit beside the type: `{"event": "journey_stage_changed",
/// "journey": "referral", "to": "trial"}`; a custom event is named by the `name`
/// filter: `{"event": "custom", "name": "demo_booked"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// The event type.
    pub event: EventType,
    /// Fields of the event that must equal these values.
    #[serde(flatten)]
    pub filters: BTreeMap<PropertyKey, Value>,
}

impl Trigger {
    /// A trigger on every event of type `event`.
    pub fn on(event: EventType) -> Self {
        Trigger { event, filters: BTreeMap::new() }
    }

    /// The same trigger with one more filter.
    #[must_use]
    pub fn with(mut self, field: PropertyKey, value: Value) -> Self {
        self.filters.insert(field, value);
        self
    }
}

/// What a rule does.
///
/// State outcomes change the contact and go through sequencing like every other
/// move; external effects are returned to the host as data, with a dedupe key, and
/// never performed by the crate.
///
/// In JSON: `{"action": "move_to_stage", "journey": "referral", "stage": "lead"}`,
/// `{"action": "enter_journey", "journey": "onboarding"}`, `{"action":
/// "set_enrollment_status", "status": "enrolled"}`, `{"action": "set_attribute",
/// "attribute": "plan", "value": "gold"}`, `{"action": "send_email", "template":
/// "welcome"}`, `{"action": "create_reward", "reward": "bonus"}`, `{"action":
/// "approve_reward", "reward": "bonus"}`, `{"action": "call_webhook", "webhook":
/// "crm-sync"}`; effects take optional `"data": {…}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Outcome {
    /// Move the contact to a stage of a journey.
    MoveToStage {
        /// The journey (never the system journey).
        journey: JourneyId,
        /// The stage.
        stage: StageKey,
    },
    /// Enter the contact into a journey at its first stage.
    EnterJourney {
        /// The journey (never the system journey).
        journey: JourneyId,
    },
    /// Set the contact's enrollment status (which moves the Advocate Enrollment
    /// journey).
    SetEnrollmentStatus {
        /// The new status.
        status: EnrollmentStatus,
    },
    /// Set a contact attribute.
    SetAttribute {
        /// The attribute.
        attribute: AttributeKey,
        /// Its new value.
        value: Value,
    },
    /// Ask the host to send an e-mail.
    SendEmail {
        /// The template.
        template: EffectKey,
        /// Data for the host.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        data: BTreeMap<PropertyKey, Value>,
    },
    /// Ask the host to create a reward.
    CreateReward {
        /// The reward kind.
        reward: EffectKey,
        /// Data for the host.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        data: BTreeMap<PropertyKey, Value>,
    },
    /// Ask the host to approve a reward.
    ApproveReward {
        /// The reward kind.
        reward: EffectKey,
        /// Data for the host.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        data: BTreeMap<PropertyKey, Value>,
    },
    /// Ask the host to call a webhook.
    CallWebhook {
        /// The webhook.
        webhook: EffectKey,
        /// Data for the host.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        data: BTreeMap<PropertyKey, Value>,
    },
}

/// The kind of an external effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectKind {
    /// Send an e-mail.
    SendEmail,
    /// Create a reward.
    CreateReward,
    /// Approve a reward.
    ApproveReward,
    /// Call a webhook.
    CallWebhook,
}

impl EffectKind {
    /// The kind as written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            EffectKind::SendEmail => "send_email",
            EffectKind::CreateReward => "create_reward",
            EffectKind::ApproveReward => "approve_reward",
            EffectKind::CallWebhook => "call_webhook",
        }
    }
}

impl fmt::Display for EffectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Outcome {
    /// The outcome's action as written in JSON.
    pub fn action(&self) -> &'static str {
        match self {
            Outcome::MoveToStage { .. } => "move_to_stage",
            Outcome::EnterJourney { .. } => "enter_journey",
            Outcome::SetEnrollmentStatus { .. } => "set_enrollment_status",
            Outcome::SetAttribute { .. } => "set_attribute",
            Outcome::SendEmail { .. } => EffectKind::SendEmail.as_str(),
            Outcome::CreateReward { .. } => EffectKind::CreateReward.as_str(),
            Outcome::ApproveReward { .. } => EffectKind::ApproveReward.as_str(),
            Outcome::CallWebhook { .. } => EffectKind::CallWebhook.as_str(),
        }
    }

    /// The external effect this outcome asks for, if it is one: its kind, key and data.
    pub fn effect(&self) -> Option<(EffectKind, &EffectKey, &BTreeMap<PropertyKey, Value>)> {
        match self {
            Outcome::SendEmail { template, data } => Some((EffectKind::SendEmail, template, data)),
            Outcome::CreateReward { reward, data } => Some((EffectKind::CreateReward, reward, data)),
            Outcome::ApproveReward { reward, data } => Some((EffectKind::ApproveReward, reward, data)),
            Outcome::CallWebhook { webhook, data } => Some((EffectKind::CallWebhook, webhook, data)),
            Outcome::MoveToStage { .. }
            | Outcome::EnterJourney { .. }
            | Outcome::SetEnrollmentStatus { .. }
            | Outcome::SetAttribute { .. } => None,
        }
    }
}
