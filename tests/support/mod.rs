//! What several integration tests share: the referral journey and a free journey,
//! and a way to run a test body on each backend.
#![allow(dead_code, reason = "each test file uses a different part")]
#![allow(clippy::expect_used, reason = "a test fails by panicking")]

use journeys::{
    Clock, Contact, Journey, JourneyEngine, Repository, RepositoryError, SequencePolicy, Source, Stage,
};

/// Parses an id, key or instant that the test knows is valid.
pub(crate) fn id<T: std::str::FromStr>(text: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    text.parse().expect("a valid id")
}

/// Lead → Demo Complete → Trial → Conversion, exit Closed/Lost, sequence required.
pub(crate) fn referral() -> Journey {
    Journey::new(
        "referral",
        "Referral",
        SequencePolicy::RequiresSequence,
        [
            Stage::new("lead", "Lead").expect("a stage"),
            Stage::new("demo_complete", "Demo Complete").expect("a stage"),
            Stage::new("trial", "Trial").expect("a stage"),
            Stage::new("conversion", "Conversion").expect("a stage"),
            Stage::new("closed_lost", "Closed/Lost").expect("a stage").exit(),
        ],
    )
    .expect("a valid journey")
}

/// An any-order journey with the given stage keys.
pub(crate) fn free_journey(id: &str, stages: &[String]) -> Journey {
    let stages = stages.iter().map(|key| Stage::new(key, key).expect("a stage"));
    Journey::new(id, id, SequencePolicy::AnyOrder, stages).expect("a valid journey")
}

/// Defines the referral journey and adds contact `ada`, in its first stage `lead`.
pub(crate) async fn given_ada_in_lead<R: Repository, C: Clock>(engine: &JourneyEngine<R, C>) {
    engine.define_journey(referral()).await.expect("defined");
    engine.add_contact(Contact::new(id("ada"))).await.expect("added");
    engine
        .move_contact(&id("ada"), &id("referral"), &id("lead"), Source::manual(id("sales")))
        .await
        .expect("moved");
}

/// Runs `body` on a current-thread runtime: a property test's body is synchronous.
pub(crate) fn block_on<F: std::future::Future>(body: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().expect("a runtime").block_on(body)
}

/// A repository call's outcome reduced to what the contracts specify, so that two
/// backends' answers compare as text.
pub(crate) fn contract_outcome(result: Result<(), RepositoryError>) -> String {
    match result {
        Ok(()) => "ok".to_owned(),
        Err(RepositoryError::Conflict { entity, expected, actual, .. }) => {
            format!("conflict {entity} expected {expected} actual {actual}")
        }
        Err(RepositoryError::NotFound { entity, id }) => format!("not_found {entity} {id}"),
        Err(RepositoryError::AlreadyExists { entity, id }) => format!("already_exists {entity} {id}"),
        Err(other) => format!("{}: {other}", other.code()),
    }
}
