//! Bulk CSV import and export through the engine: every refusal code, both modes,
//! dry runs, the CSV dialect (BOM, quoting, CRLF, delimiter), the precondition
//! column, provenance, re-runs and the export → import round trip.
#![allow(clippy::expect_used, clippy::panic, reason = "a test fails by panicking")]

mod support;

use std::sync::Arc;

use journeys::analytics::{Scope, TransitionLog};
use journeys::import::{ImportOptions, ImportReport, Mode, UnknownContacts};
use journeys::{
    Contact, InMemoryRepository, JourneyEngine, ManualClock, Repository, Source, SourceKind, Transition,
};
use support::id;

type Engine = JourneyEngine<InMemoryRepository, Arc<ManualClock>>;

const NOW: &str = "2026-02-01T12:00:00Z";

/// The referral journey (sequenced) and a free journey `support` (new, open,
/// solved), with contact `ada` stored.
async fn engine() -> Engine {
    let engine = JourneyEngine::with_clock(InMemoryRepository::new(), Arc::new(ManualClock::new(id(NOW))));
    engine.define_journey(support::referral()).await.expect("defined");
    let stages = ["new", "open", "solved"].map(String::from);
    engine.define_journey(support::free_journey("support", &stages)).await.expect("defined");
    engine.add_contact(Contact::new(id("ada"))).await.expect("added");
    engine
}

fn options() -> ImportOptions {
    ImportOptions::new(id("jan.csv")).unknown_contacts(UnknownContacts::Create)
}

async fn import(engine: &Engine, csv: &str, options: &ImportOptions) -> ImportReport {
    let report = engine.import_csv(csv.as_bytes(), options).await.expect("the import runs");
    assert_eq!(report.applied + report.refused, report.rows, "{report:?}");
    report
}

/// `(line, code)` of each refused row.
fn refusals(report: &ImportReport) -> Vec<(u64, &'static str)> {
    report.errors.iter().map(|e| (e.line, e.error.code())).collect()
}

async fn history(engine: &Engine, contact: &str, journey: &str) -> Vec<Transition> {
    engine.history(&id(contact), &id(journey)).await.expect("a valid history")
}

fn stages(history: &[Transition]) -> Vec<&str> {
    history.iter().map(|t| t.to.as_str()).collect()
}

#[tokio::test]
async fn a_contact_walks_through_several_stages_row_by_row_with_provenance() {
    let engine = engine().await;
    let csv = "contact_id,journey,stage,at,source\n\
               ada,referral,lead,2026-01-05T09:00:00Z,manual\n\
               ada,referral,demo_complete,2026-01-06T09:00:00Z,automation\n\
               ada,referral,trial,2026-01-07T09:00:00Z,\n\
               ada,referral,conversion,2026-01-08T09:00:00Z,import\n";
    let report = import(&engine, csv, &options()).await;
    assert_eq!((report.rows, report.applied, report.refused), (4, 4, 0));
    let history = history(&engine, "ada", "referral").await;
    assert_eq!(stages(&history), ["lead", "demo_complete", "trial", "conversion"]);
    let origins = [Some(SourceKind::Manual), Some(SourceKind::Automation), None, Some(SourceKind::Import)];
    for (i, t) in history.iter().enumerate() {
        assert_eq!(t.version, i as u64 + 1);
        assert_eq!(t.source, Source::Import { batch: id("jan.csv"), line: i as u64 + 2, origin: origins[i] });
        assert_eq!(t.recorded_at, id::<chrono::DateTime<chrono::Utc>>(NOW));
    }
    assert_eq!(history[1].occurred_at, id::<chrono::DateTime<chrono::Utc>>("2026-01-06T09:00:00Z"));
}

