//! Automations through the engine: an event processed end to end in one commit,
//! idempotency by event id, and per-rule counters.

mod automation_support;

use std::sync::Arc;

use automation_support::{event_json, free, id, referral, rules, t0};
use journeys::automation::Event;
use journeys::{
    Contact, EnrollmentStatus, InMemoryRepository, JourneyEngine, ManualClock, Repository, RuleCounters,
    Value,
};

type Engine = JourneyEngine<InMemoryRepository, Arc<ManualClock>>;

const PIPELINE: &str = r#"[
    {"id": "referred", "name": "Referred → Lead", "trigger": {"event": "referral_attributed"},
     "outcomes": [{"action": "enter_journey", "journey": "referral"},
                  {"action": "set_attribute", "attribute": "referred", "value": true},
                  {"action": "send_email", "template": "welcome"}]},
    {"id": "demo", "name": "Demo booked", "trigger": {"event": "custom", "name": "demo_booked"},
     "outcomes": [{"action": "move_to_stage", "journey": "referral", "stage": "demo_complete"}]},
    {"id": "lead-enrolls", "name": "A lead becomes an advocate prospect", "trigger": {"event": "journey_stage_changed", "journey": "referral", "to": "lead"},
     "outcomes": [{"action": "set_enrollment_status", "status": "pending"}]},
    {"id": "skip", "name": "Trial too early", "trigger": {"event": "custom", "name": "demo_booked"},
     "outcomes": [{"action": "move_to_stage", "journey": "referral", "stage": "conversion"}]}
]"#;

async fn given_ada_and_the_pipeline() -> Engine {
    let engine = JourneyEngine::with_clock(InMemoryRepository::new(), Arc::new(ManualClock::new(t0())));
    engine.define_journey(referral()).await.unwrap();
    engine.define_journey(free()).await.unwrap();
    engine.add_contact(Contact::new(id("ada"))).await.unwrap();
    engine.set_automations(rules(PIPELINE)).await.unwrap();
    engine
}

