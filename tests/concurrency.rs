//! Several threads, each with its own repository handle (for SQLite its own
//! connection to the same file), move the same contacts through `JourneyEngine`:
//! no update is lost, versions are contiguous, and every history replays on reload.
#![allow(clippy::expect_used, reason = "a test fails by panicking")]

mod support;

use journeys::{Contact, ContactId, InMemoryRepository, JourneyEngine, JourneyId, Repository, Source};

const THREADS: usize = 4;
const CONTACTS: usize = 3;
const MOVES_PER_THREAD: usize = 20;

fn stages() -> Vec<String> {
    (0..THREADS).flat_map(|t| [format!("t{t}-a"), format!("t{t}-b")]).chain(["start".to_owned()]).collect()
}

fn contacts() -> Vec<ContactId> {
    (0..CONTACTS).map(|i| format!("contact-{i}").parse().expect("an id")).collect()
}

fn journey_id() -> JourneyId {
    "race".parse().expect("an id")
}

/// Defines the journey and enters every contact at `start`.
async fn prepare<R: Repository>(repo: R) {
    let engine = JourneyEngine::new(repo);
    engine.define_journey(support::free_journey("race", &stages())).await.expect("defined");
    let system = Source::manual("setup".parse().expect("an id"));
    for contact in contacts() {
        engine.add_contact(Contact::new(contact.clone())).await.expect("added");
        engine
            .move_contact(&contact, &journey_id(), &"start".parse().expect("a key"), system.clone())
            .await
            .expect("entered");
    }
}

/// Thread `t` moves every contact back and forth between its two stages, on its own
/// runtime and its own repository.
fn writer<R: Repository>(t: usize, repo: R) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    runtime.block_on(async {
        let engine = JourneyEngine::new(repo).with_max_attempts(THREADS as u32 * 16);
        let actor = Source::manual(format!("thread-{t}").parse().expect("an id"));
        for i in 0..MOVES_PER_THREAD {
            let stage = format!("t{t}-{}", if i % 2 == 0 { "a" } else { "b" }).parse().expect("a key");
            for contact in contacts() {
                engine
                    .move_contact(&contact, &journey_id(), &stage, actor.clone())
                    .await
                    .expect("every move lands");
            }
        }
    });
}

/// Reloads every history through a fresh engine and checks it.
async fn verify<R: Repository>(repo: R) {
    let engine = JourneyEngine::new(repo);
    for contact in contacts() {
        let history = engine.history(&contact, &journey_id()).await.expect("the history replays");
        let versions: Vec<u64> = history.iter().map(|t| t.version).collect();
        let expected: Vec<u64> = (1..=(1 + THREADS * MOVES_PER_THREAD) as u64).collect();
        assert_eq!(versions, expected, "versions of {contact}");
        for t in 0..THREADS {
            let actor = format!("thread-{t}");
            let moves = history
                .iter()
                .filter(|tr| matches!(&tr.source, Source::Manual { actor: a } if a.as_str() == actor))
                .count();
            assert_eq!(moves, MOVES_PER_THREAD, "moves of thread {t} on {contact}");
        }
    }
}

#[test]
fn threads_share_an_in_memory_repository_without_losing_updates() {
    let repo = InMemoryRepository::new();
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    runtime.block_on(prepare(repo.clone()));
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let repo = repo.clone();
            scope.spawn(move || writer(t, repo));
        }
    });
    runtime.block_on(verify(repo));
}

#[cfg(feature = "sqlite")]
#[test]
fn threads_with_their_own_sqlite_connections_lose_no_update() {
    use journeys::SqliteRepository;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("race.db");
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    runtime.block_on(prepare(SqliteRepository::open(&path).expect("opened")));
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let path = &path;
            scope.spawn(move || {
                writer(t, SqliteRepository::open(path).expect("each thread opens its own connection"))
            });
        }
    });
    runtime.block_on(verify(SqliteRepository::open(&path).expect("reopened")));
}
