//! The interaction conformance checks against `InMemoryRepository`, and proof that
//! they fail backends that break the `InteractionRepository` contract.
#![cfg(feature = "conformance")]

use std::sync::Mutex;

use journeys::conformance::{
    Concurrency, ConformanceFailure, INTERACTION_CHECKS, SuiteOptions, run_interaction_checks,
};
use journeys::{
    ContactId, InMemoryRepository, InteractionRepository, Referral, ReferralKey, RepositoryError, Touchpoint,
    TouchpointPosition,
};

#[tokio::test]
async fn in_memory_repository_passes_every_interaction_check() {
    for options in
        [SuiteOptions::default(), SuiteOptions::default().with_concurrency(Concurrency::Interleaved(4))]
    {
        let failures = run_interaction_checks(|| async { InMemoryRepository::new() }, &options).await;
        assert_eq!(failures, Vec::<ConformanceFailure>::new());
    }
}

/// How a broken backend breaks the contract.
#[derive(Clone, Copy, Debug)]
enum Defect {
    /// Stores the touchpoints of a batch one by one, keeping those before a refusal.
    AppendsOneByOne,
    /// Streams touchpoints in the order they were appended.
    AppendOrder,
    /// Overwrites a referral whatever its version and log.
    OverwritesReferrals,
}

struct Broken {
    inner: InMemoryRepository,
    defect: Defect,
    appended: Mutex<Vec<Touchpoint>>,
}

impl InteractionRepository for Broken {
    async fn append_touchpoints(&self, touchpoints: &[Touchpoint]) -> Result<(), RepositoryError> {
        match self.defect {
            Defect::AppendsOneByOne => {
                for tp in touchpoints {
                    self.inner.append_touchpoints(std::slice::from_ref(tp)).await?;
                }
                Ok(())
            }
            _ => {
                self.inner.append_touchpoints(touchpoints).await?;
                self.appended.lock().unwrap().extend_from_slice(touchpoints);
                Ok(())
            }
        }
    }
    async fn touchpoints(
        &self,
        after: Option<&TouchpointPosition>,
        limit: usize,
    ) -> Result<Vec<Touchpoint>, RepositoryError> {
        match self.defect {
            Defect::AppendOrder => Ok(self.appended.lock().unwrap().iter().take(limit).cloned().collect()),
            _ => self.inner.touchpoints(after, limit).await,
        }
    }
    async fn contact_touchpoints(&self, contact: &ContactId) -> Result<Vec<Touchpoint>, RepositoryError> {
        self.inner.contact_touchpoints(contact).await
    }
    async fn insert_referral(&self, referral: &Referral) -> Result<(), RepositoryError> {
        self.inner.insert_referral(referral).await
    }
    async fn update_referral(
        &self,
        referral: &Referral,
        expected_version: u64,
    ) -> Result<(), RepositoryError> {
        match self.defect {
            Defect::OverwritesReferrals => {
                let stored = self.inner.load_referral(&referral.key()).await?;
                if referral.extends(&stored) {
                    self.inner.update_referral(referral, stored.version()).await
                } else {
                    Ok(())
                }
            }
            _ => self.inner.update_referral(referral, expected_version).await,
        }
    }
    async fn load_referral(&self, key: &ReferralKey) -> Result<Referral, RepositoryError> {
        self.inner.load_referral(key).await
    }
    async fn advocate_referrals(&self, advocate: &ContactId) -> Result<Vec<Referral>, RepositoryError> {
        self.inner.advocate_referrals(advocate).await
    }
    async fn referrals(
        &self,
        after: Option<&ReferralKey>,
        limit: usize,
    ) -> Result<Vec<Referral>, RepositoryError> {
        self.inner.referrals(after, limit).await
    }
}

async fn failed_checks(defect: Defect) -> Vec<&'static str> {
    let make = || async move {
        Broken { inner: InMemoryRepository::new(), defect, appended: Mutex::new(Vec::new()) }
    };
    let options = SuiteOptions::default().with_concurrency(Concurrency::Interleaved(3));
    run_interaction_checks(make, &options).await.into_iter().map(|f| f.check).collect()
}

#[tokio::test]
async fn the_checks_catch_broken_backends() {
    assert_eq!(failed_checks(Defect::AppendsOneByOne).await, ["touchpoint_append_is_atomic_and_idempotent"]);
    // Streaming in append order also repeats the touchpoints appended twice.
    assert_eq!(
        failed_checks(Defect::AppendOrder).await,
        ["touchpoint_append_is_atomic_and_idempotent", "touchpoints_stream_in_time_order"]
    );
    assert_eq!(
        failed_checks(Defect::OverwritesReferrals).await,
        ["referrals_are_permanent", "concurrent_referral_updates_serialize"]
    );
    assert!(INTERACTION_CHECKS.contains(&"referral_queries_ordered"));
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_repository_passes_every_interaction_check() {
    let dir = tempfile::tempdir().unwrap();
    for options in
        [SuiteOptions::default(), SuiteOptions::default().with_concurrency(Concurrency::Interleaved(4))]
    {
        let mut opened = 0;
        let failures = run_interaction_checks(
            || {
                opened += 1;
                let path = dir.path().join(format!("check-{opened}-{:?}.db", options.concurrency));
                async move { journeys::SqliteRepository::open(path).unwrap() }
            },
            &options,
        )
        .await;
        assert_eq!(failures, Vec::<ConformanceFailure>::new());
    }
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_keeps_touchpoints_and_referrals_across_reopening() {
    use journeys::{Sentiment, SqliteRepository};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("interactions.db");
    let at = "2026-01-05T09:00:00.123456789Z".parse().unwrap();
    let tp = Touchpoint::new(
        "t1".parse().unwrap(),
        "ada".parse().unwrap(),
        at,
        "social".parse().unwrap(),
        "repost".parse().unwrap(),
    )
    .with_device("mobile".parse().unwrap())
    .with_sentiment(Sentiment::new(0.1).unwrap())
    .in_stage("sales".parse().unwrap(), "lead".parse().unwrap());
    let mut referral =
        Referral::new("ada".parse().unwrap(), "bob".parse().unwrap(), "spring".parse().unwrap(), at).unwrap();
    {
        let repo = SqliteRepository::open(&path).unwrap();
        repo.append_touchpoints(std::slice::from_ref(&tp)).await.unwrap();
        repo.insert_referral(&referral).await.unwrap();
        referral.deactivate(at, Some("duplicate".parse().unwrap())).unwrap();
        repo.update_referral(&referral, 1).await.unwrap();
    }
    let repo = SqliteRepository::open(&path).unwrap();
    assert_eq!(repo.contact_touchpoints(&"ada".parse().unwrap()).await.unwrap(), vec![tp]);
    assert_eq!(repo.load_referral(&referral.key()).await.unwrap(), referral);
}