#[tokio::test]
async fn every_refusal_has_its_code_line_and_a_message_naming_the_value() {
    let engine = engine().await;
    let csv = "contact_id,journey,stage,at,from_stage,source\n\
               ada,referral,lead,2026-01-05T09:00:00Z,,\n\
               ada,nowhere,lead,2026-01-05T09:00:00Z,,\n\
               ada,referral,dreaming,2026-01-05T10:00:00Z,lead,\n\
               ada,referral,trial,2026-01-05T10:00:00Z,lead,\n\
               ada,advocate_enrollment,enrolled,2026-01-05T10:00:00Z,prospect,\n\
               ada,referral,demo_complete,2026-01-05T10:00:00Z,trial,\n\
               ada,referral,demo_complete,last tuesday,lead,\n\
               ada,referral,demo_complete,2026-01-04T10:00:00Z,lead,\n\
               ,referral,demo_complete,2026-01-05T10:00:00Z,lead,\n\
               ada,referral,demo_complete\n\
               ada,referral,lead,2026-01-05T11:00:00Z,lead,\n\
               ada,referral,demo_complete,2026-01-05T11:00:00Z,lead,crm\n\
               Bad Id ,referral,lead,2026-01-05T11:00:00Z,,\n\
               ada,referral,demo_complete,2026-01-05T12:00:00Z,lead,manual\n";
    let report = import(&engine, csv, &options().unknown_contacts(UnknownContacts::Refuse)).await;
    assert_eq!(
        refusals(&report),
        [
            (3, "unknown_journey"),
            (4, "unknown_stage"),
            (5, "sequence_violation"),
            (6, "system_journey"),
            (7, "precondition_mismatch"),
            (8, "bad_timestamp"),
            (9, "earlier_than_last_move"),
            (10, "missing_field"),
            (11, "malformed_csv"),
            (12, "already_in_stage"),
            (13, "invalid_value"),
            (14, "invalid_id"),
        ]
    );
    assert_eq!((report.rows, report.applied), (14, 2));
    let message = |line: u64| {
        report.errors.iter().find(|e| e.line == line).map(|e| e.error.to_string()).expect("refused")
    };
    for (line, value) in [
        (3, "nowhere"),
        (4, "dreaming"),
        (5, "trial"),
        (7, "trial"),
        (8, "last tuesday"),
        (13, "crm"),
        (14, "Bad Id"),
    ] {
        assert!(message(line).contains(value), "line {line}: {}", message(line));
    }
    assert!(message(10).contains("contact_id"), "{}", message(10));
    assert_eq!(report.errors[0].contact.as_deref(), Some("ada"));
    assert_eq!(stages(&history(&engine, "ada", "referral").await), ["lead", "demo_complete"]);

    let unknown = "contact_id,journey,stage\nbob,referral,lead\n";
    let report = import(&engine, unknown, &options().unknown_contacts(UnknownContacts::Refuse)).await;
    assert_eq!(refusals(&report), [(2, "unknown_contact")]);
    assert!(report.errors[0].error.to_string().contains("bob"));
    assert!(engine.contact(&id("bob")).await.is_err(), "a refused contact is not created");
}

#[tokio::test]
async fn unknown_contacts_are_created_as_add_contact_does() {
    let engine = engine().await;
    let report =
        import(&engine, "contact_id,journey,stage\nbob,referral,lead\ncyd,referral,trial\n", &options())
            .await;
    assert_eq!(refusals(&report), [(3, "sequence_violation")]);
    assert_eq!(engine.contact(&id("bob")).await.expect("created").id, "bob");
    let enrollment = history(&engine, "bob", "advocate_enrollment").await;
    assert_eq!(stages(&enrollment), ["prospect"]);
    // A contact whose rows are all refused is not created.
    assert!(engine.contact(&id("cyd")).await.is_err());
    // Rows without `at` happen at the import's time.
    assert_eq!(
        history(&engine, "bob", "referral").await[0].occurred_at,
        id::<chrono::DateTime<chrono::Utc>>(NOW)
    );
}

const MIXED: &str = "contact_id,journey,stage,at\n\
                     ada,referral,lead,2026-01-05T09:00:00Z\n\
                     ada,referral,demo_complete,2026-01-06T09:00:00Z\n\
                     bob,support,open,2026-01-06T09:00:00Z\n\
                     ada,referral,conversion,2026-01-07T09:00:00Z\n\
                     bob,support,new,2026-01-07T09:00:00Z\n";

