//! Given / when / then scenarios for every domain rule of the sequencing core,
//! including every refusal and its code.

use chrono::{DateTime, Duration, Utc};
use journeys::{
    DomainError, EnrollmentStatus, Journey, MembershipState, Move, SequencePolicy, SequenceRule, Source,
    Stage, StageOutcome, Target, Transition, decide, replay,
};

fn t0() -> DateTime<Utc> {
    "2026-03-01T09:00:00Z".parse().unwrap()
}

fn referral(policy: SequencePolicy) -> Journey {
    Journey::new(
        "referral",
        "Referral",
        policy,
        [
            Stage::new("lead", "Lead").unwrap(),
            Stage::new("demo_complete", "Demo Complete").unwrap(),
            Stage::new("trial", "Trial").unwrap(),
            Stage::new("conversion", "Conversion").unwrap().with_outcome(StageOutcome::Converted),
            Stage::new("closed_lost", "Closed/Lost").unwrap().exit().with_outcome(StageOutcome::Lost),
        ],
    )
    .unwrap()
}

/// A contact's membership, built by walking `stages` through `decide`.
struct Scenario {
    journey: Journey,
    history: Vec<Transition>,
}

impl Scenario {
    fn given(journey: Journey) -> Self {
        Scenario { journey, history: Vec::new() }
    }

    fn state(&self) -> Option<MembershipState> {
        self.history.last().map(MembershipState::after)
    }

    fn request(&self, target: Target, minutes: i64) -> Move {
        Move {
            target,
            ..Move::to_stage(
                "c1".parse().unwrap(),
                "lead".parse().unwrap(),
                t0() + Duration::minutes(minutes),
                Source::manual("ada".parse().unwrap()),
            )
        }
    }

    fn attempt(&self, stage: &str, minutes: i64) -> Result<Transition, DomainError> {
        let request = self.request(Target::Stage(stage.parse().unwrap()), minutes);
        decide(&self.journey, self.state().as_ref(), &request)
    }

    /// Given the contact walked `stages`, one minute apart.
    fn walked(mut self, stages: &[&str]) -> Self {
        for stage in stages {
            let minutes = self.history.len() as i64;
            let t = self.attempt(stage, minutes).unwrap_or_else(|e| panic!("walking to {stage}: {e}"));
            self.history.push(t);
        }
        self
    }

    fn then_accepts(&self, stage: &str) -> Transition {
        let minutes = self.history.len() as i64;
        self.attempt(stage, minutes).unwrap_or_else(|e| panic!("moving to {stage} was refused: {e}"))
    }

    fn then_refuses(&self, stage: &str, code: &str) -> DomainError {
        let minutes = self.history.len() as i64;
        let err = self.attempt(stage, minutes).expect_err("the move should be refused");
        assert_eq!(err.code(), code, "{err}");
        err
    }
}

fn sequenced() -> Scenario {
    Scenario::given(referral(SequencePolicy::RequiresSequence))
}

fn rule_of(err: &DomainError) -> SequenceRule {
    match err {
        DomainError::SequenceViolation { rule, .. } => *rule,
        other => panic!("not a sequence violation: {other}"),
    }
}

#[test]
fn a_sequenced_journey_is_entered_at_its_first_stage() {
    let entry = sequenced().then_accepts("lead");
    assert_eq!((entry.from, entry.version), (None, 1));
    let err = sequenced().then_refuses("trial", "sequence_violation");
    assert_eq!(rule_of(&err), SequenceRule::EnterAtFirstStage);
    assert!(err.to_string().contains("trial"), "{err}");
    let err = sequenced().then_refuses("closed_lost", "sequence_violation");
    assert_eq!(rule_of(&err), SequenceRule::EnterAtFirstStage);
}

#[test]
fn a_sequenced_journey_advances_one_stage_at_a_time() {
    let s = sequenced().walked(&["lead"]);
    let next = s.then_accepts("demo_complete");
    assert_eq!(next.from.as_ref().map(|k| k.as_str()), Some("lead"));
    assert_eq!(next.version, 2);
    assert_eq!(rule_of(&s.then_refuses("trial", "sequence_violation")), SequenceRule::NoSkipping);
    assert_eq!(rule_of(&s.then_refuses("conversion", "sequence_violation")), SequenceRule::NoSkipping);
}

