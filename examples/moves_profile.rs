//! The walks of `benches/moves.rs` as a plain program, for counting instructions:
//! CONTACTS contacts each walk the referral journey's four stages, through the pure
//! core or through the engine on `InMemoryRepository`.
//!
//! ```text
//! cargo build --release --example moves_profile
//! valgrind --tool=callgrind --toggle-collect='moves_profile::*_walks*' \
//!     target/release/examples/moves_profile engine 10000
//! ```
//!
//! Modes: `core` (`decide_from` + `Decision::standing`), `transitions` (`decide` +
//! `MembershipState::after`), `engine` (`JourneyEngine::move_contact`). Only the
//! `*_walks` functions do the moves, so collecting them alone leaves setup out; divide
//! by CONTACTS × 4. An optional ROUNDS repeats the walk (the engine's on a fresh
//! engine each time, as the bench does) and prints moves per second.

use std::hint::black_box;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use journeys::{
    Contact, ContactId, InMemoryRepository, Journey, JourneyEngine, MembershipState, Move, SequencePolicy,
    Source, Stage, StageKey, Standing, decide, decide_from,
};

fn referral() -> Journey {
    let stages =
        ["lead", "demo_complete", "trial", "conversion"].map(|k| Stage::new(k, k).expect("valid stage"));
    Journey::new("referral", "Referral", SequencePolicy::RequiresSequence, stages).expect("valid journey")
}

fn t0() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + Duration::days(20_000)
}

#[inline(never)]
fn core_walks(journey: &Journey, requests: &[Vec<Move>]) -> usize {
    let mut accepted = 0;
    for walk in requests {
        let mut standing: Option<Standing> = None;
        for request in walk {
            standing = Some(decide_from(journey, standing, request).expect("legal move").standing());
            accepted += 1;
        }
        black_box(standing);
    }
    accepted
}

#[inline(never)]
fn transitions_walks(journey: &Journey, requests: &[Vec<Move>]) -> usize {
    let mut accepted = 0;
    for walk in requests {
        let mut state: Option<MembershipState> = None;
        for request in walk {
            let transition = decide(journey, state.as_ref(), request).expect("legal move");
            state = Some(MembershipState::after(&transition));
            accepted += 1;
        }
    }
    accepted
}

#[inline(never)]
fn engine_walks(
    runtime: &tokio::runtime::Runtime,
    engine: &JourneyEngine<InMemoryRepository>,
    journey: &Journey,
    stages: &[StageKey],
    ids: &[ContactId],
    source: &Source,
) -> usize {
    runtime.block_on(async {
        for stage in stages {
            for id in ids {
                engine.move_contact(id, journey.id(), stage, source.clone()).await.expect("legal move");
            }
        }
    });
    stages.len() * ids.len()
}

fn usage() -> ! {
    eprintln!("usage: moves_profile core|transitions|engine CONTACTS [ROUNDS]");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(Ok(contacts))) = (args.get(1), args.get(2).map(|n| n.parse::<usize>())) else {
        usage()
    };
    let rounds = match args.get(3).map(|r| r.parse::<usize>()) {
        None => 1,
        Some(Ok(rounds)) => rounds,
        Some(Err(_)) => usage(),
    };
    let journey = referral();
    let stages: Vec<StageKey> = journey.stages().map(|s| s.key().clone()).collect();
    let ids: Vec<ContactId> = (0..contacts).map(|i| format!("c{i:07}").parse().expect("valid id")).collect();
    let source = Source::manual("bench".parse().expect("valid actor"));
    let requests: Vec<Vec<Move>> = ids
        .iter()
        .map(|id| {
            stages.iter().map(|s| Move::to_stage(id.clone(), s.clone(), t0(), source.clone())).collect()
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let (mut moves, mut seconds) = (0, 0.0);
    for _ in 0..rounds {
        let engine = (mode == "engine").then(|| {
            runtime.block_on(async {
                let engine = JourneyEngine::new(InMemoryRepository::new());
                engine.define_journey(referral()).await.expect("define");
                for id in &ids {
                    engine.add_contact(Contact::new(id.clone())).await.expect("add");
                }
                engine
            })
        });
        let started = Instant::now();
        moves += match (mode.as_str(), &engine) {
            ("core", _) => core_walks(&journey, &requests),
            ("transitions", _) => transitions_walks(&journey, &requests),
            ("engine", Some(engine)) => engine_walks(&runtime, engine, &journey, &stages, &ids, &source),
            _ => usage(),
        };
        seconds += started.elapsed().as_secs_f64();
    }
    println!("{mode}: {moves} moves, {:.2} M moves/s", moves as f64 / seconds / 1e6);
}
