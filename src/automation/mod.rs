//! Automations: rules as data that turn events into moves and external effects.
//!
//! - [`event`]: what happened to a contact ([`Event`]), with typed fields and
//!   properties.
//! - [`condition`]: the condition language — `all` / `any` / `not` trees of typed
//!   comparisons with a verdict that says when a field is missing. It evaluates
//!   against any [`FieldSource`], a [`Contact`](crate::Contact) alone included, so
//!   segments over contact attributes use it too.
//! - [`rule`]: a [`Rule`] — trigger, scope, conditions, outcomes — in a documented
//!   JSON shape.
//! - [`ruleset`]: [`Automations`], a rule set checked on load (coded errors naming the
//!   rule and the JSON pointer of the offending field) and indexed by trigger.
//! - [`evaluate`]: the pure evaluator — [`Automations::evaluate`] plans the outcomes
//!   of an event, each through [`decide`](crate::decide), with cascades;
//!   [`Automations::explain`] is the dry run with every rule's verdict.
//!
//! The engine runs the same evaluator end to end:
//! `JourneyEngine::process_event` loads the contact's state, evaluates, stores the
//! moves and attribute changes in one commit under the event's idempotency key, and
//! returns the external effects with the explanation.
//!
//! ```
//! use journeys::automation::{Automations, ContactState, Event, EventKind, Rule};
//! use journeys::{Contact, Journey, SequencePolicy, Stage};
//! let referral = Journey::new("referral", "Referral", SequencePolicy::RequiresSequence,
//!     [Stage::new("lead", "Lead")?, Stage::new("demo", "Demo")?])?;
//! let rules: Vec<Rule> = serde_json::from_str(r#"[{
//!     "id": "referred-is-lead", "name": "A referred contact is a lead",
//!     "trigger": {"event": "referral_attributed"},
//!     "outcomes": [{"action": "enter_journey", "journey": "referral"},
//!                  {"action": "send_email", "template": "welcome"}]
//! }]"#)?;
//! let automations = Automations::new(rules, [referral])?;
//! let at = "2026-03-01T09:00:00Z".parse()?;
//! let event = Event::new("e1".parse()?, "ada".parse()?, at, EventKind::ReferralAttributed {
//!     advocate: "bob".parse()?, campaign: "spring".parse()?,
//! });
//! let planned = automations.evaluate(&event, &ContactState::new(Contact::new("ada".parse()?)), at);
//! assert_eq!(planned.transitions().next().map(|t| t.to.as_str()), Some("lead"));
//! assert_eq!(planned.effects().count(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod condition;
pub mod evaluate;
pub mod event;
pub mod rule;
pub mod ruleset;

pub use condition::{CompiledCondition, Condition, Field, FieldSource, Op, Verdict};
pub use evaluate::{
    CascadeStop, Changes, ContactState, Evaluation, Explanation, ExternalEffect, Facts, Firing,
    OutcomeReport, OutcomeResult, RuleExplanation, event_key,
};
pub use event::{Event, EventKind, EventType};
pub use rule::{EffectKind, Outcome, Rule, Scope, Trigger};
pub use ruleset::{Automations, DEFAULT_CASCADE_DEPTH};
