//! The whole conformance suite against `SqliteRepository`, on a fresh database file
//! per check.
#![cfg(all(feature = "sqlite", feature = "conformance"))]
#![allow(clippy::expect_used, reason = "a test fails by panicking")]

use journeys::SqliteRepository;
use journeys::conformance::{Concurrency, ConformanceFailure, SuiteOptions, run_all};

async fn failures(options: &SuiteOptions) -> Vec<ConformanceFailure> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut opened = 0;
    run_all(
        || {
            opened += 1;
            let path = dir.path().join(format!("check-{opened}.db"));
            async move { SqliteRepository::open(path).expect("a new database file") }
        },
        options,
    )
    .await
}

#[tokio::test]
async fn sqlite_repository_passes_every_check_with_threads() {
    assert_eq!(failures(&SuiteOptions::default()).await, Vec::new());
}

#[tokio::test]
async fn sqlite_repository_passes_every_check_interleaved() {
    let options = SuiteOptions::default().with_concurrency(Concurrency::Interleaved(4));
    assert_eq!(failures(&options).await, Vec::new());
}