#[tokio::test]
async fn atomic_mode_applies_all_rows_or_none() {
    let engine = engine().await;
    let before = engine.repository().fork();
    let report = import(&engine, MIXED, &options().mode(Mode::Atomic)).await;
    assert_eq!(refusals(&report), [(5, "sequence_violation")]);
    assert_eq!((report.applied, report.refused), (0, 5));
    assert!(history(&engine, "ada", "referral").await.is_empty());
    assert!(engine.contact(&id("bob")).await.is_err());
    assert_eq!(
        engine.repository().journey_transitions(&id("support"), None, 10).await.expect("read"),
        before.journey_transitions(&id("support"), None, 10).await.expect("read")
    );

    // Each row is checked against the state the rows before it leave.
    let valid = MIXED.replace("ada,referral,conversion", "ada,referral,trial");
    let report = import(&engine, &valid, &options().mode(Mode::Atomic)).await;
    assert_eq!((report.applied, report.refused), (5, 0));
    assert_eq!(stages(&history(&engine, "ada", "referral").await), ["lead", "demo_complete", "trial"]);
    assert_eq!(stages(&history(&engine, "bob", "support").await), ["open", "new"]);

    // An atomic batch groups its rows every chunk of rows and stores the same.
    let grouped = crate::engine().await;
    let report = import(&grouped, &valid, &options().mode(Mode::Atomic).chunk_rows(2)).await;
    assert_eq!((report.applied, report.refused), (5, 0));
    for (contact, journey) in [("ada", "referral"), ("bob", "support"), ("bob", "advocate_enrollment")] {
        assert_eq!(history(&grouped, contact, journey).await, history(&engine, contact, journey).await);
    }
}

#[tokio::test]
async fn each_created_contact_enters_the_system_journey_under_its_own_id() {
    let engine = engine().await;
    let csv = "contact_id,journey,stage\nbob,referral,lead\ncyd,support,new\ndee,referral,lead\n";
    let report = import(&engine, csv, &options()).await;
    assert_eq!((report.applied, report.refused), (3, 0));
    let added = engine.add_contact(Contact::new(id("eve"))).await.expect("added");
    for contact in ["bob", "cyd", "dee"] {
        let entry = history(&engine, contact, "advocate_enrollment").await;
        assert_eq!(entry, [Transition { contact: id(contact), ..added.clone() }], "{contact}");
    }
}

#[tokio::test]
async fn best_effort_commits_valid_rows_in_chunks_and_reports_the_rest() {
    let engine = engine().await;
    let report = import(&engine, MIXED, &options().chunk_rows(1)).await;
    assert_eq!(refusals(&report), [(5, "sequence_violation")]);
    assert_eq!((report.applied, report.refused), (4, 1));
    assert_eq!(stages(&history(&engine, "ada", "referral").await), ["lead", "demo_complete"]);
    assert_eq!(stages(&history(&engine, "bob", "support").await), ["open", "new"]);
}

/// Input that fails to read once `rows` are read.
fn failing_after(rows: &str) -> impl std::io::Read + '_ {
    struct Broken;
    impl std::io::Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk gone"))
        }
    }
    std::io::Read::chain(rows.as_bytes(), Broken)
}

#[tokio::test]
async fn a_failure_to_read_stops_the_import_after_the_rows_read_before_it() {
    let csv = "contact_id,journey,stage,at\n\
               ada,referral,lead,2026-01-05T09:00:00Z\n\
               bob,support,open,2026-01-05T10:00:00Z\n\
               ada,referral,demo_complete,2026-01-06T09:00:00Z\n";
    // Best effort, one row per chunk: every row read before the failure is committed.
    let best_effort = engine().await;
    let error = best_effort.import_csv(failing_after(csv), &options().chunk_rows(1)).await.unwrap_err();
    assert!(error.to_string().contains("disk gone"), "{error}");
    assert_eq!(stages(&history(&best_effort, "ada", "referral").await), ["lead", "demo_complete"]);
    assert_eq!(stages(&history(&best_effort, "bob", "support").await), ["open"]);
    // Atomic: nothing.
    let atomic = engine().await;
    assert!(atomic.import_csv(failing_after(csv), &options().mode(Mode::Atomic)).await.is_err());
    assert!(history(&atomic, "ada", "referral").await.is_empty());
}

#[tokio::test]
async fn a_dry_run_reports_the_same_and_writes_nothing() {
    for mode in [Mode::Atomic, Mode::BestEffort] {
        let real = engine().await;
        let dry = engine().await;
        let wet_report = import(&real, MIXED, &options().mode(mode).chunk_rows(2)).await;
        let dry_report = import(&dry, MIXED, &options().mode(mode).chunk_rows(2).dry_run(true)).await;
        assert!(dry_report.dry_run);
        assert_eq!((dry_report.applied, dry_report.refused), (wet_report.applied, wet_report.refused));
        assert_eq!(dry_report.errors, wet_report.errors);
        assert!(history(&dry, "ada", "referral").await.is_empty(), "{mode:?}");
        assert!(dry.contact(&id("bob")).await.is_err(), "{mode:?}");
    }
}

