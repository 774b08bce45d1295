//! What several integration tests share: the referral journey and a free journey,
//! and a way to run a test body on each backend.
#![allow(dead_code, reason = "each test file uses a different part")]
#![allow(clippy::expect_used, reason = "a test fails by panicking")]

use journeys::{Journey, SequencePolicy, Stage};

/// Lead → Demo Complete → Trial → Conversion, exit Closed/Lost, sequence required.
pub(crate) fn referral() -> Journey {
    Journey::new(
        "referral",
        "Referral",
        SequencePolicy::RequiresSequence,
        [
            Stage::new("lead", "Lead").expect("a stage"),
            Stage::new("demo_complete", "Demo Complete").expect("a stage"),
            Stage::new("trial", "Trial").expect("a stage"),
            Stage::new("conversion", "Conversion").expect("a stage"),
            Stage::new("closed_lost", "Closed/Lost").expect("a stage").exit(),
        ],
    )
    .expect("a valid journey")
}

/// An any-order journey with the given stage keys.
pub(crate) fn free_journey(id: &str, stages: &[String]) -> Journey {
    let stages = stages.iter().map(|key| Stage::new(key, key).expect("a stage"));
    Journey::new(id, id, SequencePolicy::AnyOrder, stages).expect("a valid journey")
}
