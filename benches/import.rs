//! Bulk CSV import into `InMemoryRepository`: rows per second through the whole path
//! (parse, check, decide every row, commit in chunks, create unknown contacts), in
//! best-effort, atomic and dry-run mode.
//!
//! The file is generated in the benchmark transitions format (`contact_id, journey,
//! from_stage, to_stage, at, source`): `IMPORT_BENCH_ROWS` rows (default 100,000) of
//! contacts walking the referral and onboarding journeys, in time order. The full
//! N = 1,000,000 file is measured with `examples/import_csv` (see the README).
//!
//! `cargo bench --bench import`

#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]

use chrono::{DateTime, Duration, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use journeys::import::{ImportOptions, Mode, UnknownContacts};
use journeys::{InMemoryRepository, Journey, JourneyEngine, SequencePolicy, Stage};

fn journeys() -> [Journey; 2] {
    let stage = |key: &str| Stage::new(key, key).expect("valid stage");
    [
        Journey::new(
            "referral",
            "Referral",
            SequencePolicy::AnyOrder,
            [
                stage("lead"),
                stage("demo_complete"),
                stage("trial"),
                stage("conversion"),
                stage("closed_lost").exit(),
            ],
        )
        .expect("valid journey"),
        Journey::new(
            "onboarding",
            "Onboarding",
            SequencePolicy::RequiresSequence,
            [stage("enrolled"), stage("first_referral_sent"), stage("first_order_received")],
        )
        .expect("valid journey"),
    ]
}

/// `rows` rows in time order: contact `i` walks 1–4 referral stages and every
/// third contact 1–3 onboarding stages, one hour apart.
fn file(rows: usize) -> Vec<u8> {
    let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().expect("valid instant");
    let referral = ["lead", "demo_complete", "trial", "conversion"];
    let onboarding = ["enrolled", "first_referral_sent", "first_order_received"];
    let mut moves = Vec::with_capacity(rows + 8);
    let mut contact = 0usize;
    while moves.len() < rows {
        let start = t0 + Duration::seconds(contact as i64 * 7);
        let walk = |stages: &[&'static str], n: usize, journey: &'static str, moves: &mut Vec<_>| {
            for (k, stage) in stages.iter().take(n).enumerate() {
                let from = if k == 0 { "" } else { stages[k - 1] };
                moves.push((start + Duration::hours(k as i64), contact, journey, from, *stage));
            }
        };
        walk(&referral, 1 + contact % 4, "referral", &mut moves);
        if contact % 3 == 0 {
            walk(&onboarding, 1 + contact % 3, "onboarding", &mut moves);
        }
        contact += 1;
    }
    moves.truncate(rows);
    moves.sort_by_key(|m| (m.0, m.1));
    let mut text = String::from("contact_id,journey,from_stage,to_stage,at,source\n");
    for (at, contact, journey, from, to) in moves {
        let at = at.format("%Y-%m-%dT%H:%M:%SZ");
        text.push_str(&format!("c{contact:07},{journey},{from},{to},{at},import\n"));
    }
    text.into_bytes()
}

fn import(c: &mut Criterion) {
    let rows = std::env::var("IMPORT_BENCH_ROWS").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let data = file(rows);
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    let engine = || {
        runtime.block_on(async {
            let engine = JourneyEngine::new(InMemoryRepository::new());
            for journey in journeys() {
                engine.define_journey(journey).await.expect("defined");
            }
            engine
        })
    };
    let mut group = c.benchmark_group("import");
    group.sample_size(10).throughput(Throughput::Elements(rows as u64));
    for (name, mode, dry_run) in [
        ("best_effort", Mode::BestEffort, false),
        ("atomic", Mode::Atomic, false),
        ("dry_run", Mode::BestEffort, true),
    ] {
        let options = ImportOptions::new("bench.csv".parse().expect("valid id"))
            .mode(mode)
            .dry_run(dry_run)
            .unknown_contacts(UnknownContacts::Create);
        group.bench_function(name, |b| {
            b.iter_batched(
                engine,
                |engine| {
                    let report =
                        runtime.block_on(engine.import_csv(data.as_slice(), &options)).expect("imported");
                    assert_eq!(report.applied, rows as u64, "every generated row applies");
                    engine
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, import);
criterion_main!(benches);
