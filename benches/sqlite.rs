//! SQLite storage: moves per second through the engine with one transaction per
//! move, moves per second in batched commits, and transitions per second when
//! loading a journey's log for analytics. A database file in a temporary directory,
//! WAL mode, `synchronous = NORMAL`.
//!
//! `cargo bench --features sqlite --bench sqlite`

#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]
#![allow(clippy::expect_used, reason = "a bench fails by panicking")]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use journeys::{
    Append, Commit, Contact, ContactId, Journey, JourneyEngine, LogPosition, MembershipState, Move,
    Repository, SequencePolicy, Source, SqliteRepository, Stage, StageKey, decide,
};

const CONTACTS: usize = 2_000;
const BATCH: usize = 100;
const LOG_CONTACTS: usize = 5_000;
const PAGE: usize = 1_000;

fn back_and_forth() -> Journey {
    let stages = ["a", "b"].map(|k| Stage::new(k, k).expect("valid stage"));
    Journey::new("pingpong", "Ping-pong", SequencePolicy::AnyOrder, stages).expect("valid journey")
}

fn contacts(n: usize) -> Vec<ContactId> {
    (0..n).map(|i| format!("c{i:07}").parse().expect("valid id")).collect()
}

fn stage(key: &str) -> StageKey {
    key.parse().expect("valid stage")
}

/// What every bench starts from: a runtime, a new database file holding the
/// ping-pong journey, and a source for the moves.
struct Setup {
    runtime: tokio::runtime::Runtime,
    // Kept so the database file lives as long as the bench.
    _dir: tempfile::TempDir,
    journey: Journey,
    repo: SqliteRepository,
    source: Source,
}

fn setup() -> Setup {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let dir = tempfile::tempdir().expect("a directory");
    let repo = SqliteRepository::open(dir.path().join("bench.db")).expect("opened");
    let journey = back_and_forth();
    runtime.block_on(repo.insert_journey(&journey)).expect("define");
    Setup { runtime, _dir: dir, journey, repo, source: Source::manual("bench".parse().expect("valid actor")) }
}

fn engine_one_transaction_per_move(c: &mut Criterion) {
    let Setup { runtime, _dir, journey, repo, source } = setup();
    let ids = contacts(CONTACTS);
    let engine = runtime.block_on(async {
        let engine = JourneyEngine::new(repo);
        for id in &ids {
            engine.add_contact(Contact::new(id.clone())).await.expect("add");
            engine.move_contact(id, journey.id(), &stage("a"), source.clone()).await.expect("enter");
        }
        engine
    });
    let mut in_b = vec![false; CONTACTS];
    let mut next = 0;
    let mut group = c.benchmark_group("sqlite_engine");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.bench_function("move_one_transaction_each", |b| {
        b.iter(|| {
            let i = next % CONTACTS;
            next += 1;
            let to = if in_b[i] { stage("a") } else { stage("b") };
            in_b[i] = !in_b[i];
            runtime
                .block_on(engine.move_contact(&ids[i], journey.id(), &to, source.clone()))
                .expect("legal move")
        });
    });
    group.finish();
}

fn batched_commits(c: &mut Criterion) {
    let Setup { runtime, _dir, journey, repo, source } = setup();
    let ids = contacts(CONTACTS);
    let mut states: Vec<Option<MembershipState>> = vec![None; CONTACTS];
    let mut next = 0;
    let mut tick = 0i64;
    let mut group = c.benchmark_group("sqlite_batched");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    group.bench_function("moves_in_commits_of_100", |b| {
        b.iter(|| {
            tick += 1;
            let at = chrono::DateTime::UNIX_EPOCH
                + chrono::Duration::days(20_000)
                + chrono::Duration::seconds(tick);
            let mut commit = Commit::default();
            let mut moved = Vec::with_capacity(BATCH);
            for _ in 0..BATCH {
                let i = next % CONTACTS;
                next += 1;
                let state = states[i].as_ref();
                let to = if state.is_some_and(|s| s.stage == "a") { stage("b") } else { stage("a") };
                let transition =
                    decide(&journey, state, &Move::to_stage(ids[i].clone(), to, at, source.clone()))
                        .expect("legal");
                commit.appends.push(Append {
                    contact: ids[i].clone(),
                    journey: journey.id().clone(),
                    expected_version: state.map_or(0, |s| s.version),
                    transitions: vec![transition.clone()],
                });
                moved.push((i, transition));
            }
            runtime.block_on(repo.commit(commit)).expect("committed");
            for (i, transition) in moved {
                states[i] = Some(MembershipState::after(&transition));
            }
        });
    });
    group.finish();
}

fn load_journey_log(c: &mut Criterion) {
    let Setup { runtime, _dir, journey, repo, source } = setup();
    runtime.block_on(async {
        let at = chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000);
        for chunk in contacts(LOG_CONTACTS).chunks(500) {
            let mut commit = Commit::default();
            for (n, id) in chunk.iter().enumerate() {
                let entry =
                    decide(&journey, None, &Move::to_stage(id.clone(), stage("a"), at, source.clone()))
                        .expect("legal");
                let later = at + chrono::Duration::minutes(n as i64);
                let next = decide(
                    &journey,
                    Some(&MembershipState::after(&entry)),
                    &Move::to_stage(id.clone(), stage("b"), later, source.clone()),
                )
                .expect("legal");
                commit.appends.push(Append {
                    contact: id.clone(),
                    journey: journey.id().clone(),
                    expected_version: 0,
                    transitions: vec![entry, next],
                });
            }
            repo.commit(commit).await.expect("committed");
        }
    });
    let mut group = c.benchmark_group("sqlite_log");
    group.throughput(Throughput::Elements((LOG_CONTACTS * 2) as u64));
    group.sample_size(20);
    group.bench_function("load_journey_transitions_10k", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut read = 0;
                let mut after: Option<LogPosition> = None;
                loop {
                    let page =
                        repo.journey_transitions(journey.id(), after.as_ref(), PAGE).await.expect("a page");
                    let Some(last) = page.last() else { break };
                    after = Some(LogPosition::of(last));
                    read += page.len();
                }
                black_box(read)
            })
        });
    });
    group.finish();
}

criterion_group!(benches, engine_one_transaction_per_move, batched_commits, load_journey_log);
criterion_main!(benches);
