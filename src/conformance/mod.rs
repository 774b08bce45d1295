//! The public conformance suite for [`Repository`] backends.
//!
//! Each check takes a fresh, empty repository, exercises one clause of the
//! [`Repository` contract](crate::Repository#contract) and compares error *kinds*
//! (the [`RepositoryError`](crate::RepositoryError) variant and its fields), never
//! messages. A check never panics: it returns a [`ConformanceFailure`] naming itself
//! and what differed. [`run_all`] runs every check, each on a new repository from a
//! factory, and returns the failures.
//!
//! ```
//! use journeys::InMemoryRepository;
//! use journeys::conformance::{SuiteOptions, run_all};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let failures = run_all(|| async { InMemoryRepository::new() }, &SuiteOptions::default()).await;
//! assert!(failures.is_empty(), "{failures:?}");
//! # });
//! ```
//!
//! | contract clause | checks |
//! | --- | --- |
//! | journeys | [`journey_insert_is_idempotent`], [`journey_insert_of_other_definition_already_exists`], [`unknown_journey_not_found`] |
//! | contacts | [`contact_versions`], [`contact_insert_and_update_kinds`] |
//! | histories | [`history_in_version_order`], [`history_empty_for_non_member`] |
//! | atomic commit | [`commit_is_atomic`], [`commit_checks_run_in_order`], [`commit_parts_see_earlier_parts`], [`stale_membership_version_conflicts`], [`stale_contact_version_conflicts`], [`reused_idempotency_key_already_exists`] |
//! | decided appends | [`append_decided_reads_then_commits`] |
//! | concurrency | [`concurrent_commits_serialize`] |
//! | journey log | [`journey_transitions_in_time_order`], [`journey_transitions_paginate`] |
//! | idempotency lookup | [`idempotency_lookup`] |
//! | contact journeys | [`contact_journeys_ordered`] |
//!
//! Backends that also implement [`InteractionRepository`] run
//! [`run_interaction_checks`] (listed in [`INTERACTION_CHECKS`]):
//!
//! | contract clause | checks |
//! | --- | --- |
//! | touchpoints | [`touchpoint_append_is_atomic_and_idempotent`], [`touchpoints_stream_in_time_order`] |
//! | referrals | [`referrals_are_permanent`], [`referral_queries_ordered`], [`concurrent_referral_updates_serialize`] |

mod checks;
mod executor;
mod fixture;
mod interactions;

use std::future::Future;

pub use checks::{
    append_decided_reads_then_commits, commit_checks_run_in_order, commit_is_atomic,
    commit_parts_see_earlier_parts, concurrent_commits_serialize, contact_insert_and_update_kinds,
    contact_journeys_ordered, contact_versions, history_empty_for_non_member, history_in_version_order,
    idempotency_lookup, journey_insert_is_idempotent, journey_insert_of_other_definition_already_exists,
    journey_transitions_in_time_order, journey_transitions_paginate, reused_idempotency_key_already_exists,
    stale_contact_version_conflicts, stale_membership_version_conflicts, unknown_journey_not_found,
};

pub use interactions::{
    concurrent_referral_updates_serialize, referral_queries_ordered, referrals_are_permanent,
    touchpoint_append_is_atomic_and_idempotent, touchpoints_stream_in_time_order,
};

use crate::repository::{InteractionRepository, Repository};

/// A check found the backend breaking the contract.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("conformance check `{check}` failed: {detail}")]
pub struct ConformanceFailure {
    /// The check's name (its function name).
    pub check: &'static str,
    /// What the check did, what it expected and what the backend gave.
    pub detail: String,
}

/// How [`concurrent_commits_serialize`] runs its concurrent writers (at least two,
/// whatever `n` says): the one capability where backends differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Concurrency {
    /// `n` OS threads, each driving its commits to completion with a minimal
    /// executor. For backends whose futures need no particular async runtime (the
    /// in-memory and embedded backends).
    Threads(usize),
    /// `n` futures polled together on the caller's task. For backends whose
    /// futures must run inside the caller's runtime (e.g. a network driver); they
    /// interleave at every await point.
    Interleaved(usize),
}

impl Concurrency {
    fn writers(self) -> usize {
        match self {
            Concurrency::Threads(n) | Concurrency::Interleaved(n) => n.max(2),
        }
    }
}

/// What a backend can do, stated explicitly: the suite never skips a check.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SuiteOptions {
    /// How concurrent writers run; `Threads(8)` by default.
    pub concurrency: Concurrency,
}