#[test]
fn a_sequenced_journey_never_moves_back() {
    let s = sequenced().walked(&["lead", "demo_complete", "trial"]);
    assert_eq!(rule_of(&s.then_refuses("demo_complete", "sequence_violation")), SequenceRule::NoMovingBack);
    assert_eq!(rule_of(&s.then_refuses("lead", "sequence_violation")), SequenceRule::NoMovingBack);
}

#[test]
fn exit_stages_are_reachable_from_any_non_terminal_stage() {
    for walked in [&["lead"][..], &["lead", "demo_complete"], &["lead", "demo_complete", "trial"]] {
        let t = sequenced().walked(walked).then_accepts("closed_lost");
        assert_eq!(t.to, "closed_lost");
    }
}

#[test]
fn nothing_follows_an_exit_or_the_last_stage() {
    let lost = sequenced().walked(&["lead", "closed_lost"]);
    for stage in ["lead", "demo_complete", "trial", "conversion"] {
        assert_eq!(
            rule_of(&lost.then_refuses(stage, "sequence_violation")),
            SequenceRule::NothingAfterTerminal
        );
    }
    let converted = sequenced().walked(&["lead", "demo_complete", "trial", "conversion"]);
    assert_eq!(
        rule_of(&converted.then_refuses("closed_lost", "sequence_violation")),
        SequenceRule::NothingAfterTerminal
    );
}

#[test]
fn an_exit_stage_between_steps_is_stepped_over_when_advancing() {
    let journey = Journey::new(
        "j",
        "J",
        SequencePolicy::RequiresSequence,
        [
            Stage::new("a", "A").unwrap(),
            Stage::new("gone", "Gone").unwrap().exit(),
            Stage::new("b", "B").unwrap(),
        ],
    )
    .unwrap();
    let s = Scenario::given(journey).walked(&["a"]);
    s.then_accepts("b");
    s.then_accepts("gone");
}

#[test]
fn an_any_order_journey_takes_any_stage_back_and_forth() {
    let s = Scenario::given(referral(SequencePolicy::AnyOrder)).walked(&[
        "trial",
        "lead",
        "conversion",
        "closed_lost",
        "demo_complete",
    ]);
    assert_eq!(s.history.len(), 5);
    s.then_accepts("conversion");
}

#[test]
fn moving_into_the_current_stage_has_its_own_code() {
    for policy in [SequencePolicy::RequiresSequence, SequencePolicy::AnyOrder] {
        let s = Scenario::given(referral(policy)).walked(&["lead"]);
        let err = s.then_refuses("lead", "already_in_stage");
        assert!(err.to_string().contains("lead"), "{err}");
    }
}

#[test]
fn an_unknown_stage_is_refused_naming_it() {
    let err = sequenced().then_refuses("nurture", "unknown_stage");
    assert!(err.to_string().contains("nurture"), "{err}");
}

#[test]
fn a_move_earlier_than_the_last_one_is_refused() {
    let s = sequenced().walked(&["lead"]);
    let late = s.request(Target::Stage("demo_complete".parse().unwrap()), -5);
    let err = decide(&s.journey, s.state().as_ref(), &late).unwrap_err();
    assert_eq!(err.code(), "earlier_than_last_move");
    // The same instant as the last move is fine.
    let same = s.request(Target::Stage("demo_complete".parse().unwrap()), 0);
    assert!(decide(&s.journey, s.state().as_ref(), &same).is_ok());
}

#[test]
fn the_system_journey_moves_only_by_enrollment_status() {
    let system = Journey::advocate_enrollment();
    let s = Scenario::given(system.clone());
    let err = s.then_refuses("enrolled", "system_journey");
    assert_eq!(err, DomainError::SystemJourney { journey: system.id().clone() });

    let by_status = Move::to_status("c1".parse().unwrap(), EnrollmentStatus::Enrolled, t0());
    let t = decide(&system, None, &by_status).unwrap();
    assert_eq!(t.to, "enrolled");

    let custom = sequenced();
    let wrong = Move::to_status("c1".parse().unwrap(), EnrollmentStatus::Enrolled, t0());
    assert_eq!(decide(&custom.journey, None, &wrong).unwrap_err().code(), "not_system_journey");
}

