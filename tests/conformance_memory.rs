//! The conformance suite against `InMemoryRepository`, and proof that the suite fails
//! backends that break the contract.
#![cfg(feature = "conformance")]

use journeys::conformance::{CHECKS, Concurrency, ConformanceFailure, SuiteOptions, run_all};
use journeys::{
    Commit, Contact, ContactId, IdempotencyKey, InMemoryRepository, Journey, JourneyId, LogPosition,
    Repository, RepositoryError, Transition, Versioned,
};

#[tokio::test]
async fn in_memory_repository_passes_every_check_on_threads() {
    let failures = run_all(|| async { InMemoryRepository::new() }, &SuiteOptions::default()).await;
    assert_eq!(failures, Vec::<ConformanceFailure>::new());
}

#[tokio::test]
async fn in_memory_repository_passes_every_check_interleaved() {
    let options = SuiteOptions::default().with_concurrency(Concurrency::Interleaved(5));
    let failures = run_all(|| async { InMemoryRepository::new() }, &options).await;
    assert_eq!(failures, Vec::<ConformanceFailure>::new());
}

/// How a broken backend breaks the contract.
#[derive(Clone, Copy, Debug)]
enum Defect {
    /// Rewrites every expected version to the stored one: last writer wins.
    IgnoresExpectedVersions,
    /// Applies a commit part by part, so a failing part leaves the earlier ones.
    AppliesPartByPart,
    /// Returns a journey's log in commit order instead of time order.
    LogInCommitOrder,
    /// Shows `read_history` a history without its last transition.
    ReadsStaleHistory,
}

/// `InMemoryRepository` with one defect.
struct Broken {
    inner: InMemoryRepository,
    defect: Defect,
}

impl Broken {
    async fn current_version(
        &self,
        contact: &ContactId,
        journey: &JourneyId,
    ) -> Result<u64, RepositoryError> {
        Ok(self.inner.load_history(contact, journey).await?.len() as u64)
    }
}

impl Repository for Broken {
    async fn insert_journey(&self, journey: &Journey) -> Result<(), RepositoryError> {
        self.inner.insert_journey(journey).await
    }
    async fn load_journey(&self, id: &JourneyId) -> Result<Journey, RepositoryError> {
        self.inner.load_journey(id).await
    }
    async fn list_journeys(&self) -> Result<Vec<JourneyId>, RepositoryError> {
        self.inner.list_journeys().await
    }
    async fn load_contact(&self, id: &ContactId) -> Result<Versioned<Contact>, RepositoryError> {
        self.inner.load_contact(id).await
    }
    async fn load_history(
        &self,
        contact: &ContactId,
        journey: &JourneyId,
    ) -> Result<Vec<Transition>, RepositoryError> {
        self.inner.load_history(contact, journey).await
    }
    async fn read_history<T, F>(
        &self,
        contact: &ContactId,
        journey: &JourneyId,
        read: F,
    ) -> Result<T, RepositoryError>
    where
        F: FnOnce(&[Transition]) -> T + Send,
    {
        let history = self.inner.load_history(contact, journey).await?;
        match self.defect {
            Defect::ReadsStaleHistory => Ok(read(history.split_last().map_or(&[], |(_, rest)| rest))),
            _ => Ok(read(&history)),
        }
    }
    async fn commit(&self, mut commit: Commit) -> Result<(), RepositoryError> {
        match self.defect {
            Defect::IgnoresExpectedVersions => {
                for append in &mut commit.appends {
                    append.expected_version = self.current_version(&append.contact, &append.journey).await?;
                }
                self.inner.commit(commit).await
            }
            Defect::AppliesPartByPart => {
                for append in commit.appends {
                    self.inner.commit(Commit { appends: vec![append], ..Commit::default() }).await?;
                }
                for write in commit.contacts {
                    self.inner.commit(Commit { contacts: vec![write], ..Commit::default() }).await?;
                }
                match commit.idempotency_key {
                    Some(key) => {
                        self.inner.commit(Commit { idempotency_key: Some(key), ..Commit::default() }).await
                    }
                    None => Ok(()),
                }
            }
            Defect::LogInCommitOrder | Defect::ReadsStaleHistory => self.inner.commit(commit).await,
        }
    }
    async fn contact_journeys(&self, contact: &ContactId) -> Result<Vec<JourneyId>, RepositoryError> {
        self.inner.contact_journeys(contact).await
    }
    async fn journey_transitions(
        &self,
        journey: &JourneyId,
        after: Option<&LogPosition>,
        limit: usize,
    ) -> Result<Vec<Transition>, RepositoryError> {
        match self.defect {
            Defect::LogInCommitOrder => {
                // Rebuild the log from the memberships in the order contacts joined.
                let mut all = Vec::new();
                for contact in ["ada", "bob", "carol"] {
                    let contact: ContactId = contact.parse().map_err(RepositoryError::backend)?;
                    all.extend(self.inner.load_history(&contact, journey).await?);
                }
                let start = after.map_or(0, |pos| {
                    all.iter().position(|t| &LogPosition::of(t) == pos).map_or(0, |i| i + 1)
                });
                Ok(all.into_iter().skip(start).take(limit).collect())
            }
            _ => self.inner.journey_transitions(journey, after, limit).await,
        }
    }
    async fn find_idempotency_key(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<Vec<Transition>>, RepositoryError> {
        self.inner.find_idempotency_key(key).await
    }
}

/// The checks a backend with `defect` fails. The writers are interleaved on one task,
/// so they run one after another and the outcome does not depend on thread timing.
async fn failed_checks(defect: Defect) -> Vec<&'static str> {
    let make = || async move { Broken { inner: InMemoryRepository::new(), defect } };
    let options = SuiteOptions::default().with_concurrency(Concurrency::Interleaved(4));
    let failures = run_all(make, &options).await;
    for failure in &failures {
        assert!(CHECKS.contains(&failure.check), "unknown check name in {failure}");
        assert!(!failure.detail.is_empty());
    }
    failures.iter().map(|f| f.check).collect()
}

#[tokio::test]
async fn a_backend_ignoring_expected_versions_fails_the_version_checks() {
    let failed = failed_checks(Defect::IgnoresExpectedVersions).await;
    for check in ["stale_membership_version_conflicts", "commit_is_atomic", "concurrent_commits_serialize"] {
        assert!(failed.contains(&check), "{check} did not fail: {failed:?}");
    }
    assert!(!failed.contains(&"journey_insert_is_idempotent"), "{failed:?}");
}

#[tokio::test]
async fn a_backend_applying_commits_part_by_part_fails_the_atomicity_check() {
    let failed = failed_checks(Defect::AppliesPartByPart).await;
    for check in ["commit_is_atomic", "reused_idempotency_key_already_exists", "idempotency_lookup"] {
        assert!(failed.contains(&check), "{check} did not fail: {failed:?}");
    }
}

#[tokio::test]
async fn a_backend_listing_the_log_in_commit_order_fails_the_log_checks() {
    let failed = failed_checks(Defect::LogInCommitOrder).await;
    assert_eq!(failed, ["journey_transitions_in_time_order", "journey_transitions_paginate"]);
}

#[tokio::test]
async fn a_backend_reading_a_stale_history_fails_the_history_checks() {
    let failed = failed_checks(Defect::ReadsStaleHistory).await;
    assert_eq!(failed, ["history_in_version_order", "append_decided_reads_then_commits"]);
}
