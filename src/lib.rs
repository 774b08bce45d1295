//! # journeys
//!
//! Customer journeys as a library: a host defines journeys made of ordered stages,
//! moves contacts through them, and the crate guarantees the journey's rules on every
//! path — manual moves, automations, bulk import and the replay of stored history.
//!
//! ```
//! use journeys::{Contact, InMemoryRepository, Journey, JourneyEngine, SequencePolicy, Source, Stage};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let engine = JourneyEngine::new(InMemoryRepository::new());
//! engine.define_journey(Journey::new(
//!     "referral",
//!     "Referral",
//!     SequencePolicy::RequiresSequence,
//!     [
//!         Stage::new("lead", "Lead")?,
//!         Stage::new("demo_complete", "Demo Complete")?,
//!         Stage::new("trial", "Trial")?,
//!         Stage::new("closed_lost", "Closed/Lost")?.exit(),
//!     ],
//! )?).await?;
//!
//! let ada = "ada".parse()?;
//! engine.add_contact(Contact::new("ada".parse()?)).await?;
//! let referral = "referral".parse()?;
//! let sales = Source::manual("sales-team".parse()?);
//! engine.move_contact(&ada, &referral, &"lead".parse()?, sales.clone()).await?;
//!
//! // Skipping a stage of a sequenced journey is refused, with a stable code.
//! let skip = engine.move_contact(&ada, &referral, &"trial".parse()?, sales.clone()).await;
//! assert_eq!(skip.unwrap_err().code(), "sequence_violation");
//!
//! // An exit stage is reachable from anywhere.
//! engine.move_contact(&ada, &referral, &"closed_lost".parse()?, sales).await?;
//! let state = engine.membership(&ada, &referral).await?.expect("a member");
//! assert_eq!(state.stage, "closed_lost");
//! assert_eq!(state.version, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! ## Layers
//!
//! - [`model`]: [`Journey`], [`Stage`], [`Contact`], [`Transition`] and their ids; every
//!   value is valid on construction and on deserialization.
//! - [`sequencing`]: [`decide`], the one function that decides whether a move is legal
//!   (its core [`decide_from`] decides from a compact [`Standing`] and builds the
//!   transition only when asked), and [`replay`], which re-checks a stored history
//!   through it.
//! - [`repository`]: the storage seam — the async [`Repository`] trait with its
//!   written contract, and [`InMemoryRepository`].
//! - [`import`]: bulk CSV import and export, every row decided by sequencing.
//! - [`engine`]: [`JourneyEngine`], which loads, decides and appends with the expected
//!   version, retrying on `Conflict`.
//! - [`automation`]: events, the condition language, rules as data and the pure
//!   evaluator with cascades and explanations; [`JourneyEngine::process_event`] runs it
//!   end to end.
//! - [`analytics`]: dashboard queries (stage counts, funnels, populations over time,
//!   time in stage, stalls, flows, breakdowns) over a compact columnar log, and an
//!   incremental index.
//!
//! The core does no I/O and reads no clock: time comes in as an argument (the engine
//! takes it from an injectable [`Clock`]), so the same functions serve hosts, tests,
//! benches and bindings.
//!
//! ## Implementing a repository
//!
//! Implement [`Repository`] for your store, following its `# Contract` section, and run
//! the conformance suite against it: enable the `conformance` feature in your
//! dev-dependencies and call `journeys::conformance::run_all` with a function that
//! makes a fresh, empty repository.
//!
//! ## Features
//!
//! - `conformance`: the public conformance suite for repository backends.
//! - `sqlite`: [`SqliteRepository`], a durable backend
//!   on an embedded SQLite (built from source, nothing to install).

#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "unit tests"))]

pub mod analytics;
pub mod automation;
pub mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod engine;
pub mod error;
mod id_index;
mod id_shape;
pub mod import;
pub mod journey_map;
pub mod model;
pub mod repository;
pub mod segment;
pub mod sequencing;
mod timestamp;
mod warm;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::JourneyEngine;
pub use error::{DomainError, Entity, Error, RepositoryError, SequenceRule};
pub use model::contact::{Contact, EnrollmentStatus};
pub use model::ids::{
    ActorId, AttributeKey, BatchId, ChannelKey, ContactId, IdempotencyKey, InteractionKey, JourneyId, Name,
    Note, ReasonKey, RuleId, StageKey,
};
// Automations: ids and the engine's results.
pub use engine::{Processed, RuleCounters};
pub use model::ids::{
    CurrencyCode, EffectKey, EventId, EventName, OrderId, PipelineId, PropertyKey, SegmentKey,
};
pub use model::journey::{Journey, JourneyKind, SequencePolicy, Stage, StageOutcome};
pub use model::transition::{Source, SourceKind, TouchpointInfo, Transition};
pub use model::value::{Value, ValueRef, ValueType};
#[cfg(feature = "sqlite")]
pub use repository::SqliteRepository;
pub use repository::{
    Append, Commit, ContactWrite, InMemoryRepository, LogPosition, Repository, StoredHistory, Versioned,
};
// Journey maps: touchpoints, referrals and their storage.
pub use model::ids::{CampaignId, DepartmentKey, DeviceKey, OutcomeKey, TouchpointId};
pub use model::referral::{Referral, ReferralChange, ReferralKey, ReferralStatus};
pub use model::touchpoint::{Sentiment, StageLink, Touchpoint, TouchpointPosition};
pub use repository::InteractionRepository;
pub use sequencing::{
    Decision, MembershipState, Move, Standing, Target, decide, decide_from, decide_next, replay,
};
