//! The six benchmark dashboard queries and the CSV load, single thread.
//!
//! `ANALYTICS_CSV=/path/transitions_n1000000_s42.csv cargo bench --bench analytics`
//! measures the N = 1,000,000 data set (targets: Q1–Q6 together ≤ 1/50 of DuckDB's
//! time in the same run, load ≤ 400 ms). Without `ANALYTICS_CSV` it measures the
//! N = 10,000 test fixture, so the bench always runs and never rots.

#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]

#[path = "../tests/bench_queries/mod.rs"]
mod bench_queries;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/transitions_n10000_s42.csv");

fn path() -> String {
    std::env::var("ANALYTICS_CSV").unwrap_or_else(|_| {
        eprintln!("ANALYTICS_CSV is not set: measuring the N = 10,000 fixture");
        FIXTURE.to_owned()
    })
}

fn load(c: &mut Criterion) {
    let path = path();
    let log = bench_queries::load(&path);
    let mut group = c.benchmark_group("load");
    group.sample_size(10).throughput(Throughput::Elements(log.len() as u64));
    group.bench_function("csv", |b| b.iter(|| black_box(bench_queries::load(&path))));
    group.finish();
}

fn queries(c: &mut Criterion) {
    let log = bench_queries::load(&path());
    let mut group = c.benchmark_group("queries");
    group.throughput(Throughput::Elements(log.len() as u64));
    for (i, name) in bench_queries::NAMES.iter().enumerate() {
        group.bench_function(*name, |b| b.iter(|| black_box(bench_queries::run(&log, i))));
    }
    group.bench_function("Q1-Q6", |b| {
        b.iter(|| {
            for i in 0..bench_queries::NAMES.len() {
                black_box(bench_queries::run(&log, i));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, queries, load);
criterion_main!(benches);