impl Default for SuiteOptions {
    fn default() -> Self {
        SuiteOptions { concurrency: Concurrency::Threads(8) }
    }
}

impl SuiteOptions {
    /// The default options with another concurrency mode.
    #[must_use]
    pub fn with_concurrency(mut self, concurrency: Concurrency) -> Self {
        self.concurrency = concurrency;
        self
    }
}

/// The names of every check, in the order [`run_all`] runs them.
pub const CHECKS: [&str; 19] = [
    "journey_insert_is_idempotent",
    "journey_insert_of_other_definition_already_exists",
    "unknown_journey_not_found",
    "contact_versions",
    "contact_insert_and_update_kinds",
    "history_in_version_order",
    "history_empty_for_non_member",
    "commit_is_atomic",
    "stale_membership_version_conflicts",
    "stale_contact_version_conflicts",
    "commit_checks_run_in_order",
    "commit_parts_see_earlier_parts",
    "reused_idempotency_key_already_exists",
    "append_decided_reads_then_commits",
    "idempotency_lookup",
    "contact_journeys_ordered",
    "journey_transitions_in_time_order",
    "journey_transitions_paginate",
    "concurrent_commits_serialize",
];

/// Runs every check, each on a fresh repository from `make_repository`, and returns
/// the failures (empty: the backend conforms).
pub async fn run_all<R, F, Fut>(mut make_repository: F, options: &SuiteOptions) -> Vec<ConformanceFailure>
where
    R: Repository,
    F: FnMut() -> Fut,
    Fut: Future<Output = R>,
{
    let mut results = Vec::with_capacity(CHECKS.len());
    results.push(journey_insert_is_idempotent(&make_repository().await).await);
    results.push(journey_insert_of_other_definition_already_exists(&make_repository().await).await);
    results.push(unknown_journey_not_found(&make_repository().await).await);
    results.push(contact_versions(&make_repository().await).await);
    results.push(contact_insert_and_update_kinds(&make_repository().await).await);
    results.push(history_in_version_order(&make_repository().await).await);
    results.push(history_empty_for_non_member(&make_repository().await).await);
    results.push(commit_is_atomic(&make_repository().await).await);
    results.push(stale_membership_version_conflicts(&make_repository().await).await);
    results.push(stale_contact_version_conflicts(&make_repository().await).await);
    results.push(commit_checks_run_in_order(&make_repository().await).await);
    results.push(commit_parts_see_earlier_parts(&make_repository().await).await);
    results.push(reused_idempotency_key_already_exists(&make_repository().await).await);
    results.push(append_decided_reads_then_commits(&make_repository().await).await);
    results.push(idempotency_lookup(&make_repository().await).await);
    results.push(contact_journeys_ordered(&make_repository().await).await);
    results.push(journey_transitions_in_time_order(&make_repository().await).await);
    results.push(journey_transitions_paginate(&make_repository().await).await);
    results.push(concurrent_commits_serialize(&make_repository().await, options.concurrency).await);
    results.into_iter().filter_map(Result::err).collect()
}

/// The names of every [`InteractionRepository`] check, in the order
/// [`run_interaction_checks`] runs them.
pub const INTERACTION_CHECKS: [&str; 5] = [
    "touchpoint_append_is_atomic_and_idempotent",
    "touchpoints_stream_in_time_order",
    "referrals_are_permanent",
    "referral_queries_ordered",
    "concurrent_referral_updates_serialize",
];

/// Runs every [`InteractionRepository`] check, each on a fresh repository from
/// `make_repository`, and returns the failures (empty: the backend conforms).
///
/// ```
/// use journeys::InMemoryRepository;
/// use journeys::conformance::{SuiteOptions, run_interaction_checks};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let failures = run_interaction_checks(|| async { InMemoryRepository::new() }, &SuiteOptions::default()).await;
/// assert!(failures.is_empty(), "{failures:?}");
/// # });
/// ```
pub async fn run_interaction_checks<R, F, Fut>(
    mut make_repository: F,
    options: &SuiteOptions,
) -> Vec<ConformanceFailure>
where
    R: InteractionRepository,
    F: FnMut() -> Fut,
    Fut: Future<Output = R>,
{
    let results = [
        touchpoint_append_is_atomic_and_idempotent(&make_repository().await).await,
        touchpoints_stream_in_time_order(&make_repository().await).await,
        referrals_are_permanent(&make_repository().await).await,
        referral_queries_ordered(&make_repository().await).await,
        concurrent_referral_updates_serialize(&make_repository().await, options.concurrency).await,
    ];
    results.into_iter().filter_map(Result::err).collect()
}
