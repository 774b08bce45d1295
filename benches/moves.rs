//! Validated moves per second: through the pure core (`decide_from`, and `decide`
//! building each transition) and through the engine on `InMemoryRepository`. Targets
//! on 2 cores, single thread: core ≥ 10 M moves/s, engine ≥ 2 M moves/s.
//!
//! `cargo bench --bench moves`

#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]

#[path = "../tests/support/moves_data.rs"]
mod moves_data;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use moves_data::{Walks, core_walks, engine_walks, transitions_walks};

const CONTACTS: usize = 10_000;

fn pure_core(c: &mut Criterion) {
    let walks = Walks::new(CONTACTS);
    let mut group = c.benchmark_group("pure_core");
    group.throughput(Throughput::Elements(walks.moves() as u64));
    group.bench_function("decide_walk_sequenced", |b| b.iter(|| black_box(core_walks(&walks))));
    group.bench_function("decide_walk_sequenced_transitions", |b| {
        b.iter(|| black_box(transitions_walks(&walks)))
    });
    group.finish();
}

fn engine_in_memory(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let walks = Walks::new(CONTACTS);
    let mut group = c.benchmark_group("engine_in_memory");
    group.throughput(Throughput::Elements(walks.moves() as u64));
    group.sample_size(10);
    group.bench_function("move_walk_sequenced", |b| {
        b.iter_batched(
            || walks.fresh_engine(&runtime),
            |engine| {
                engine_walks(&walks, &runtime, &engine);
                engine
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, pure_core, engine_in_memory);
criterion_main!(benches);
