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

#[path = "../tests/support/moves_data.rs"]
mod moves_data;

use std::time::Instant;

use moves_data::{Walks, core_walks, engine_walks, transitions_walks};

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
    let walks = Walks::new(contacts);
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let (mut moves, mut seconds) = (0, 0.0);
    for _ in 0..rounds {
        let engine = (mode == "engine").then(|| walks.fresh_engine(&runtime));
        let started = Instant::now();
        moves += match (mode.as_str(), &engine) {
            ("core", _) => core_walks(&walks),
            ("transitions", _) => transitions_walks(&walks),
            ("engine", Some(engine)) => engine_walks(&walks, &runtime, engine),
            _ => usage(),
        };
        seconds += started.elapsed().as_secs_f64();
    }
    println!("{mode}: {moves} moves, {:.2} M moves/s", moves as f64 / seconds / 1e6);
}
