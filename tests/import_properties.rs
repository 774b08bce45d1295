//! Properties of the CSV importer: arbitrary bytes and CSV-ish text never panic and
//! always give a consistent report (applied + refused = rows) over a repository that
//! replays; and a best-effort import stores exactly what deciding the rows one by
//! one, in file order, would (the reference model).
#![allow(clippy::expect_used, clippy::panic, reason = "a test fails by panicking")]

#[path = "support/import_harness.rs"]
mod import_harness;

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use journeys::import::{ImportOptions, UnknownContacts};
use journeys::{
    InMemoryRepository, JourneyEngine, ManualClock, Move, Repository, Source, Transition, decide_next,
};
use proptest::prelude::*;

use import_harness::{block_on, check, journeys};

fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, ..ProptestConfig::default() }
}

const COLUMNS: [&str; 11] = [
    "contact_id",
    "journey",
    "stage",
    "to_stage",
    "at",
    "from_stage",
    "source",
    "channel",
    "interaction",
    "note",
    "colour",
];

/// Values a field of `column` may hold, valid and not.
fn pool(column: &str) -> &'static [&'static str] {
    match column {
        "contact_id" => &["ada", "bob", "c1", "", "Bad Id", "\"ada\""],
        "journey" => &["referral", "support", "advocate_enrollment", "nowhere", ""],
        "stage" | "to_stage" | "from_stage" => {
            &["lead", "demo", "trial", "lost", "new", "open", "solved", "", "x y"]
        }
        "at" => &[
            "2026-01-05T09:00:00Z",
            "2026-01-04T09:00:00Z",
            "2026-01-06T10:00:00+02:00",
            "2026-01-07T09:00:00.5Z",
            "yesterday",
            "",
        ],
        "source" => &["manual", "automation", "import", "system", "crm", ""],
        "channel" => &["email", "web", "", "E-Mail"],
        "interaction" => &["call", "", "Call"],
        _ => &["\"called, twice\"", "\"a \"\"b\"\"\"", "\"multi\nline\"", "plain", "", "\""],
    }
}

/// A CSV-ish text: a header of known (and unknown) columns in any order, rows of
/// fitting or garbage fields, optional BOM, CRLF or LF, blank lines.
fn csv_ish() -> impl Strategy<Value = String> {
    let header = proptest::sample::subsequence(COLUMNS.to_vec(), 0..=7).prop_shuffle();
    (header, any::<bool>(), any::<bool>(), proptest::collection::vec(any::<u64>(), 0..14)).prop_map(
        |(header, bom, crlf, rows)| {
            let end = if crlf { "\r\n" } else { "\n" };
            let mut text = String::from(if bom { "\u{feff}" } else { "" });
            text.push_str(&header.join(","));
            text.push_str(end);
            for seed in rows {
                let mut bits = seed;
                let mut next = |n: usize| {
                    let pick = (bits % n as u64) as usize;
                    bits = bits.rotate_right(7) ^ 0x9E37_79B9_7F4A_7C15;
                    pick
                };
                let width = match next(10) {
                    0 => header.len() + 1,
                    1 => header.len().saturating_sub(1),
                    _ => header.len(),
                };
                let fields: Vec<&str> = (0..width)
                    .map(|i| {
                        let column = header.get(i).copied().unwrap_or("note");
                        let values = pool(column);
                        values[next(values.len())]
                    })
                    .collect();
                text.push_str(&fields.join(","));
                text.push_str(if next(12) == 0 { "\n\n" } else { end });
            }
            text
        },
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic_and_report_consistently(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check(&bytes);
    }

    #[test]
    fn csv_ish_text_never_panics_and_reports_consistently(text in csv_ish()) {
        check(text.as_bytes());
    }

    #[test]
    fn a_best_effort_import_stores_what_deciding_row_by_row_would(
        rows in proptest::collection::vec((0..3usize, 0..2usize, 0..5usize, 0..6i64), 0..30),
        chunk in 1..8usize,
    ) {
        block_on(differential(&rows, chunk));
    }
}

const CONTACTS: [&str; 3] = ["ada", "bob", "cyd"];
const JOURNEYS: [&str; 2] = ["referral", "support"];
const STAGES: [[&str; 5]; 2] =
    [["lead", "demo", "trial", "lost", "open"], ["new", "open", "solved", "lead", "new"]];

async fn differential(rows: &[(usize, usize, usize, i64)], chunk: usize) {
    let now: DateTime<Utc> = "2026-02-01T00:00:00Z".parse().expect("an instant");
    let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().expect("an instant");
    let mut csv = String::from("contact_id,journey,stage,at\n");
    for &(c, j, s, hours) in rows {
        let at = (start + Duration::hours(hours)).to_rfc3339();
        csv.push_str(&format!("{},{},{},{at}\n", CONTACTS[c], JOURNEYS[j], STAGES[j][s]));
    }
    let engine = JourneyEngine::with_clock(InMemoryRepository::new(), ManualClock::new(now));
    for journey in journeys() {
        engine.define_journey(journey).await.expect("defined");
    }
    let options = ImportOptions::new("model.csv".parse().expect("an id"))
        .unknown_contacts(UnknownContacts::Create)
        .chunk_rows(chunk);
    let report = engine.import_csv(csv.as_bytes(), &options).await.expect("the import runs");

    // The reference: each row decided on its own, in file order, against the
    // histories the rows before it left.
    let journeys = journeys();
    let mut model: HashMap<(usize, usize), Vec<Transition>> = HashMap::new();
    let mut refused = Vec::new();
    for (i, &(c, j, s, hours)) in rows.iter().enumerate() {
        let line = i as u64 + 2;
        let request = Move {
            recorded_at: now,
            ..Move::to_stage(
                CONTACTS[c].parse().expect("an id"),
                STAGES[j][s].parse().expect("a key"),
                start + Duration::hours(hours),
                Source::Import { batch: "model.csv".parse().expect("an id"), line, origin: None },
            )
        };
        let history = model.entry((c, j)).or_default();
        match decide_next(&journeys[j], history, &request) {
            Ok(transition) => history.push(transition),
            Err(e) => refused.push((line, e.code())),
        }
    }
    let reported: Vec<_> = report.errors.iter().map(|e| (e.line, e.error.code())).collect();
    assert_eq!(reported, refused);
    assert_eq!(report.applied + report.refused, report.rows);
    for ((c, j), expected) in model {
        let stored = engine
            .repository()
            .load_history(&CONTACTS[c].parse().expect("an id"), journeys[j].id())
            .await
            .expect("read");
        assert_eq!(stored, expected, "{} in {}", CONTACTS[c], JOURNEYS[j]);
    }
}
