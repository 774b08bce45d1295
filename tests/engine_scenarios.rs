//! Given / when / then scenarios for the engine over the in-memory repository.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use journeys::{
    Commit, Contact, EnrollmentStatus, Error, InMemoryRepository, Journey, JourneyEngine, ManualClock, Move,
    Repository, RepositoryError, SequencePolicy, Source, Stage, Transition,
};

fn t0() -> DateTime<Utc> {
    "2026-03-01T09:00:00Z".parse().unwrap()
}

fn referral() -> Journey {
    Journey::new(
        "referral",
        "Referral",
        SequencePolicy::RequiresSequence,
        [
            Stage::new("lead", "Lead").unwrap(),
            Stage::new("demo_complete", "Demo Complete").unwrap(),
            Stage::new("trial", "Trial").unwrap(),
            Stage::new("closed_lost", "Closed/Lost").unwrap().exit(),
        ],
    )
    .unwrap()
}

type Engine = JourneyEngine<InMemoryRepository, Arc<ManualClock>>;

async fn given_ada() -> Engine {
    let engine = JourneyEngine::with_clock(InMemoryRepository::new(), Arc::new(ManualClock::new(t0())));
    engine.define_journey(referral()).await.unwrap();
    engine.add_contact(Contact::new("ada".parse().unwrap())).await.unwrap();
    engine
}

fn ops() -> Source {
    Source::manual("ops".parse().unwrap())
}

async fn move_ada(engine: &Engine, stage: &str) -> Result<Transition, Error> {
    engine.clock().advance(Duration::minutes(1));
    engine
        .move_contact(&"ada".parse().unwrap(), &"referral".parse().unwrap(), &stage.parse().unwrap(), ops())
        .await
}

#[tokio::test]
async fn moves_are_recorded_with_the_clock_and_the_source() {
    let engine = given_ada().await;
    let t = move_ada(&engine, "lead").await.unwrap();
    assert_eq!(t.occurred_at, t0() + Duration::minutes(1));
    assert_eq!(t.recorded_at, t.occurred_at);
    assert_eq!(t.source, ops());
    let history = engine.history(&"ada".parse().unwrap(), &"referral".parse().unwrap()).await.unwrap();
    assert_eq!(history, vec![t]);
}

#[tokio::test]
async fn a_refused_move_returns_the_domain_code_and_writes_nothing() {
    let engine = given_ada().await;
    move_ada(&engine, "lead").await.unwrap();
    let err = move_ada(&engine, "trial").await.unwrap_err();
    assert_eq!(err.code(), "sequence_violation");
    assert!(err.as_domain().is_some());
    let state =
        engine.membership(&"ada".parse().unwrap(), &"referral".parse().unwrap()).await.unwrap().unwrap();
    assert_eq!((state.stage.as_str(), state.version), ("lead", 1));
}

#[tokio::test]
async fn unknown_contacts_and_journeys_are_not_found() {
    let engine = given_ada().await;
    let who = "bob".parse().unwrap();
    let err = engine.move_contact(&who, &"referral".parse().unwrap(), &"lead".parse().unwrap(), ops()).await;
    assert!(matches!(err, Err(Error::Repository(RepositoryError::NotFound { .. }))));
    let err = engine
        .move_contact(&"ada".parse().unwrap(), &"nurture".parse().unwrap(), &"lead".parse().unwrap(), ops())
        .await;
    assert_eq!(err.unwrap_err().code(), "not_found");
}

#[tokio::test]
async fn a_contact_cannot_be_added_twice() {
    let engine = given_ada().await;
    let err = engine.add_contact(Contact::new("ada".parse().unwrap())).await.unwrap_err();
    assert_eq!(err.code(), "already_exists");
}

#[tokio::test]
async fn a_journey_id_cannot_be_redefined_differently() {
    let engine = given_ada().await;
    engine.define_journey(referral()).await.unwrap();
    let other =
        Journey::new("referral", "Other", SequencePolicy::AnyOrder, [Stage::new("x", "X").unwrap()]).unwrap();
    assert_eq!(engine.define_journey(other).await.unwrap_err().code(), "already_exists");
}

#[tokio::test]
async fn the_advocate_enrollment_journey_follows_the_status() {
    let engine = given_ada().await;
    let ada = "ada".parse().unwrap();
    let system = Journey::advocate_enrollment().id().clone();
    let entry = engine.membership(&ada, &system).await.unwrap().unwrap();
    assert_eq!(entry.stage, "prospect");

    engine.set_enrollment_status(&ada, EnrollmentStatus::Enrolled).await.unwrap();
    assert_eq!(engine.contact(&ada).await.unwrap().enrollment, EnrollmentStatus::Enrolled);
    let now = engine.membership(&ada, &system).await.unwrap().unwrap();
    assert_eq!((now.stage.as_str(), now.version), ("enrolled", 2));

    let again = engine.set_enrollment_status(&ada, EnrollmentStatus::Enrolled).await.unwrap_err();
    assert_eq!(again.code(), "already_in_stage");

    let by_hand = engine.move_contact(&ada, &system, &"banned".parse().unwrap(), ops()).await.unwrap_err();
    assert_eq!(by_hand.code(), "system_journey");
    let memberships = engine.memberships(&ada).await.unwrap();
    assert_eq!(memberships.len(), 1, "only the system journey so far");
}

