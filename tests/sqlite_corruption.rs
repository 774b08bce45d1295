//! History edited behind the crate's back is caught on load: an illegal step is an
//! `invalid_history` error naming the transition, and a row that is not a valid
//! value is a `Backend` error naming the row — never a panic. A database from an
//! older schema is upgraded keeping its data; one from a newer schema is refused.
#![cfg(feature = "sqlite")]
#![allow(clippy::expect_used, reason = "a test fails by panicking")]

mod support;

use support::id;

use journeys::{DomainError, Error, JourneyEngine, Repository, SequenceRule, Source, SqliteRepository};
use rusqlite::Connection;

/// A database with the referral journey and ada in `lead`, and a raw connection.
async fn given_ada_in_lead(dir: &tempfile::TempDir) -> (std::path::PathBuf, Connection) {
    let path = dir.path().join("journeys.db");
    support::given_ada_in_lead(&JourneyEngine::new(SqliteRepository::open(&path).expect("opened"))).await;
    (path.clone(), Connection::open(&path).expect("a raw connection"))
}

#[tokio::test]
async fn an_illegal_step_inserted_with_sql_is_reported_naming_the_transition() {
    let dir = tempfile::tempdir().expect("a directory");
    let (path, raw) = given_ada_in_lead(&dir).await;
    // Skip demo_complete: lead → trial, as version 2.
    let inserted = raw
        .execute(
            "INSERT INTO transitions (contact, journey, version, from_stage, to_stage, occurred_at, recorded_at, \
             source_kind, source_ref) \
             SELECT contact, journey, 2, 'lead', 'trial', occurred_at + 1000, recorded_at + 1000, 'manual', 'mallory' \
             FROM transitions WHERE contact = 'ada' AND journey = 'referral' AND version = 1",
            [],
        )
        .expect("the raw insert");
    assert_eq!(inserted, 1);

    let engine = JourneyEngine::new(SqliteRepository::open(&path).expect("reopened"));
    for result in [
        engine.history(&id("ada"), &id("referral")).await.map(drop),
        engine.membership(&id("ada"), &id("referral")).await.map(drop),
    ] {
        let error = result.expect_err("the edited history is refused");
        assert_eq!(error.code(), "invalid_history");
        match error {
            Error::Domain(DomainError::InvalidHistory { contact, journey, version, cause }) => {
                assert_eq!((contact.as_str(), journey.as_str(), version), ("ada", "referral", 2));
                assert!(
                    matches!(*cause, DomainError::SequenceViolation { rule: SequenceRule::NoSkipping, .. }),
                    "{cause:?}"
                );
            }
            other => panic!("expected invalid_history, got {other:?}"),
        }
    }
    // A move decided on top of the edited history is refused too: nothing is appended.
    let moved = engine
        .move_contact(&id("ada"), &id("referral"), &id("conversion"), Source::manual(id("sales")))
        .await;
    assert_eq!(moved.expect_err("refused").code(), "invalid_history");
}

#[tokio::test]
async fn rows_that_are_not_valid_values_are_backend_errors_naming_the_row() {
    let dir = tempfile::tempdir().expect("a directory");
    let (path, raw) = given_ada_in_lead(&dir).await;
    raw.execute("UPDATE transitions SET to_stage = 'Not A Slug' WHERE journey = 'referral'", [])
        .expect("edited");
    raw.execute("UPDATE contacts SET attributes = '{\"score\": ' WHERE id = 'ada'", []).expect("edited");
    raw.execute("UPDATE journeys SET definition = '{\"id\": \"referral\", \"stages\": []}'", [])
        .expect("edited");
    let repo = SqliteRepository::open(&path).expect("reopened");
    let history = repo.load_history(&id("ada"), &id("referral")).await.expect_err("a bad stage key");
    assert_eq!(history.code(), "backend");
    assert!(history.to_string().contains("ada/referral@1"), "{history}");
    let contact = repo.load_contact(&id("ada")).await.expect_err("bad attributes");
    assert_eq!(contact.code(), "backend");
    assert!(contact.to_string().contains("contacts row ada"), "{contact}");
    let journey = repo.load_journey(&id("referral")).await.expect_err("a bad definition");
    assert_eq!(journey.code(), "backend");
    assert!(journey.to_string().contains("journeys row referral"), "{journey}");
}

#[tokio::test]
async fn a_database_from_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("a directory");
    let (path, raw) = given_ada_in_lead(&dir).await;
    raw.pragma_update(None, "user_version", 99).expect("set");
    let error = SqliteRepository::open(&path).expect_err("refused");
    assert_eq!(error.code(), "backend");
    assert!(error.to_string().contains("99"), "{error}");
}

#[tokio::test]
async fn a_database_at_schema_version_1_is_upgraded_keeping_its_history() {
    let dir = tempfile::tempdir().expect("a directory");
    let (path, raw) = given_ada_in_lead(&dir).await;
    let before = SqliteRepository::open(&path)
        .expect("opened")
        .load_history(&id("ada"), &id("referral"))
        .await
        .expect("history");
    // Undo migrations 3 and 2: what a database written by the first release holds.
    raw.execute_batch(
        "DROP TABLE touchpoints; DROP TABLE referrals; \
         ALTER TABLE transitions DROP COLUMN source_origin; PRAGMA user_version = 1;",
    )
    .expect("downgraded");
    let columns: i64 = raw
        .query_row(
            "SELECT count(*) FROM pragma_table_info('transitions') WHERE name = 'source_origin'",
            [],
            |r| r.get(0),
        )
        .expect("counted");
    assert_eq!(columns, 0);

    let upgraded = SqliteRepository::open(&path).expect("upgraded");
    let version: i64 = raw.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("read");
    assert!(version > 1, "still at version {version}");
    assert_eq!(upgraded.load_history(&id("ada"), &id("referral")).await.expect("history"), before);
    let engine = JourneyEngine::new(upgraded);
    engine
        .move_contact(&id("ada"), &id("referral"), &id("demo_complete"), Source::manual(id("ops")))
        .await
        .expect("a move after the upgrade");
}
