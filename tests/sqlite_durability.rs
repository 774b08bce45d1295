//! A process importing CSV batches atomically (`JourneyEngine::import_csv`) through
//! `SqliteRepository` is killed mid-import, twice; on
//! reopening, every atomic batch is either whole or absent, the database is intact,
//! and every history replays.
//!
//! The writer is this test binary itself, re-run with an environment variable that
//! names the database file.
#![cfg(feature = "sqlite")]
#![allow(clippy::expect_used, reason = "a test fails by panicking")]

mod support;

use support::id;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use journeys::import::{ImportOptions, Mode, UnknownContacts};
use journeys::{ContactId, JourneyEngine, LogPosition, Repository, SqliteRepository, Transition, replay};
use rusqlite::Connection;

const CHILD_DATABASE: &str = "JOURNEYS_DURABILITY_CHILD_DATABASE";
const TEST_NAME: &str = "a_writer_killed_mid_import_leaves_every_batch_whole_or_absent";
/// Contacts per batch; each gets two referral transitions, a contact record and its
/// Advocate Enrollment entry.
const BATCH: usize = 250;
/// The writer stops by itself after this many batches or this long.
const CHILD_MAX_BATCHES: usize = 2_000;
const CHILD_MAX_TIME: Duration = Duration::from_secs(60);

/// Batch `b` in the transitions CSV format: `BATCH` new contacts, each entering the
/// referral journey and moving on.
fn batch_csv(b: usize) -> String {
    let at = ("2026-01-05T09:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().expect("an instant")
        + chrono::Duration::seconds(b as i64))
    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut csv = String::from("contact_id,journey,stage,at\n");
    for i in 0..BATCH {
        for stage in ["lead", "demo_complete"] {
            csv.push_str(&format!("b{b:05}-c{i:04},referral,{stage},{at}\n"));
        }
    }
    csv
}

/// The child: imports batches after the ones present, each atomically through
/// `JourneyEngine::import_csv` creating its contacts, until killed (or its bounds).
fn write_batches(path: &Path) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    runtime.block_on(async {
        let engine = JourneyEngine::new(SqliteRepository::open(path).expect("opened"));
        let first = batches_present(path).len();
        let started = Instant::now();
        for b in first..first + CHILD_MAX_BATCHES {
            if started.elapsed() > CHILD_MAX_TIME {
                break;
            }
            let options = ImportOptions::new(id(&format!("batch-{b:05}")))
                .mode(Mode::Atomic)
                .unknown_contacts(UnknownContacts::Create);
            let report = engine.import_csv(batch_csv(b).as_bytes(), &options).await.expect("a batch imports");
            assert_eq!(report.applied, 2 * BATCH as u64, "{report:?}");
        }
    });
}

/// Transitions per import batch, read with a raw connection.
fn batches_present(path: &Path) -> BTreeMap<String, i64> {
    let raw = Connection::open(path).expect("a raw connection");
    let mut stmt = raw
        .prepare(
            "SELECT source_ref, COUNT(*) FROM transitions WHERE journey = 'referral' GROUP BY source_ref",
        )
        .expect("a query");
    let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).expect("rows");
    rows.collect::<Result<_, _>>().expect("counts")
}

fn contacts_stored(path: &Path) -> i64 {
    let raw = Connection::open(path).expect("a raw connection");
    raw.query_row("SELECT COUNT(*) FROM contacts", [], |row| row.get(0)).expect("a count")
}

/// Runs a writer child until `more` batches beyond those present have landed, then
/// kills it without warning.
fn kill_writer_after(path: &Path, more: usize) {
    let start = batches_present(path).len();
    let mut child = Command::new(std::env::current_exe().expect("this test binary"))
        .args([TEST_NAME, "--exact", "--test-threads=1"])
        .env(CHILD_DATABASE, path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("a writer process");
    let deadline = Instant::now() + CHILD_MAX_TIME;
    while batches_present(path).len() < start + more {
        assert!(Instant::now() < deadline, "the writer made no progress");
        assert!(child.try_wait().expect("status").is_none(), "the writer exited early");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("killed");
    child.wait().expect("reaped");
}

#[test]
fn a_writer_killed_mid_import_leaves_every_batch_whole_or_absent() {
    if let Some(path) = std::env::var_os(CHILD_DATABASE) {
        write_batches(Path::new(&path));
        return;
    }
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("import.db");
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    runtime
        .block_on(SqliteRepository::open(&path).expect("created").insert_journey(&support::referral()))
        .expect("defined");

    // Twice: the second writer continues after the first one's recovered state.
    kill_writer_after(&path, 2);
    kill_writer_after(&path, 2);

    let raw = Connection::open(&path).expect("a raw connection");
    let integrity: String = raw.query_row("PRAGMA integrity_check", [], |row| row.get(0)).expect("a check");
    assert_eq!(integrity, "ok");
    let batches = batches_present(&path);
    assert!(batches.len() >= 4, "{} batches", batches.len());
    let expected_names: Vec<String> = (0..batches.len()).map(|b| format!("batch-{b:05}")).collect();
    assert_eq!(
        batches.keys().cloned().collect::<Vec<_>>(),
        expected_names,
        "batches land in order, none missing"
    );
    for (name, count) in &batches {
        assert_eq!(*count, 2 * BATCH as i64, "transitions of {name}");
    }
    assert_eq!(contacts_stored(&path), (batches.len() * BATCH) as i64, "contact records match the batches");
    let entries: i64 = raw
        .query_row("SELECT COUNT(*) FROM transitions WHERE journey = 'advocate_enrollment'", [], |row| {
            row.get(0)
        })
        .expect("a count");
    assert_eq!(entries, (batches.len() * BATCH) as i64, "each created contact entered Advocate Enrollment");

    // Every membership replays, read back through a reopened repository.
    let repo = SqliteRepository::open(&path).expect("reopened");
    let journey = support::referral();
    let log = runtime.block_on(async {
        let mut log: Vec<Transition> = Vec::new();
        loop {
            let after = log.last().map(LogPosition::of);
            let page = repo.journey_transitions(journey.id(), after.as_ref(), 1_000).await.expect("a page");
            if page.is_empty() {
                break log;
            }
            log.extend(page);
        }
    });
    let mut histories: BTreeMap<ContactId, Vec<Transition>> = BTreeMap::new();
    for transition in log {
        histories.entry(transition.contact.clone()).or_default().push(transition);
    }
    assert_eq!(histories.len(), batches.len() * BATCH);
    for (contact, mut history) in histories {
        history.sort_by_key(|t| t.version);
        let state = replay(&journey, &contact, &history).expect("the history replays").expect("a member");
        assert_eq!(state.stage, "demo_complete");
    }
}
