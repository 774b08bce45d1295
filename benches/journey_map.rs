//! Journey map and gap report over 1 M contacts and about 10 M touchpoints, single
//! thread, one pass each. Target: ≤ 20 ns per touchpoint for both together.
//!
//! ```text
//! cargo bench --bench journey_map                                  # 1 M contacts
//! JOURNEY_MAP_BENCH_CONTACTS=100000 cargo bench --bench journey_map  # smaller
//! ```
//!
//! Building the log (interning, grouping by contact) is setup, timed once and printed;
//! the benches time the reports over the built log. On a shared machine wall time
//! includes waiting for a core, so on Linux the bench also prints each report's
//! on-CPU time per touchpoint, read from `/proc/thread-self/schedstat`.

#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]

#[path = "../tests/support/journey_data.rs"]
mod journey_data;

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use journey_data::{Record, Size, generate, sales_journey};
use journeys::analytics::Scope;
use journeys::journey_map::{GapOptions, GapReport, InteractionLog, JourneyMap, MapOptions};

fn contacts() -> usize {
    std::env::var("JOURNEY_MAP_BENCH_CONTACTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000)
}

fn build_log() -> InteractionLog {
    // 12 per contact on average before lost contacts stop: about 10 per contact in all.
    let size = Size { contacts: contacts(), touchpoints_per_contact: 12, advocate_every: 50 };
    let started = Instant::now();
    let mut builder = InteractionLog::builder(&sales_journey());
    generate(size, 42, |record| match record {
        Record::Transition(t) => builder.transition(&t).expect("a transition of the journey"),
        Record::Touchpoint(tp) => {
            builder.touchpoint(&tp).expect("a touchpoint");
        }
    });
    let log = builder.build();
    eprintln!(
        "journey_map bench: {} contacts, {} touchpoints, {} transitions; generated and built in {:.1?}",
        log.contact_count(),
        log.touchpoint_count(),
        log.transition_count(),
        started.elapsed()
    );
    log
}

/// Nanoseconds this thread has run on a CPU, if the kernel says (Linux).
fn on_cpu_nanos() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok()?.split_whitespace().next()?.parse().ok()
}

/// The median on-CPU time of `runs` runs of `report`, per touchpoint.
fn on_cpu_per_touchpoint(name: &str, touchpoints: u64, runs: usize, mut report: impl FnMut()) {
    let mut times: Vec<u64> = (0..runs)
        .filter_map(|_| {
            let before = on_cpu_nanos()?;
            report();
            Some(on_cpu_nanos()? - before)
        })
        .collect();
    times.sort_unstable();
    if let Some(median) = times.get(times.len() / 2) {
        eprintln!(
            "journey_map bench: {name}: median on-CPU {:.1} ms, {:.1} ns per touchpoint",
            *median as f64 / 1e6,
            *median as f64 / touchpoints as f64
        );
    }
}

fn reports(c: &mut Criterion) {
    let log = build_log();
    let touchpoints = log.touchpoint_count() as u64;
    let map = || black_box(JourneyMap::compute(&log, Scope::all(), &MapOptions::default()));
    let gaps = || black_box(GapReport::compute(&log, Scope::all(), &GapOptions::default()));
    on_cpu_per_touchpoint("journey map", touchpoints, 7, || drop(map()));
    on_cpu_per_touchpoint("gap report", touchpoints, 7, || drop(gaps()));
    on_cpu_per_touchpoint("journey map + gap report", touchpoints, 7, || drop((map(), gaps())));
    let mut group = c.benchmark_group("journey_map");
    group.sample_size(10);
    group.throughput(Throughput::Elements(touchpoints));
    group.bench_function("journey_map", |b| {
        b.iter(|| black_box(JourneyMap::compute(&log, Scope::all(), &MapOptions::default())));
    });
    group.bench_function("gap_report", |b| {
        b.iter(|| black_box(GapReport::compute(&log, Scope::all(), &GapOptions::default())));
    });
    group.bench_function("journey_map_and_gap_report", |b| {
        b.iter(|| {
            let map = JourneyMap::compute(&log, Scope::all(), &MapOptions::default());
            let gaps = GapReport::compute(&log, Scope::all(), &GapOptions::default());
            black_box((map, gaps))
        });
    });
    group.finish();
}

criterion_group!(benches, reports);
criterion_main!(benches);
