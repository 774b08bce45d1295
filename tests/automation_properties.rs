//! Properties of the evaluator against simple reference models: it is deterministic
//! and independent of the order rules are given in, a rule set that round-trips
//! through JSON evaluates identically, and no outcome bypasses sequencing.

mod automation_support;

use std::collections::BTreeMap;

use automation_support::{ada, id, journeys, t0};
use chrono::Duration;
use journeys::automation::{
    Automations, Condition, ContactState, Event, EventKind, Field, Op, Outcome, Rule, Scope, Trigger,
};
use journeys::{EnrollmentStatus, MembershipState, Source, Value};
use proptest::prelude::*;

const REFERRAL: [&str; 5] = ["lead", "demo_complete", "trial", "conversion", "closed_lost"];
const FREE: [&str; 3] = ["a", "b", "c"];

fn num(n: f64) -> Value {
    Value::number(n).unwrap()
}

fn trigger() -> impl Strategy<Value = Trigger> {
    prop_oneof![
        Just(Trigger::on(journeys::automation::EventType::Custom).with(id("name"), Value::from("go"))),
        Just(Trigger::on(journeys::automation::EventType::OrderCreated)),
        Just(
            Trigger::on(journeys::automation::EventType::OrderCreated)
                .with(id("currency"), Value::from("EUR"))
        ),
        Just(Trigger::on(journeys::automation::EventType::JourneyStageChanged)),
        prop::sample::select(&REFERRAL[..]).prop_map(|to| {
            Trigger::on(journeys::automation::EventType::JourneyStageChanged)
                .with(id("journey"), Value::from("referral"))
                .with(id("to"), Value::from(to))
        }),
    ]
}

fn comparison() -> impl Strategy<Value = Condition> {
    prop_oneof![
        (0u8..4).prop_map(|n| Condition::compare(id("event.amount"), Op::Gt, num(f64::from(n) * 50.0))),
        prop::sample::select(vec!["gold", "free"]).prop_map(|plan| Condition::compare(
            id("contact.plan"),
            Op::Eq,
            Value::from(plan)
        )),
        prop::sample::select(&REFERRAL[..]).prop_map(|stage| Condition::compare(
            id("stage.referral"),
            Op::Eq,
            Value::from(stage)
        )),
        Just(Condition::exists(Field::Stage(id("free")))),
    ]
}

fn conditions() -> impl Strategy<Value = Option<Condition>> {
    prop::option::of(prop_oneof![
        comparison(),
        prop::collection::vec(comparison(), 1..3).prop_map(|all| Condition::All { all }),
        prop::collection::vec(comparison(), 1..3).prop_map(|any| Condition::Any { any }),
        comparison().prop_map(|c| Condition::Not { not: Box::new(c) }),
    ])
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        prop::sample::select(&REFERRAL[..])
            .prop_map(|stage| Outcome::MoveToStage { journey: id("referral"), stage: id(stage) }),
        prop::sample::select(&FREE[..])
            .prop_map(|stage| Outcome::MoveToStage { journey: id("free"), stage: id(stage) }),
        prop::sample::select(vec!["referral", "free"]).prop_map(|j| Outcome::EnterJourney { journey: id(j) }),
        prop::sample::select(EnrollmentStatus::ALL.to_vec())
            .prop_map(|status| Outcome::SetEnrollmentStatus { status }),
        prop::sample::select(vec!["gold", "free"])
            .prop_map(|plan| Outcome::SetAttribute { attribute: id("plan"), value: Value::from(plan) }),
        Just(Outcome::SendEmail { template: id("hello"), data: BTreeMap::new() }),
    ]
}

fn rule(index: usize) -> impl Strategy<Value = Rule> {
    (
        -1i32..2,
        any::<bool>(),
        prop::option::of(Just(Scope::EnrolledIn(id("referral")))),
        trigger(),
        conditions(),
        prop::collection::vec(outcome(), 1..4),
    )
        .prop_map(move |(priority, enabled, scope, trigger, conditions, outcomes)| Rule {
            id: id(&format!("r{index}")),
            name: id(&format!("Rule {index}")),
            enabled: enabled || index % 2 == 0,
            priority,
            scope: scope.unwrap_or_default(),
            trigger,
            conditions,
            outcomes,
        })
}

fn rule_set() -> impl Strategy<Value = Vec<Rule>> {
    (1usize..8).prop_flat_map(|n| (0..n).map(rule).collect::<Vec<_>>())
}

fn event() -> impl Strategy<Value = Event> {
    let at = t0();
    let kind = prop_oneof![
        Just(EventKind::Custom { name: id("go") }),
        (0u8..5, prop::sample::select(vec!["EUR", "USD"])).prop_map(|(n, currency)| {
            EventKind::OrderCreated {
                order: id("o1"),
                amount: f64::from(n) * 50.0,
                currency: id(currency),
                campaign: None,
            }
        }),
        prop::sample::select(&REFERRAL[..]).prop_map(|to| EventKind::JourneyStageChanged {
            journey: id("referral"),
            from: None,
            to: id(to),
        }),
    ];
    kind.prop_map(move |kind| Event::new(id("evt-1"), id("ada"), at, kind))
}

