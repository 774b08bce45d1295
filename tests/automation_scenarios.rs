//! Given / when / then scenarios for automations: each trigger kind, each outcome,
//! refusals on load and by sequencing, order, scope, cascades and explanations.

mod automation_support;

use automation_support::{ada, ada_in, automations, event_json, id, journeys, rules, t0};
use journeys::automation::{Automations, CascadeStop, EffectKind, OutcomeResult, Verdict};
use journeys::segment::Segment;
use journeys::{DomainError, EnrollmentStatus, Value};

/// A rule `r` on `trigger` that moves Ada to `free`/`b` (any order, so it always can).
fn rule_on(trigger: &str) -> String {
    format!(
        r#"[{{"id": "r", "name": "R", "trigger": {trigger},
            "outcomes": [{{"action": "move_to_stage", "journey": "free", "stage": "b"}}]}}]"#
    )
}

fn fires(trigger: &str, event: &str) -> bool {
    let evaluation = automations(&rule_on(trigger)).evaluate(&event_json(event), &ada(), t0());
    evaluation.fired.iter().any(|f| f.rule == "r")
}

#[test]
fn each_trigger_kind_fires_on_its_event_and_its_filters() {
    // (trigger, an event that matches, an event of the same kind that does not)
    let cases = [
        (r#"{"event": "contact_created"}"#, r#""kind": "contact_created""#, None),
        (
            r#"{"event": "contact_field_changed", "field": "plan", "to": "gold"}"#,
            r#""kind": "contact_field_changed", "field": "plan", "from": "free", "to": "gold""#,
            Some(r#""kind": "contact_field_changed", "field": "plan", "to": "free""#),
        ),
        (
            r#"{"event": "added_to_segment", "segment": "smb"}"#,
            r#""kind": "added_to_segment", "segment": "smb""#,
            Some(r#""kind": "added_to_segment", "segment": "enterprise""#),
        ),
        (
            r#"{"event": "enrollment_status_changed", "to": "enrolled"}"#,
            r#""kind": "enrollment_status_changed", "from": "pending", "to": "enrolled""#,
            Some(r#""kind": "enrollment_status_changed", "to": "banned""#),
        ),
        (
            r#"{"event": "order_created", "currency": "EUR"}"#,
            r#""kind": "order_created", "order": "o1", "amount": 10, "currency": "EUR""#,
            Some(r#""kind": "order_created", "order": "o1", "amount": 10, "currency": "USD""#),
        ),
        (
            r#"{"event": "deal_stage_changed", "pipeline": "sales", "to": "lost"}"#,
            r#""kind": "deal_stage_changed", "pipeline": "sales", "from": "open", "to": "lost""#,
            Some(r#""kind": "deal_stage_changed", "pipeline": "sales", "to": "won""#),
        ),
        (
            r#"{"event": "journey_stage_changed", "journey": "referral", "to": "trial"}"#,
            r#""kind": "journey_stage_changed", "journey": "referral", "from": "demo_complete", "to": "trial""#,
            Some(r#""kind": "journey_stage_changed", "journey": "referral", "to": "lead""#),
        ),
        (
            r#"{"event": "referral_attributed", "campaign": "spring"}"#,
            r#""kind": "referral_attributed", "advocate": "bob", "campaign": "spring""#,
            Some(r#""kind": "referral_attributed", "advocate": "bob", "campaign": "autumn""#),
        ),
        (
            r#"{"event": "custom", "name": "demo_booked"}"#,
            r#""kind": "custom", "name": "demo_booked""#,
            Some(r#""kind": "custom", "name": "demo_cancelled""#),
        ),
    ];
    for (trigger, matching, other) in cases {
        assert!(fires(trigger, matching), "{trigger} on {matching}");
        if let Some(other) = other {
            assert!(!fires(trigger, other), "{trigger} on {other}");
        }
        // An event of another kind never fires it.
        assert!(!fires(trigger, r#""kind": "custom", "name": "unrelated""#) || trigger.contains("custom\"}"));
    }
    // A custom trigger without a name fires on every custom event.
    assert!(fires(r#"{"event": "custom"}"#, r#""kind": "custom", "name": "anything""#));
    // A filter on a property of a custom event.
    let with_property = r#""kind": "custom", "name": "demo_booked", "properties": {"source": "web"}"#;
    assert!(fires(r#"{"event": "custom", "name": "demo_booked", "source": "web"}"#, with_property));
    assert!(!fires(r#"{"event": "custom", "name": "demo_booked", "source": "phone"}"#, with_property));
}

#[test]
fn each_outcome_applies_through_sequencing_or_comes_back_as_an_effect() {
    let set = automations(
        r#"[{"id": "all-outcomes", "name": "All", "trigger": {"event": "custom", "name": "go"},
            "outcomes": [
                {"action": "enter_journey", "journey": "referral"},
                {"action": "move_to_stage", "journey": "referral", "stage": "demo_complete"},
                {"action": "set_enrollment_status", "status": "enrolled"},
                {"action": "set_attribute", "attribute": "plan", "value": "gold"},
                {"action": "send_email", "template": "welcome", "data": {"lang": "de"}},
                {"action": "create_reward", "reward": "bonus"},
                {"action": "approve_reward", "reward": "bonus"},
                {"action": "call_webhook", "webhook": "crm-sync"}
            ]}]"#,
    );
    let start = ada().with_membership(journeys::MembershipState {
        contact: id("ada"),
        journey: id("advocate_enrollment"),
        stage: id("prospect"),
        version: 1,
        since: t0(),
    });
    let go = event_json(r#""kind": "custom", "name": "go""#);
    let evaluation = set.evaluate(&go, &start, t0());
    let moves: Vec<_> = evaluation
        .transitions()
        .map(|t| (t.journey.as_str(), t.from.as_ref().map(|s| s.as_str()), t.to.as_str(), t.version))
        .collect();
    assert_eq!(
        moves,
        [
            ("referral", None, "lead", 1),
            ("referral", Some("lead"), "demo_complete", 2),
            ("advocate_enrollment", Some("prospect"), "enrolled", 2),
        ]
    );
    let key = journeys::automation::event_key(&id("ada"), &id("evt-1"));
    assert!(evaluation.transitions().all(|t| t.idempotency_key.as_ref() == Some(&key)));
    let after = evaluation.state_after(&start).expect("the state changed");
    assert_eq!(after.contact.enrollment, EnrollmentStatus::Enrolled);
    assert_eq!(after.contact.attribute("plan"), Some(&Value::from("gold")));
    assert_eq!(after.memberships[&id::<journeys::JourneyId>("referral")].stage, "demo_complete");
    let effects: Vec<_> =
        evaluation.effects().map(|e| (e.kind, e.key.as_str(), e.dedupe_key.clone())).collect();
    assert_eq!(
        effects.iter().map(|(kind, key, _)| (*kind, *key)).collect::<Vec<_>>(),
        [
            (EffectKind::SendEmail, "welcome"),
            (EffectKind::CreateReward, "bonus"),
            (EffectKind::ApproveReward, "bonus"),
            (EffectKind::CallWebhook, "crm-sync"),
        ]
    );
    let again = set.evaluate(&go, &start, t0() + chrono::Duration::hours(1));
    let dedupe: Vec<_> = again.effects().map(|e| e.dedupe_key.clone()).collect();
    assert_eq!(dedupe, effects.iter().map(|(_, _, k)| k.clone()).collect::<Vec<_>>(), "stable dedupe keys");
    let distinct: std::collections::BTreeSet<_> = dedupe.iter().collect();
    assert_eq!(distinct.len(), 4, "one dedupe key per outcome");
}

#[test]
fn a_refused_move_is_skipped_with_its_code_and_the_other_outcomes_still_apply() {
    let set = automations(
        r#"[{"id": "jump", "name": "Jump", "trigger": {"event": "custom", "name": "go"},
            "outcomes": [
                {"action": "move_to_stage", "journey": "referral", "stage": "trial"},
                {"action": "set_attribute", "attribute": "tried", "value": true},
                {"action": "move_to_stage", "journey": "referral", "stage": "lead"}
            ]}]"#,
    );
    let evaluation =
        set.evaluate(&event_json(r#""kind": "custom", "name": "go""#), &ada_in("referral", "lead"), t0());
    let codes: Vec<_> = evaluation
        .results()
        .map(|r| match r {
            OutcomeResult::Skipped { error } => error.code(),
            OutcomeResult::AttributeSet { .. } => "attribute_set",
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(codes, ["sequence_violation", "attribute_set", "already_in_stage"]);
    let state = evaluation.state_after(&ada_in("referral", "lead")).expect("the attribute changed");
    assert_eq!(state.memberships[&id::<journeys::JourneyId>("referral")].stage, "lead", "no move applied");
}

#[test]
fn a_move_dated_before_the_membership_s_last_move_is_skipped() {
    let set = automations(
        r#"[{"id": "next", "name": "Next", "trigger": {"event": "custom", "name": "go"},
            "outcomes": [{"action": "move_to_stage", "journey": "referral", "stage": "demo_complete"}]}]"#,
    );
    let late = serde_json::from_str(
        r#"{"id": "e", "contact": "ada", "occurred_at": "2026-02-01T00:00:00Z", "kind": "custom", "name": "go"}"#,
    )
    .unwrap();
    let evaluation = set.evaluate(&late, &ada_in("referral", "lead"), t0());
    let result = &evaluation.fired[0].outcomes[0].result;
    assert!(matches!(result, OutcomeResult::Skipped { error } if error.code() == "earlier_than_last_move"));
}

fn load_error(json: &str) -> (String, String, &'static str) {
    match Automations::new(rules(json), journeys()) {
        Err(DomainError::InvalidRule { rule, path, cause }) => (rule, path, cause.code()),
        other => panic!("expected an invalid rule, got {other:?}"),
    }
}

fn one_rule(trigger: &str, conditions: &str, outcomes: &str) -> String {
    format!(r#"[{{"id": "bad", "name": "Bad", "trigger": {trigger}, {conditions} "outcomes": {outcomes}}}]"#)
}

#[test]
fn loading_refuses_invalid_rules_naming_the_rule_and_the_json_pointer() {
    let go = r#"{"event": "custom", "name": "go"}"#;
    let mv = |journey: &str, stage: &str| {
        format!(r#"[{{"action": "move_to_stage", "journey": "{journey}", "stage": "{stage}"}}]"#)
    };
    let email = r#"[{"action": "send_email", "template": "t"}]"#;
    let cases = [
        (one_rule(go, "", &mv("nope", "lead")), "/outcomes/0/journey", "unknown_journey"),
        (one_rule(go, "", &mv("referral", "nope")), "/outcomes/0/stage", "unknown_stage"),
        (one_rule(go, "", &mv("advocate_enrollment", "enrolled")), "/outcomes/0/journey", "system_journey"),
        (
            one_rule(go, "", r#"[{"action": "enter_journey", "journey": "advocate_enrollment"}]"#),
            "/outcomes/0/journey",
            "system_journey",
        ),
        (one_rule(go, "", "[]"), "/outcomes", "invalid_value"),
        (
            one_rule(r#"{"event": "order_created", "amount": "100"}"#, "", email),
            "/trigger/amount",
            "type_mismatch",
        ),
        (
            one_rule(r#"{"event": "journey_stage_changed", "journey": "nope"}"#, "", email),
            "/trigger/journey",
            "unknown_journey",
        ),
        (
            one_rule(r#"{"event": "journey_stage_changed", "journey": "referral", "to": "nope"}"#, "", email),
            "/trigger/to",
            "unknown_stage",
        ),
        (one_rule(r#"{"event": "custom", "name": "Not A Slug"}"#, "", email), "/trigger/name", "invalid_id"),
        (
            one_rule(
                r#"{"event": "order_created"}"#,
                r#""conditions": {"all": [{"field": "event.amount", "op": "gt", "value": "100"}]},"#,
                email,
            ),
            "/conditions/all/0/value",
            "type_mismatch",
        ),
        (one_rule(go, r#""conditions": {"any": []},"#, email), "/conditions/any", "empty_condition"),
        (
            format!(
                r#"[{{"id": "bad", "name": "Bad", "scope": {{"enrolled_in": "nope"}}, "trigger": {go}, "outcomes": {email}}}]"#
            ),
            "/scope/enrolled_in",
            "unknown_journey",
        ),
        (
            format!(
                r#"[{{"id": "bad", "name": "Bad", "scope": {{"segment": {{"all": []}}}}, "trigger": {go}, "outcomes": {email}}}]"#
            ),
            "/scope/segment/all",
            "empty_condition",
        ),
        (
            format!(
                r#"[{{"id": "bad", "name": "Bad", "scope": {{"in_segment": "Gold"}}, "trigger": {go}, "outcomes": {email}}}]"#
            ),
            "/scope/in_segment",
            "unknown_segment",
        ),
        (
            format!(
                r#"[{{"id": "bad", "name": "A", "trigger": {go}, "outcomes": {email}}},
                    {{"id": "bad", "name": "B", "trigger": {go}, "outcomes": {email}}}]"#
            ),
            "/id",
            "duplicate_rule",
        ),
        (
            format!(
                r#"[{{"id": "bad", "name": "Off", "enabled": false, "trigger": {go}, "conditions": {{"all": []}}, "outcomes": {email}}}]"#
            ),
            "/conditions/all",
            "empty_condition",
        ),
    ];
    for (json, path, code) in cases {
        assert_eq!(load_error(&json), ("bad".to_owned(), path.to_owned(), code), "{json}");
    }
}

#[test]
fn rules_fire_by_priority_then_id_whatever_order_they_are_given_in() {
    let rule = |id: &str, priority: i32| {
        format!(
            r#"{{"id": "{id}", "name": "{id}", "priority": {priority}, "trigger": {{"event": "custom", "name": "go"}},
                "outcomes": [{{"action": "set_attribute", "attribute": "last", "value": "{id}"}}]}}"#
        )
    };
    let given = [rule("b", 0), rule("a", 0), rule("z", 5), rule("m", -1)];
    let set = automations(&format!("[{}]", given.join(",")));
    let evaluation = set.evaluate(&event_json(r#""kind": "custom", "name": "go""#), &ada(), t0());
    let order: Vec<_> = evaluation.fired.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(order, ["z", "a", "b", "m"]);
    let state = evaluation.state_after(&ada()).unwrap();
    assert_eq!(state.contact.attribute("last"), Some(&Value::from("m")), "later outcomes see earlier ones");
}

#[test]
fn scope_limits_a_rule_to_a_segment_or_to_members_of_a_journey() {
    let set = automations(
        r#"[{"id": "members", "name": "M", "scope": {"enrolled_in": "referral"},
             "trigger": {"event": "custom", "name": "go"},
             "outcomes": [{"action": "send_email", "template": "members"}]},
            {"id": "gold", "name": "G", "scope": {"segment": {"field": "contact.plan", "op": "eq", "value": "gold"}},
             "trigger": {"event": "custom", "name": "go"},
             "outcomes": [{"action": "send_email", "template": "gold"}]},
            {"id": "off", "name": "Off", "enabled": false, "trigger": {"event": "custom", "name": "go"},
             "outcomes": [{"action": "send_email", "template": "off"}]}]"#,
    );
    let go = event_json(r#""kind": "custom", "name": "go""#);
    let fired = |state| -> Vec<String> {
        set.evaluate(&go, &state, t0()).fired.iter().map(|f| f.rule.to_string()).collect()
    };
    assert!(fired(ada()).is_empty());
    assert_eq!(fired(ada_in("referral", "lead")), ["members"]);
    let mut gold = ada();
    gold.contact.attributes.insert(id("plan"), Value::from("gold"));
    assert_eq!(fired(gold), ["gold"]);
}

#[test]
fn a_stage_change_cascades_and_the_chain_is_reported() {
    let set = automations(
        r#"[{"id": "referred", "name": "Referred", "trigger": {"event": "referral_attributed"},
             "outcomes": [{"action": "enter_journey", "journey": "referral"}]},
            {"id": "lead-books-demo", "name": "Lead → demo", "trigger": {"event": "journey_stage_changed", "journey": "referral", "to": "lead"},
             "outcomes": [{"action": "move_to_stage", "journey": "referral", "stage": "demo_complete"}]},
            {"id": "demo-welcome", "name": "Demo → mail", "trigger": {"event": "journey_stage_changed", "to": "demo_complete"},
             "outcomes": [{"action": "send_email", "template": "demo"}]}]"#,
    );
    let event = event_json(r#""kind": "referral_attributed", "advocate": "bob", "campaign": "spring""#);
    let evaluation = set.evaluate(&event, &ada(), t0());
    let chain: Vec<_> = evaluation
        .cascade
        .iter()
        .map(|step| {
            (
                step.depth,
                step.cause.rule.as_str(),
                step.fired.iter().map(|f| f.rule.to_string()).collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_eq!(
        chain,
        [
            (1, "referred", vec!["lead-books-demo".to_owned()]),
            (2, "lead-books-demo", vec!["demo-welcome".to_owned()]),
        ]
    );
    assert_eq!(evaluation.cascade[1].cause.step, Some(0));
    assert_eq!(evaluation.effects().count(), 1);
    assert!(evaluation.stops.is_empty());
    assert!(
        evaluation.cascade.iter().all(|step| step.event.id == event.id),
        "a cascade carries the event's id"
    );
}

#[test]
fn a_rule_firing_again_in_one_cascade_is_a_cycle_and_stops() {
    let set = automations(
        r#"[{"id": "to-b", "name": "a → b", "trigger": {"event": "journey_stage_changed", "journey": "free", "to": "a"},
             "outcomes": [{"action": "move_to_stage", "journey": "free", "stage": "b"}]},
            {"id": "to-a", "name": "b → a", "trigger": {"event": "journey_stage_changed", "journey": "free", "to": "b"},
             "outcomes": [{"action": "move_to_stage", "journey": "free", "stage": "a"}]}]"#,
    );
    let event = event_json(r#""kind": "journey_stage_changed", "journey": "free", "from": "c", "to": "a""#);
    let evaluation = set.evaluate(&event, &ada_in("free", "a"), t0());
    let moves: Vec<_> = evaluation.transitions().map(|t| t.to.to_string()).collect();
    assert_eq!(moves, ["b", "a"], "each rule fires once");
    assert_eq!(evaluation.stops, [CascadeStop::Cycle { rule: id("to-b"), step: Some(1) }]);
}

#[test]
fn a_cascade_stops_at_its_depth_limit() {
    // Each move to a stage of `free` moves on to the next: a → b → c → a would cycle,
    // so the chain uses the referral journey's five stages and a low limit.
    let set = Automations::new(
        rules(
            r#"[{"id": "s1", "name": "1", "trigger": {"event": "journey_stage_changed", "to": "lead"},
                 "outcomes": [{"action": "move_to_stage", "journey": "referral", "stage": "demo_complete"}]},
                {"id": "s2", "name": "2", "trigger": {"event": "journey_stage_changed", "to": "demo_complete"},
                 "outcomes": [{"action": "move_to_stage", "journey": "referral", "stage": "trial"}]},
                {"id": "s3", "name": "3", "trigger": {"event": "journey_stage_changed", "to": "trial"},
                 "outcomes": [{"action": "move_to_stage", "journey": "referral", "stage": "conversion"}]},
                {"id": "start", "name": "0", "trigger": {"event": "custom", "name": "go"},
                 "outcomes": [{"action": "enter_journey", "journey": "referral"}]}]"#,
        ),
        journeys(),
    )
    .unwrap();
    let go = event_json(r#""kind": "custom", "name": "go""#);
    let full = set.clone().evaluate(&go, &ada(), t0());
    assert_eq!(full.transitions().count(), 4, "the default depth reaches the end");
    assert_eq!(full.cascade.len(), 4);

    let limited = set.with_max_depth(2).evaluate(&go, &ada(), t0());
    let stages: Vec<_> = limited.transitions().map(|t| t.to.to_string()).collect();
    assert_eq!(stages, ["lead", "demo_complete", "trial"]);
    assert_eq!(limited.cascade.iter().map(|s| s.depth).collect::<Vec<_>>(), [1, 2]);
    match &limited.stops[..] {
        [CascadeStop::DepthLimit { depth, cause, event }] => {
            assert_eq!(*depth, 3);
            assert_eq!(cause.rule, "s2");
            assert_eq!(event.field("to"), Some(journeys::ValueRef::String("trial")));
        }
        other => panic!("expected one depth stop, got {other:?}"),
    }
}

#[test]
fn explain_gives_every_rule_s_verdict_with_the_values_read() {
    let set = automations(
        r#"[{"id": "big", "name": "Big", "trigger": {"event": "order_created", "currency": "EUR"},
             "conditions": {"all": [{"field": "event.amount", "op": "gt", "value": 100},
                                    {"field": "contact.plan", "op": "eq", "value": "gold"}]},
             "outcomes": [{"action": "create_reward", "reward": "bonus"}]},
            {"id": "small", "name": "Small", "trigger": {"event": "order_created"},
             "conditions": {"field": "event.amount", "op": "le", "value": 100},
             "outcomes": [{"action": "send_email", "template": "thanks"}]},
            {"id": "other", "name": "Other", "trigger": {"event": "contact_created"},
             "outcomes": [{"action": "send_email", "template": "hi"}]}]"#,
    );
    let order = event_json(r#""kind": "order_created", "order": "o1", "amount": 150, "currency": "EUR""#);
    let explanation = set.explain(&order, &ada(), t0());
    assert_eq!(explanation.evaluation, set.evaluate(&order, &ada(), t0()), "a dry run evaluates the same");
    let [big, other, small] = &explanation.rules[..] else { panic!("three rules") };
    assert!(big.trigger_matched && !big.fired);
    let conditions = big.conditions.as_ref().unwrap();
    assert_eq!(conditions.verdict, Verdict::Missing, "the plan is not set");
    let read: Vec<_> =
        conditions.comparisons.iter().map(|c| (c.path.as_str(), c.read.clone(), c.verdict)).collect();
    assert_eq!(
        read,
        [("/all/0", Some(Value::number(150.0).unwrap()), Verdict::True), ("/all/1", None, Verdict::Missing)]
    );
    assert!(!other.trigger_matched && other.trigger.is_none() && other.outcomes.is_empty());
    assert!(small.trigger_matched && !small.fired);
    assert_eq!(small.conditions.as_ref().unwrap().verdict, Verdict::False);
    let json = serde_json::to_value(&explanation).unwrap();
    assert_eq!(json["rules"][0]["conditions"]["comparisons"][1]["verdict"], "missing");
}

#[test]
fn scope_names_a_segment_given_with_the_rules() {
    let gold: Segment = serde_json::from_str(
        r#"{"name": "Gold", "condition": {"field": "contact.plan", "op": "eq", "value": "gold"}}"#,
    )
    .unwrap();
    let set = Automations::with_segments(
        rules(
            r#"[{"id": "gold", "name": "G", "scope": {"in_segment": "Gold"},
                 "trigger": {"event": "custom", "name": "go"},
                 "outcomes": [{"action": "send_email", "template": "gold"}]}]"#,
        ),
        journeys(),
        [gold],
    )
    .unwrap();
    let go = event_json(r#""kind": "custom", "name": "go""#);
    let fired = |state| -> Vec<String> {
        set.evaluate(&go, &state, t0()).fired.iter().map(|f| f.rule.to_string()).collect()
    };
    assert!(fired(ada()).is_empty(), "ada has no plan");
    let mut silver = ada();
    silver.contact.attributes.insert(id("plan"), Value::from("silver"));
    assert!(fired(silver).is_empty());
    let mut gold = ada();
    gold.contact.attributes.insert(id("plan"), Value::from("gold"));
    assert_eq!(fired(gold), ["gold"]);
}
