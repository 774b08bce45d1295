//! What the automation tests share: journeys, a contact state, events and rules
//! written as JSON.
#![allow(dead_code, reason = "each test file uses a different part")]
#![allow(clippy::expect_used, reason = "a test fails by panicking")]

use chrono::{DateTime, Duration, Utc};
use journeys::automation::{Automations, ContactState, Event, EventKind, Rule};
use journeys::{Contact, Journey, MembershipState, SequencePolicy, Stage};

#[path = "../support/mod.rs"]
mod support;

pub(crate) use support::{id, referral};

pub(crate) fn t0() -> DateTime<Utc> {
    id("2026-03-01T09:00:00Z")
}

/// An any-order journey with stages `a`, `b` and `c`.
pub(crate) fn free() -> Journey {
    Journey::new(
        "free",
        "Free",
        SequencePolicy::AnyOrder,
        ["a", "b", "c"].map(|key| Stage::new(key, key).expect("a stage")),
    )
    .expect("a valid journey")
}

pub(crate) fn journeys() -> [Journey; 2] {
    [referral(), free()]
}

/// Rules from a JSON array.
pub(crate) fn rules(json: &str) -> Vec<Rule> {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

/// A rule set from a JSON array over the test journeys.
pub(crate) fn automations(json: &str) -> Automations {
    Automations::new(rules(json), journeys()).unwrap_or_else(|e| panic!("{e}: {json}"))
}

/// Ada, a member of no journey.
pub(crate) fn ada() -> ContactState {
    ContactState::new(Contact::new(id("ada")))
}

/// Ada in `stage` of `journey` since an hour before t0.
pub(crate) fn ada_in(journey: &str, stage: &str) -> ContactState {
    ada().with_membership(MembershipState {
        contact: id("ada"),
        journey: id(journey),
        stage: id(stage),
        version: 1,
        since: t0() - Duration::hours(1),
    })
}

/// An event about Ada at t0.
pub(crate) fn event(kind: EventKind) -> Event {
    Event::new(id("evt-1"), id("ada"), t0(), kind)
}

/// An event from JSON, with id, contact and time filled in.
pub(crate) fn event_json(kind_and_fields: &str) -> Event {
    let json = format!(
        r#"{{"id": "evt-1", "contact": "ada", "occurred_at": "2026-03-01T09:00:00Z", {kind_and_fields}}}"#
    );
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}