fn state() -> impl Strategy<Value = ContactState> {
    (
        prop::option::of(prop::sample::select(&REFERRAL[..])),
        prop::option::of(prop::sample::select(&FREE[..])),
        prop::option::of(prop::sample::select(vec!["gold", "free"])),
        prop::sample::select(EnrollmentStatus::ALL.to_vec()),
    )
        .prop_map(|(referral, free, plan, status)| {
            let mut state = ada();
            state.contact.enrollment = status;
            if let Some(plan) = plan {
                state.contact.attributes.insert(id("plan"), Value::from(plan));
            }
            let since = t0() - Duration::hours(1);
            for (journey, stage) in
                [("referral", referral), ("free", free), ("advocate_enrollment", Some(status.as_str()))]
            {
                if let Some(stage) = stage {
                    state = state.with_membership(MembershipState {
                        contact: id("ada"),
                        journey: id(journey),
                        stage: id(stage),
                        version: 3,
                        since,
                    });
                }
            }
            state
        })
}

/// The reference model of sequencing: whether `from → to` is a legal move.
fn legal(journey: &str, from: Option<&str>, to: &str) -> bool {
    if from == Some(to) {
        return false;
    }
    if journey != "referral" {
        return true;
    }
    let at = |stage: &str| REFERRAL.iter().position(|s| *s == stage).unwrap();
    match from.map(at) {
        None => to == "lead",
        // conversion (the last step) and closed_lost (an exit) are terminal.
        Some(3 | 4) => false,
        Some(i) => at(to) == i + 1 || to == "closed_lost",
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn evaluation_is_deterministic_and_independent_of_rule_order(
        rules in rule_set(), event in event(), state in state(), rotate in 0usize..8,
    ) {
        let given = Automations::new(rules.clone(), journeys()).unwrap();
        let mut shuffled = rules;
        shuffled.reverse();
        let len = shuffled.len();
        shuffled.rotate_left(rotate % len);
        let reordered = Automations::new(shuffled, journeys()).unwrap();
        let first = given.evaluate(&event, &state, t0());
        prop_assert_eq!(&first, &given.evaluate(&event, &state, t0()));
        prop_assert_eq!(&first, &reordered.evaluate(&event, &state, t0()));
        prop_assert_eq!(given.explain(&event, &state, t0()), reordered.explain(&event, &state, t0()));
    }

    #[test]
    fn the_indexed_matching_agrees_with_evaluating_each_rule_s_tree(
        rules in rule_set(), event in event(), state in state(),
    ) {
        // `evaluate` matches through the per-trigger index and shared comparisons;
        // `explain` evaluates every rule's trees one by one.
        let explanation = Automations::new(rules, journeys()).unwrap().explain(&event, &state, t0());
        for rule in &explanation.rules {
            let holds = |part: &Option<journeys::automation::condition::ConditionExplanation>| {
                part.as_ref().is_none_or(|p| p.verdict.holds())
            };
            let expected = rule.enabled && rule.trigger_matched && holds(&rule.scope) && holds(&rule.conditions);
            prop_assert_eq!(rule.fired, expected, "{:?}", rule);
        }
    }

    #[test]
    fn a_rule_set_round_tripped_through_json_evaluates_identically(
        rules in rule_set(), event in event(), state in state(),
    ) {
        let json = serde_json::to_string(&rules).unwrap();
        let back: Vec<Rule> = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &rules);
        let original = Automations::new(rules, journeys()).unwrap();
        let loaded = Automations::new(back, journeys()).unwrap();
        prop_assert_eq!(original.evaluate(&event, &state, t0()), loaded.evaluate(&event, &state, t0()));
    }

    #[test]
    fn no_outcome_bypasses_sequencing(rules in rule_set(), event in event(), state in state()) {
        let automations = Automations::new(rules, journeys()).unwrap();
        let evaluation = automations.evaluate(&event, &state, t0());
        let mut current: BTreeMap<String, (String, u64)> = state
            .memberships
            .iter()
            .map(|(journey, m)| (journey.to_string(), (m.stage.to_string(), m.version)))
            .collect();
        for t in evaluation.transitions() {
            let journey = t.journey.to_string();
            let before = current.get(&journey).cloned();
            prop_assert_eq!(t.from.as_ref().map(|s| s.to_string()), before.as_ref().map(|(s, _)| s.clone()));
            prop_assert!(legal(&journey, before.as_ref().map(|(s, _)| s.as_str()), t.to.as_str()), "{:?}", t);
            prop_assert_eq!(t.version, before.as_ref().map_or(1, |(_, v)| v + 1));
            let expected_source = if journey == "advocate_enrollment" {
                Source::enrollment_status()
            } else {
                Source::Automation { rule: evaluation.firings().find(|f| f.outcomes.iter().any(|o| matches!(&o.result, journeys::automation::OutcomeResult::Moved { transition } if transition == t))).unwrap().rule.clone() }
            };
            prop_assert_eq!(&t.source, &expected_source);
            current.insert(journey, (t.to.to_string(), t.version));
        }
        // The state the evaluation reports is where the transitions lead.
        let after = evaluation.state_after(&state).unwrap_or(state);
        for (journey, (stage, version)) in current {
            let membership = &after.memberships[&id::<journeys::JourneyId>(&journey)];
            prop_assert_eq!((membership.stage.to_string(), membership.version), (stage, version));
        }
    }
}
