//! The import check that the property tests and the fuzz target share: any input,
//! in each mode, leaves a consistent report and a repository that replays.
#![allow(clippy::expect_used, clippy::panic, reason = "a failed check panics")]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use journeys::import::{ImportOptions, Mode, UnknownContacts};
use journeys::{
    Contact, InMemoryRepository, Journey, JourneyEngine, ManualClock, Repository, SequencePolicy, Source,
    Stage, replay,
};

/// Runs a future whose every await is ready at once, as `InMemoryRepository`'s are.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

/// The journeys the harness defines: a sequenced `referral` and a free `support`.
pub(crate) fn journeys() -> [Journey; 2] {
    let stage = |key: &str| Stage::new(key, key).expect("a stage");
    [
        Journey::new(
            "referral",
            "Referral",
            SequencePolicy::RequiresSequence,
            [stage("lead"), stage("demo"), stage("trial"), stage("lost").exit()],
        )
        .expect("a journey"),
        Journey::new(
            "support",
            "Support",
            SequencePolicy::AnyOrder,
            [stage("new"), stage("open"), stage("solved")],
        )
        .expect("a journey"),
    ]
}

/// The codes an import may stop with instead of reporting.
const FATAL: [&str; 5] =
    ["unknown_column", "duplicate_column", "missing_column", "malformed_csv", "io_error"];

/// Imports `input` in best-effort, atomic and dry-run mode into fresh repositories
/// and checks the report and the stored state. Panics on any inconsistency.
pub(crate) fn check(input: &[u8]) {
    for (mode, dry_run, unknown) in [
        (Mode::BestEffort, false, UnknownContacts::Create),
        (Mode::Atomic, false, UnknownContacts::Create),
        (Mode::BestEffort, true, UnknownContacts::Refuse),
    ] {
        block_on(check_one(input, mode, dry_run, unknown));
    }
}

async fn check_one(input: &[u8], mode: Mode, dry_run: bool, unknown: UnknownContacts) {
    let at = "2026-01-05T09:00:00Z".parse().expect("an instant");
    let engine = JourneyEngine::with_clock(InMemoryRepository::new(), ManualClock::new(at));
    for journey in journeys() {
        engine.define_journey(journey).await.expect("defined");
    }
    engine.add_contact(Contact::new("ada".parse().expect("an id"))).await.expect("added");
    let options = ImportOptions::new("fuzz.csv".parse().expect("an id"))
        .mode(mode)
        .dry_run(dry_run)
        .unknown_contacts(unknown)
        .ignore_unknown_columns(mode == Mode::Atomic)
        .chunk_rows(3);
    let imported = match engine.import_csv(input, &options).await {
        Ok(report) => {
            assert_eq!(report.applied + report.refused, report.rows, "{report:?}");
            let lines: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
            assert!(lines.windows(2).all(|w| w[0] < w[1]), "lines in order: {lines:?}");
            assert!(lines.iter().all(|line| *line >= 2), "no row on the header's line: {lines:?}");
            match mode {
                Mode::BestEffort => assert_eq!(report.errors.len() as u64, report.refused),
                Mode::Atomic => assert!(report.applied == 0 || report.refused == 0, "{report:?}"),
                _ => {}
            }
            if dry_run { 0 } else { report.applied }
        }
        Err(error) => {
            assert!(FATAL.contains(&error.code()), "unexpected {}: {error}", error.code());
            0
        }
    };
    // Every stored history replays, and the import stored one transition per applied
    // row.
    let mut stored = 0;
    for journey in journeys().into_iter().chain([Journey::advocate_enrollment()]) {
        let transitions =
            engine.repository().journey_transitions(journey.id(), None, usize::MAX).await.expect("read");
        stored += transitions.iter().filter(|t| matches!(t.source, Source::Import { .. })).count() as u64;
        let mut contacts: Vec<_> = transitions.iter().map(|t| t.contact.clone()).collect();
        contacts.sort();
        contacts.dedup();
        for contact in contacts {
            let history = engine.repository().load_history(&contact, journey.id()).await.expect("read");
            replay(&journey, &contact, &history).expect("the stored history replays");
        }
    }
    assert_eq!(stored, imported, "one stored transition per applied row");
}
