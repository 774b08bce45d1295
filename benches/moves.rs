//! Validated moves per second: through the pure core (`decide_from`, and `decide`
//! building each transition) and through the engine on `InMemoryRepository`. Targets on 2 cores, single thread: core ≥ 10 M
//! moves/s, engine ≥ 2 M moves/s.
//!
//! `cargo bench --bench moves`

#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]

use std::hint::black_box;

use chrono::{DateTime, Duration, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use journeys::{
    Contact, ContactId, InMemoryRepository, Journey, JourneyEngine, MembershipState, Move, SequencePolicy,
    Source, Stage, StageKey, Standing, decide, decide_from,
};

const CONTACTS: usize = 10_000;

fn referral() -> Journey {
    let stages =
        ["lead", "demo_complete", "trial", "conversion"].map(|k| Stage::new(k, k).expect("valid stage"));
    Journey::new("referral", "Referral", SequencePolicy::RequiresSequence, stages).expect("valid journey")
}

fn t0() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + Duration::days(20_000)
}

fn contacts() -> Vec<ContactId> {
    (0..CONTACTS).map(|i| format!("c{i:07}").parse().expect("valid id")).collect()
}

fn stage_keys(journey: &Journey) -> Vec<StageKey> {
    journey.stages().map(|s| s.key().clone()).collect()
}

fn pure_core(c: &mut Criterion) {
    let journey = referral();
    let stages = stage_keys(&journey);
    let ids = contacts();
    let source = Source::manual("bench".parse().expect("valid actor"));
    // Every contact walks every stage in order: one `decide` per move.
    let requests: Vec<Vec<Move>> = ids
        .iter()
        .map(|id| {
            stages.iter().map(|s| Move::to_stage(id.clone(), s.clone(), t0(), source.clone())).collect()
        })
        .collect();
    let mut group = c.benchmark_group("pure_core");
    group.throughput(Throughput::Elements((CONTACTS * stages.len()) as u64));
    // What the target counts: each move decided from where the contact stands, the
    // standing after it kept for the next.
    group.bench_function("decide_walk_sequenced", |b| {
        b.iter(|| {
            let mut accepted = 0usize;
            for walk in &requests {
                let mut standing: Option<Standing> = None;
                for request in walk {
                    standing = Some(decide_from(&journey, standing, request).expect("legal move").standing());
                    accepted += 1;
                }
                black_box(standing);
            }
            black_box(accepted)
        });
    });
    // The same walk building each move's transition and the state after it: the
    // cost of owning the ids.
    group.bench_function("decide_walk_sequenced_transitions", |b| {
        b.iter(|| {
            let mut accepted = 0usize;
            for walk in &requests {
                let mut state: Option<MembershipState> = None;
                for request in walk {
                    let t = decide(&journey, state.as_ref(), request).expect("legal move");
                    state = Some(MembershipState::after(&t));
                    accepted += 1;
                }
            }
            black_box(accepted)
        });
    });
    group.finish();
}

fn engine_in_memory(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let journey = referral();
    let stages = stage_keys(&journey);
    let ids = contacts();
    let source = Source::manual("bench".parse().expect("valid actor"));
    let fresh_engine = || {
        runtime.block_on(async {
            let engine = JourneyEngine::new(InMemoryRepository::new());
            engine.define_journey(referral()).await.expect("define");
            for id in &ids {
                engine.add_contact(Contact::new(id.clone())).await.expect("add");
            }
            engine
        })
    };
    let mut group = c.benchmark_group("engine_in_memory");
    group.throughput(Throughput::Elements((CONTACTS * stages.len()) as u64));
    group.sample_size(10);
    group.bench_function("move_walk_sequenced", |b| {
        b.iter_batched(
            fresh_engine,
            |engine| {
                runtime.block_on(async {
                    for stage in &stages {
                        for id in &ids {
                            engine
                                .move_contact(id, journey.id(), stage, source.clone())
                                .await
                                .expect("legal move");
                        }
                    }
                });
                engine
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, pure_core, engine_in_memory);
criterion_main!(benches);