fn referred() -> Event {
    event_json(r#""kind": "referral_attributed", "advocate": "bob", "campaign": "spring""#)
}

fn demo_booked() -> Event {
    let mut event = event_json(r#""kind": "custom", "name": "demo_booked""#);
    event.id = id("evt-2");
    event.occurred_at = t0() + chrono::Duration::hours(1);
    event
}

#[tokio::test]
async fn an_event_is_processed_end_to_end_in_one_commit() {
    let engine = given_ada_and_the_pipeline().await;
    let processed = engine.process_event(&referred()).await.unwrap();
    assert!(!processed.duplicate);
    let moves: Vec<_> = processed.transitions.iter().map(|t| (t.journey.as_str(), t.to.as_str())).collect();
    assert_eq!(moves, [("referral", "lead"), ("advocate_enrollment", "pending")], "the cascade's move too");
    assert_eq!(processed.effects.len(), 1);
    assert_eq!(processed.effects[0].key, "welcome");
    assert!(processed.explanation.is_some());

    let (ada, referral) = (id("ada"), id("referral"));
    let stored = engine.history(&ada, &referral).await.unwrap();
    assert_eq!(stored, processed.transitions[..1]);
    assert_eq!(stored[0].occurred_at, t0(), "moves happen when the event did");
    let contact = engine.contact(&ada).await.unwrap();
    assert_eq!(contact.attribute("referred"), Some(&Value::Bool(true)));
    assert_eq!(contact.enrollment, EnrollmentStatus::Pending);
    assert_eq!(engine.membership(&ada, &id("advocate_enrollment")).await.unwrap().unwrap().stage, "pending");
}

#[tokio::test]
async fn an_event_already_processed_for_the_contact_produces_nothing_new() {
    let engine = given_ada_and_the_pipeline().await;
    let first = engine.process_event(&referred()).await.unwrap();
    let counters = engine.rule_counters();
    engine.clock().advance(chrono::Duration::minutes(5));
    let again = engine.process_event(&referred()).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.transitions, first.transitions, "the stored transitions come back");
    assert!(again.effects.is_empty(), "effects are not asked for twice");
    assert_eq!(engine.rule_counters(), counters, "a duplicate is not counted");
    let history = engine.history(&id("ada"), &id("referral")).await.unwrap();
    assert_eq!(history.len(), 1);
}

#[tokio::test]
async fn a_refused_outcome_is_reported_and_the_others_are_stored() {
    let engine = given_ada_and_the_pipeline().await;
    engine.process_event(&referred()).await.unwrap();
    let processed = engine.process_event(&demo_booked()).await.unwrap();
    let moves: Vec<_> = processed.transitions.iter().map(|t| t.to.as_str()).collect();
    assert_eq!(moves, ["demo_complete"]);
    let explanation = processed.explanation.unwrap();
    let skip = explanation.rules.iter().find(|r| r.rule == "skip").unwrap();
    assert!(skip.fired);
    assert!(matches!(
        &skip.outcomes[0].result,
        journeys::automation::OutcomeResult::Skipped { error } if error.code() == "sequence_violation"
    ));
    let state = engine.membership(&id("ada"), &id("referral")).await.unwrap().unwrap();
    assert_eq!((state.stage.as_str(), state.version), ("demo_complete", 2));
}

#[tokio::test]
async fn counters_show_which_rules_fire() {
    let engine = given_ada_and_the_pipeline().await;
    engine.process_event(&referred()).await.unwrap();
    engine.process_event(&demo_booked()).await.unwrap();
    let counters = engine.rule_counters();
    let of = |rule: &str| counters.get(&id::<journeys::RuleId>(rule)).copied().unwrap_or_default();
    assert_eq!(of("referred"), RuleCounters { evaluated: 1, matched: 1, applied: 3, skipped: 0, failed: 0 });
    // Evaluated on every stage change: to lead, to pending (the system journey's) and
    // to demo_complete; its filter holds only for the first.
    assert_eq!(
        of("lead-enrolls"),
        RuleCounters { evaluated: 3, matched: 1, applied: 1, skipped: 0, failed: 0 }
    );
    assert_eq!(of("demo"), RuleCounters { evaluated: 1, matched: 1, applied: 1, skipped: 0, failed: 0 });
    assert_eq!(of("skip"), RuleCounters { evaluated: 1, matched: 1, applied: 0, skipped: 1, failed: 0 });
}

#[tokio::test]
async fn an_unknown_contact_is_not_found_and_nothing_is_recorded() {
    let engine = given_ada_and_the_pipeline().await;
    let mut event = referred();
    event.contact = id("nobody");
    assert_eq!(engine.process_event(&event).await.unwrap_err().code(), "not_found");
    let key = journeys::automation::event_key(&id("nobody"), &event.id);
    assert_eq!(engine.repository().find_idempotency_key(&key).await.unwrap(), None);
}

#[tokio::test]
async fn without_rules_an_event_is_only_recorded_as_processed() {
    let engine = JourneyEngine::with_clock(InMemoryRepository::new(), Arc::new(ManualClock::new(t0())));
    engine.add_contact(Contact::new(id("ada"))).await.unwrap();
    let processed = engine.process_event(&referred()).await.unwrap();
    assert!(!processed.duplicate && processed.transitions.is_empty() && processed.effects.is_empty());
    assert!(engine.process_event(&referred()).await.unwrap().duplicate);
}

#[tokio::test]
async fn loading_rules_that_name_an_undefined_journey_is_refused() {
    let engine = JourneyEngine::with_clock(InMemoryRepository::new(), Arc::new(ManualClock::new(t0())));
    engine.define_journey(free()).await.unwrap();
    match engine.set_automations(rules(PIPELINE)).await.unwrap_err().as_domain() {
        Some(journeys::DomainError::InvalidRule { rule, path, cause }) => {
            assert_eq!(
                (rule.as_str(), path.as_str(), cause.code()),
                ("referred", "/outcomes/0/journey", "unknown_journey")
            );
        }
        other => panic!("expected an invalid rule, got {other:?}"),
    }
}