#[tokio::test]
async fn the_from_stage_column_is_a_precondition() {
    let engine = engine().await;
    let csv = "contact_id,journey,from_stage,to_stage\n\
               ada,support,open,new\n\
               ada,support,,new\n\
               ada,support,,open\n\
               ada,support,new,open\n\
               ada,support,new,solved\n";
    let report = import(&engine, csv, &options()).await;
    assert_eq!(
        refusals(&report),
        [(2, "precondition_mismatch"), (4, "precondition_mismatch"), (6, "precondition_mismatch")]
    );
    assert_eq!(stages(&history(&engine, "ada", "support").await), ["new", "open"]);
    assert!(report.errors[2].error.to_string().contains("open"), "{}", report.errors[2].error);
}

#[tokio::test]
async fn the_csv_dialect_bom_quoting_crlf_and_delimiter() {
    let engine = engine().await;
    let csv = "\u{feff}\"contact_id\",journey,stage,channel,note\r\n\
               \"ada\",support,new,email,\"called, twice\r\nthen wrote\"\r\n\
               ada,support,open,phone,\"said \"\"yes\"\"\"\r\n\
               ada,support,nowhere,,\r\n";
    let report = import(&engine, csv, &options()).await;
    // The quoted note spans two lines (and a note may not hold a line break): the
    // next rows are on lines 4 and 5.
    assert_eq!(refusals(&report), [(2, "invalid_id"), (5, "unknown_stage")]);
    assert!(report.errors[0].error.to_string().contains("called, twice"));
    let history = history(&engine, "ada", "support").await;
    let tp = history[0].touchpoint.clone().expect("a touchpoint");
    assert_eq!((tp.channel.as_str(), tp.note.as_ref().map(|n| n.as_str())), ("phone", Some("said \"yes\"")));
    assert_eq!(history[0].source, Source::Import { batch: id("jan.csv"), line: 4, origin: None });

    let semicolons = "contact_id;journey;stage\r\n\r\nada;support;solved\r\n";
    let report = import(&engine, semicolons, &options().delimiter(b';')).await;
    assert_eq!((report.applied, report.refused), (1, 0));
}

#[tokio::test]
async fn header_problems_stop_the_import_unless_unknown_columns_are_ignored() {
    let engine = engine().await;
    let csv = "contact_id,journey,stage,colour\nada,support,new,red\n";
    let error = engine.import_csv(csv.as_bytes(), &options()).await.expect_err("refused");
    assert_eq!(error.code(), "unknown_column");
    assert!(error.to_string().contains("colour"));
    let report = import(&engine, csv, &options().ignore_unknown_columns(true)).await;
    assert_eq!(report.applied, 1);
    let error = engine.import_csv("contact_id,stage\n".as_bytes(), &options()).await.expect_err("refused");
    assert_eq!(error.code(), "missing_column");
    let empty = import(&engine, "", &options()).await;
    assert_eq!(empty.rows, 0);
}

#[tokio::test]
async fn the_benchmark_format_imports_as_is() {
    let engine = JourneyEngine::with_clock(InMemoryRepository::new(), Arc::new(ManualClock::new(id(NOW))));
    let referral = ["lead", "demo_complete", "trial", "conversion", "closed_lost"].map(String::from);
    engine.define_journey(support::free_journey("referral", &referral)).await.expect("defined");
    let csv = "contact_id,journey,from_stage,to_stage,at,source\n\
               c0691935,referral,,lead,2026-01-01T00:00:03Z,import\n\
               c0005080,referral,,lead,2026-01-01T00:00:27Z,automation\n\
               c0691935,referral,lead,trial,2026-01-02T00:00:03Z,manual\n\
               c0691935,referral,trial,demo_complete,2026-01-03T00:00:03Z,system\n";
    let report = import(&engine, csv, &options()).await;
    assert_eq!((report.applied, report.refused), (4, 0));
    let history = history(&engine, "c0691935", "referral").await;
    assert_eq!(stages(&history), ["lead", "trial", "demo_complete"]);
    assert_eq!(history[2].source.reported_kind(), "system");
}

#[tokio::test]
async fn running_a_batch_again_appends_nothing_twice() {
    let engine = engine().await;
    let first = import(&engine, MIXED, &options()).await;
    let again = import(&engine, MIXED, &options()).await;
    assert_eq!((again.applied, again.refused), (first.applied, first.refused));
    assert_eq!(history(&engine, "ada", "referral").await.len(), 2);
    assert_eq!(history(&engine, "bob", "support").await.len(), 2);
    // Another batch id is another import: its rows are decided anew.
    let other = import(&engine, MIXED, &ImportOptions::new(id("feb.csv"))).await;
    assert_eq!(other.applied, 0);
}