#[test]
fn a_transition_records_its_provenance_and_touchpoint() {
    let s = sequenced();
    let mut request = s.request(Target::Stage("lead".parse().unwrap()), 0);
    request.recorded_at = t0() + Duration::days(3);
    request.source = Source::Import { batch: "jan.csv".parse().unwrap(), line: 7, origin: None };
    request.touchpoint = Some(journeys::TouchpointInfo::on("email".parse().unwrap()));
    request.idempotency_key = Some("k-1".parse().unwrap());
    let t = decide(&s.journey, None, &request).unwrap();
    assert_eq!(t.source, request.source);
    assert_eq!(t.recorded_at, request.recorded_at);
    assert_eq!(t.occurred_at, request.occurred_at);
    assert_eq!(t.touchpoint.as_deref(), request.touchpoint.as_ref());
    assert_eq!(t.idempotency_key, request.idempotency_key);
}

#[test]
fn replay_rebuilds_the_live_state() {
    let s = sequenced().walked(&["lead", "demo_complete", "trial"]);
    let replayed = replay(&s.journey, &"c1".parse().unwrap(), &s.history).unwrap();
    assert_eq!(replayed, s.state());
    assert_eq!(replay(&s.journey, &"c1".parse().unwrap(), &[]).unwrap(), None);
}

#[test]
fn replay_names_an_illegal_stored_step() {
    let mut s = sequenced().walked(&["lead", "demo_complete"]);
    // A skip written behind the crate's back: demo_complete → conversion.
    let mut forged = s.history[1].clone();
    forged.version = 3;
    forged.from = Some("demo_complete".parse().unwrap());
    forged.to = "conversion".parse().unwrap();
    s.history.push(forged);
    let err = replay(&s.journey, &"c1".parse().unwrap(), &s.history).unwrap_err();
    assert_eq!(err.code(), "invalid_history");
    match err {
        DomainError::InvalidHistory { version, cause, .. } => {
            assert_eq!(version, 3);
            assert_eq!(cause.code(), "sequence_violation");
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn replay_refuses_gaps_foreign_rows_and_wrong_from() {
    let s = sequenced().walked(&["lead", "demo_complete"]);
    let c1 = "c1".parse().unwrap();
    type Corruption = fn(&mut Transition);
    let cases: [(&str, Corruption); 4] = [
        ("version", |t| t.version = 5),
        ("contact", |t| t.contact = "c2".parse().unwrap()),
        ("journey", |t| t.journey = "other".parse().unwrap()),
        ("from", |t| t.from = Some("trial".parse().unwrap())),
    ];
    for (field, corrupt) in cases {
        let mut history = s.history.clone();
        corrupt(&mut history[1]);
        match replay(&s.journey, &c1, &history).unwrap_err() {
            DomainError::InvalidHistory { cause, .. } => match *cause {
                DomainError::HistoryMismatch { field: f, .. } => assert_eq!(f, field),
                other => panic!("{field}: unexpected cause {other}"),
            },
            other => panic!("{field}: unexpected {other}"),
        }
    }
}

#[test]
fn replay_of_the_system_journey_requires_status_stages() {
    let system = Journey::advocate_enrollment();
    let c1 = "c1".parse().unwrap();
    let entry =
        decide(&system, None, &Move::to_status("c1".parse().unwrap(), EnrollmentStatus::Pending, t0()))
            .unwrap();
    assert!(replay(&system, &c1, std::slice::from_ref(&entry)).is_ok());

    // A move written by hand, not by a status change, is caught on load.
    let mut by_hand = entry.clone();
    by_hand.source = Source::manual("mallory".parse().unwrap());
    let err = replay(&system, &c1, &[by_hand]).unwrap_err();
    assert!(
        matches!(err, DomainError::InvalidHistory { ref cause, .. } if cause.code() == "system_journey"),
        "{err}"
    );

    // A stage that mirrors no status is caught too.
    let mut no_status = entry;
    no_status.to = "vip".parse().unwrap();
    let err = replay(&system, &c1, &[no_status]).unwrap_err();
    assert!(
        matches!(err, DomainError::InvalidHistory { ref cause, .. } if cause.code() == "unknown_stage"),
        "{err}"
    );
}

#[test]
fn a_status_change_must_carry_the_enrollment_status_source() {
    let system = Journey::advocate_enrollment();
    let mut request = Move::to_status("c1".parse().unwrap(), EnrollmentStatus::Enrolled, t0());
    request.source = Source::manual("mallory".parse().unwrap());
    assert_eq!(decide(&system, None, &request).unwrap_err().code(), "system_journey");
}
