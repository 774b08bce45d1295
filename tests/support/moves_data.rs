//! The walks `benches/moves.rs` times and `examples/moves_profile.rs` counts
//! instructions of: contacts each walking the referral journey's four stages in order,
//! through the pure core or through the engine on `InMemoryRepository`.
#![allow(clippy::expect_used, reason = "the walks' ids and moves are valid by construction")]

use std::hint::black_box;

use chrono::{DateTime, Duration, Utc};
use journeys::{
    Contact, ContactId, InMemoryRepository, Journey, JourneyEngine, MembershipState, Move, SequencePolicy,
    Source, Stage, StageKey, Standing, decide, decide_from,
};

/// The journey walked: four stages, in sequence.
pub(crate) fn referral() -> Journey {
    let stages =
        ["lead", "demo_complete", "trial", "conversion"].map(|k| Stage::new(k, k).expect("valid stage"));
    Journey::new("referral", "Referral", SequencePolicy::RequiresSequence, stages).expect("valid journey")
}

/// Everything a walk needs, built once outside the timed part.
pub(crate) struct Walks {
    pub(crate) journey: Journey,
    pub(crate) stages: Vec<StageKey>,
    pub(crate) ids: Vec<ContactId>,
    pub(crate) source: Source,
    /// Per contact, its move into each stage in order.
    pub(crate) requests: Vec<Vec<Move>>,
}

impl Walks {
    pub(crate) fn new(contacts: usize) -> Self {
        let journey = referral();
        let stages: Vec<StageKey> = journey.stages().map(|s| s.key().clone()).collect();
        let ids: Vec<ContactId> =
            (0..contacts).map(|i| format!("c{i:07}").parse().expect("valid id")).collect();
        let source = Source::manual("bench".parse().expect("valid actor"));
        let at = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        let requests = ids
            .iter()
            .map(|id| {
                stages.iter().map(|s| Move::to_stage(id.clone(), s.clone(), at, source.clone())).collect()
            })
            .collect();
        Self { journey, stages, ids, source, requests }
    }

    /// The number of moves one walk makes.
    pub(crate) fn moves(&self) -> usize {
        self.ids.len() * self.stages.len()
    }

    /// An engine with the journey defined and the contacts added, nobody moved yet.
    pub(crate) fn fresh_engine(
        &self,
        runtime: &tokio::runtime::Runtime,
    ) -> JourneyEngine<InMemoryRepository> {
        runtime.block_on(async {
            let engine = JourneyEngine::new(InMemoryRepository::new());
            engine.define_journey(referral()).await.expect("define");
            for id in &self.ids {
                engine.add_contact(Contact::new(id.clone())).await.expect("add");
            }
            engine
        })
    }
}

/// Each move decided from where the contact stands, the standing after it kept for
/// the next: what the pure core's target counts.
#[inline(never)]
pub(crate) fn core_walks(walks: &Walks) -> usize {
    let mut accepted = 0;
    for walk in &walks.requests {
        let mut standing: Option<Standing> = None;
        for request in walk {
            standing = Some(decide_from(&walks.journey, standing, request).expect("legal move").standing());
            accepted += 1;
        }
        black_box(standing);
    }
    accepted
}

/// The same walk building each move's transition and the state after it: the cost
/// of owning the ids.
#[inline(never)]
pub(crate) fn transitions_walks(walks: &Walks) -> usize {
    let mut accepted = 0;
    for walk in &walks.requests {
        let mut state: Option<MembershipState> = None;
        for request in walk {
            let transition = decide(&walks.journey, state.as_ref(), request).expect("legal move");
            state = Some(MembershipState::after(&transition));
            accepted += 1;
        }
    }
    accepted
}

/// Every contact moved into each stage in turn through `JourneyEngine::move_contact`.
#[inline(never)]
pub(crate) fn engine_walks(
    walks: &Walks,
    runtime: &tokio::runtime::Runtime,
    engine: &JourneyEngine<InMemoryRepository>,
) -> usize {
    runtime.block_on(async {
        for stage in &walks.stages {
            for id in &walks.ids {
                engine
                    .move_contact(id, walks.journey.id(), stage, walks.source.clone())
                    .await
                    .expect("legal move");
            }
        }
    });
    walks.moves()
}