#[tokio::test]
async fn export_then_import_into_an_empty_repository_reproduces_histories_and_analytics() {
    let engine = engine().await;
    let sales = Source::manual(id("sales"));
    for (contact, stage) in [("ada", "lead"), ("ada", "demo_complete"), ("ada", "closed_lost")] {
        engine.move_contact(&id(contact), &id("referral"), &id(stage), sales.clone()).await.expect("moved");
    }
    engine.add_contact(Contact::new(id("bob"))).await.expect("added");
    engine.move_contact(&id("bob"), &id("referral"), &id("lead"), sales.clone()).await.expect("moved");
    let csv = "contact_id,journey,stage,at,source,channel,interaction,note\n\
               bob,support,new,2026-01-05T09:00:00.250Z,automation,email,call,\"ok, \"\"fine\"\"\"\n\
               ada,support,solved,2026-01-06T09:00:00+02:00,,web,,\n\
               bob,support,open,2026-01-07T09:00:00Z,,,,\n";
    import(&engine, csv, &options()).await;

    let copy = JourneyEngine::with_clock(InMemoryRepository::new(), Arc::new(ManualClock::new(id(NOW))));
    for journey in ["referral", "support"] {
        copy.define_journey((*engine.journey(&id(journey)).await.expect("defined")).clone())
            .await
            .expect("defined");
        let exported = engine.export_csv(&id(journey), Vec::new()).await.expect("exported");
        let report = copy
            .import_csv(
                exported.as_slice(),
                &ImportOptions::new(id("copy.csv")).unknown_contacts(UnknownContacts::Create),
            )
            .await
            .expect("imported");
        assert_eq!(report.refused, 0, "{report:?}");
        let original = engine.repository().journey_transitions(&id(journey), None, 100).await.expect("read");
        let copied = copy.repository().journey_transitions(&id(journey), None, 100).await.expect("read");
        let key = |t: &Transition| {
            (
                t.contact.clone(),
                t.version,
                t.from.clone(),
                t.to.clone(),
                t.occurred_at,
                t.source.reported_kind(),
                t.touchpoint.clone(),
            )
        };
        assert_eq!(copied.iter().map(key).collect::<Vec<_>>(), original.iter().map(key).collect::<Vec<_>>());
        assert_eq!(report.applied, original.len() as u64);
        for contact in ["ada", "bob"] {
            assert_eq!(
                copy.membership(&id(contact), &id(journey))
                    .await
                    .expect("state")
                    .map(|s| (s.stage, s.version)),
                engine
                    .membership(&id(contact), &id(journey))
                    .await
                    .expect("state")
                    .map(|s| (s.stage, s.version)),
            );
        }
        // The dashboard agrees: stage counts, reach, and flows split by source (an
        // imported row keeps the kind of source it named).
        let definition = (*engine.journey(&id(journey)).await.expect("defined")).clone();
        let log = |transitions: &[Transition]| {
            TransitionLog::from_transitions([definition.clone()], transitions).expect("a log")
        };
        let (before, after) = (log(&original), log(&copied));
        let (before, after) =
            (before.journey(journey).expect("logged"), after.journey(journey).expect("logged"));
        assert_eq!(after.current_stage_counts(Scope::all()), before.current_stage_counts(Scope::all()));
        assert_eq!(after.reached(Scope::all()), before.reached(Scope::all()));
        assert_eq!(after.flows_by_source(Scope::all()), before.flows_by_source(Scope::all()));
        // Export again: the same file, a fixed point.
        let again = copy.export_csv(&id(journey), Vec::new()).await.expect("exported");
        assert_eq!(again, exported);
    }
}

#[tokio::test]
async fn many_made_up_journeys_are_each_refused() {
    let engine = engine().await;
    let mut csv = String::from("contact_id,journey,stage\n");
    for n in 0..200 {
        csv.push_str(&format!("ada,made-up-{n},lead\n"));
    }
    csv.push_str("ada,support,new\nada,made-up-7,lead\n");
    let report = import(&engine, &csv, &options()).await;
    assert_eq!((report.applied, report.refused), (1, 201));
    assert!(report.errors.iter().all(|e| e.error.code() == "unknown_journey"));
    assert!(report.errors[200].error.to_string().contains("made-up-7"));
}
