//! Automations: rules as data that turn events into moves and external effects.
//!
//! - [`event`]: what happened to a contact ([`Event`]), with typed fields and
//!   properties.
//! - [`condition`]: the condition language — `all` / `any` / `not` trees of typed
//!   comparisons with a verdict that says when a field is missing. It evaluates
//!   against any [`FieldSource`], a [`Contact`](crate::Contact)
//!   alone included, so segments over contact attributes use it too.

pub mod condition;
pub mod event;

pub use condition::{CompiledCondition, Condition, Field, FieldSource, Op, Verdict};
pub use event::{Event, EventKind, EventType};