#[tokio::test]
async fn memberships_are_independent_and_listed_by_journey() {
    let engine = given_ada().await;
    let onboarding = Journey::new(
        "onboarding",
        "Onboarding",
        SequencePolicy::AnyOrder,
        [Stage::new("enrolled", "Enrolled").unwrap()],
    )
    .unwrap();
    engine.define_journey(onboarding).await.unwrap();
    move_ada(&engine, "lead").await.unwrap();
    engine
        .move_contact(
            &"ada".parse().unwrap(),
            &"onboarding".parse().unwrap(),
            &"enrolled".parse().unwrap(),
            ops(),
        )
        .await
        .unwrap();
    let journeys: Vec<_> = engine
        .memberships(&"ada".parse().unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.journey.to_string())
        .collect();
    assert_eq!(journeys, ["advocate_enrollment", "onboarding", "referral"]);
    let lead =
        engine.membership(&"ada".parse().unwrap(), &"referral".parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(lead.stage, "lead");
}

#[tokio::test]
async fn a_retried_command_with_an_idempotency_key_appends_nothing() {
    let engine = given_ada().await;
    let ada: journeys::ContactId = "ada".parse().unwrap();
    let referral = "referral".parse().unwrap();
    let mut request = Move::to_stage(ada.clone(), "lead".parse().unwrap(), t0(), ops());
    request.idempotency_key = Some("req-1".parse().unwrap());
    let first = engine.apply_move(&referral, request.clone()).await.unwrap();
    engine.clock().advance(Duration::minutes(5));
    let second = engine.apply_move(&referral, request.clone()).await.unwrap();
    assert_eq!(second, first);
    assert_eq!(engine.history(&ada, &referral).await.unwrap().len(), 1);

    // The same key for another membership is an error, not a silent success.
    engine.add_contact(Contact::new("bob".parse().unwrap())).await.unwrap();
    request.contact = "bob".parse().unwrap();
    let err = engine.apply_move(&referral, request).await.unwrap_err();
    assert_eq!(err.code(), "already_exists");
}

#[tokio::test]
async fn back_filled_moves_keep_occurred_at_and_record_now() {
    let engine = given_ada().await;
    engine.clock().advance(Duration::days(10));
    let request =
        Move::to_stage("ada".parse().unwrap(), "lead".parse().unwrap(), t0() - Duration::days(30), ops());
    let t = engine.apply_move(&"referral".parse().unwrap(), request).await.unwrap();
    assert_eq!(t.occurred_at, t0() - Duration::days(30));
    assert_eq!(t.recorded_at, t0() + Duration::days(10));
}

#[tokio::test]
async fn a_history_edited_behind_the_engine_is_a_load_error_naming_the_transition() {
    let engine = given_ada().await;
    move_ada(&engine, "lead").await.unwrap();
    // Write a skip straight to storage, bypassing sequencing.
    let mut forged =
        engine.history(&"ada".parse().unwrap(), &"referral".parse().unwrap()).await.unwrap()[0].clone();
    forged.version = 2;
    forged.from = Some("lead".parse().unwrap());
    forged.to = "trial".parse().unwrap();
    let commit = Commit::append(forged.contact.clone(), forged.journey.clone(), 1, vec![forged]);
    engine.repository().commit(commit).await.unwrap();

    let err = engine.history(&"ada".parse().unwrap(), &"referral".parse().unwrap()).await.unwrap_err();
    assert_eq!(err.code(), "invalid_history");
    assert!(err.to_string().contains("version 2"), "{err}");
    let err = move_ada(&engine, "closed_lost").await.unwrap_err();
    assert_eq!(err.code(), "invalid_history", "no move is decided over a corrupt history");
}

#[tokio::test]
async fn a_stale_commit_is_a_conflict_and_writes_nothing() {
    let engine = given_ada().await;
    let first = move_ada(&engine, "lead").await.unwrap();
    let mut stale = first.clone();
    stale.to = "demo_complete".parse().unwrap();
    let commit = Commit::append(first.contact.clone(), first.journey.clone(), 0, vec![stale]);
    match engine.repository().commit(commit).await {
        Err(RepositoryError::Conflict { expected, actual, .. }) => assert_eq!((expected, actual), (0, 1)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(engine.history(&first.contact, &first.journey).await.unwrap(), vec![first]);
}

#[test]
fn many_tasks_moving_one_contact_lose_no_update() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).build().unwrap();
    runtime.block_on(async {
        let stages: Vec<Stage> =
            (0..6).map(|i| Stage::new(&format!("s{i}"), &format!("S{i}")).unwrap()).collect();
        let journey = Journey::new("free", "Free", SequencePolicy::AnyOrder, stages).unwrap();
        let engine = Arc::new(JourneyEngine::new(InMemoryRepository::new()).with_max_attempts(1_000));
        engine.define_journey(journey).await.unwrap();
        let ada: journeys::ContactId = "ada".parse().unwrap();
        engine.add_contact(Contact::new(ada.clone())).await.unwrap();

        let tasks: Vec<_> = (0..8)
            .map(|task| {
                let engine = Arc::clone(&engine);
                let ada = ada.clone();
                tokio::spawn(async move {
                    let mut accepted = 0u64;
                    for i in 0..200 {
                        let stage = format!("s{}", (task + i) % 6).parse().unwrap();
                        let who = Source::manual(format!("worker-{task}").parse().unwrap());
                        match engine.move_contact(&ada, &"free".parse().unwrap(), &stage, who).await {
                            Ok(_) => accepted += 1,
                            Err(e) => assert_eq!(e.code(), "already_in_stage", "{e}"),
                        }
                        tokio::task::yield_now().await;
                    }
                    accepted
                })
            })
            .collect();
        let mut accepted = 0;
        for task in tasks {
            accepted += task.await.unwrap();
        }
        let history = engine.history(&ada, &"free".parse().unwrap()).await.unwrap();
        assert_eq!(history.len() as u64, accepted, "every accepted move is stored, nothing else");
        for (i, t) in history.iter().enumerate() {
            assert_eq!(t.version, i as u64 + 1, "versions are contiguous");
        }
        assert!(accepted > 200, "the tasks made progress: {accepted}");
    });
}
