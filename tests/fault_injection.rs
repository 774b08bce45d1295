//! A repository wrapper that fails chosen or random calls — before a write, after a
//! write but before its acknowledgement, or on a read — driven through the engine:
//! nothing is half-applied, every failure surfaces with its kind, a host's bounded
//! retries (with idempotency keys) converge, and the state replays afterwards. The
//! same for bulk imports, whose re-runs converge by their provenance (batch, line).
#![allow(clippy::expect_used, clippy::panic, reason = "a test fails by panicking")]

mod support;

use support::id;

use std::future::Future;
use std::sync::{Arc, Mutex};

use journeys::import::{ImportOptions, Mode, UnknownContacts};
use journeys::{
    Clock, Commit, Contact, ContactId, EnrollmentStatus, IdempotencyKey, InMemoryRepository, Journey,
    JourneyEngine, JourneyId, LogPosition, ManualClock, Move, Repository, RepositoryError, Source, StageKey,
    Transition, Versioned, replay,
};

/// Where a call fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// A write fails before reaching the store: nothing is written.
    BeforeWrite,
    /// A write is stored, then the acknowledgement is lost.
    AfterWrite,
    /// A read fails.
    OnRead,
}

#[derive(Debug)]
enum Plan {
    /// Only armed faults: the next call of the matching kind fails.
    Armed(Vec<Fault>),
    /// Each call fails with probability `per_mille` / 1000, from a seeded generator.
    Random { state: u64, per_mille: u64 },
}

/// Wraps a repository and injects faults as `Unavailable` errors.
struct Faulty<R> {
    inner: R,
    plan: Mutex<Plan>,
    injected: Mutex<Vec<Fault>>,
}

impl<R: Repository> Faulty<R> {
    fn armed(inner: R) -> Self {
        Faulty { inner, plan: Mutex::new(Plan::Armed(Vec::new())), injected: Mutex::new(Vec::new()) }
    }

    fn random(inner: R, seed: u64, per_mille: u64) -> Self {
        Faulty {
            inner,
            plan: Mutex::new(Plan::Random { state: seed, per_mille }),
            injected: Mutex::new(Vec::new()),
        }
    }

    fn arm(&self, fault: Fault) {
        match &mut *self.plan.lock().expect("plan") {
            Plan::Armed(faults) => faults.push(fault),
            Plan::Random { .. } => panic!("a random plan cannot be armed"),
        }
    }

    fn injected(&self) -> Vec<Fault> {
        self.injected.lock().expect("injected").clone()
    }

    /// The fault this call meets, if any.
    fn draw(&self, write: bool) -> Option<Fault> {
        let fault = match &mut *self.plan.lock().expect("plan") {
            Plan::Armed(faults) => {
                let position = faults.iter().position(|f| (*f == Fault::OnRead) != write)?;
                Some(faults.remove(position))
            }
            Plan::Random { state, per_mille } => {
                // splitmix64: deterministic for a seed, so a failure reproduces.
                let mut next = || {
                    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    let mut z = *state;
                    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                    z ^ (z >> 31)
                };
                let hit = next() % 1000 < *per_mille;
                let after = next() % 2 == 0;
                match (hit, write, after) {
                    (false, _, _) => None,
                    (true, false, _) => Some(Fault::OnRead),
                    (true, true, false) => Some(Fault::BeforeWrite),
                    (true, true, true) => Some(Fault::AfterWrite),
                }
            }
        };
        if let Some(fault) = fault {
            self.injected.lock().expect("injected").push(fault);
        }
        fault
    }

    async fn read<T>(
        &self,
        call: impl Future<Output = Result<T, RepositoryError>>,
    ) -> Result<T, RepositoryError> {
        match self.draw(false) {
            Some(fault) => Err(injected(fault)),
            None => call.await,
        }
    }

    async fn write(
        &self,
        call: impl Future<Output = Result<(), RepositoryError>>,
    ) -> Result<(), RepositoryError> {
        match self.draw(true) {
            Some(Fault::AfterWrite) => call.await.and(Err(injected(Fault::AfterWrite))),
            Some(fault) => Err(injected(fault)),
            None => call.await,
        }
    }
}

fn injected(fault: Fault) -> RepositoryError {
    RepositoryError::Unavailable { message: format!("injected fault {fault:?}") }
}

impl<R: Repository> Repository for Faulty<R> {
    async fn insert_journey(&self, journey: &Journey) -> Result<(), RepositoryError> {
        self.write(self.inner.insert_journey(journey)).await
    }
    async fn load_journey(&self, id: &JourneyId) -> Result<Journey, RepositoryError> {
        self.read(self.inner.load_journey(id)).await
    }
    async fn list_journeys(&self) -> Result<Vec<JourneyId>, RepositoryError> {
        self.read(self.inner.list_journeys()).await
    }
    async fn load_contact(&self, id: &ContactId) -> Result<Versioned<Contact>, RepositoryError> {
        self.read(self.inner.load_contact(id)).await
    }
    async fn load_history(
        &self,
        contact: &ContactId,
        journey: &JourneyId,
    ) -> Result<Vec<Transition>, RepositoryError> {
        self.read(self.inner.load_history(contact, journey)).await
    }
    async fn commit(&self, commit: Commit) -> Result<(), RepositoryError> {
        self.write(self.inner.commit(commit)).await
    }
    async fn contact_journeys(&self, contact: &ContactId) -> Result<Vec<JourneyId>, RepositoryError> {
        self.read(self.inner.contact_journeys(contact)).await
    }
    async fn journey_transitions(
        &self,
        journey: &JourneyId,
        after: Option<&LogPosition>,
        limit: usize,
    ) -> Result<Vec<Transition>, RepositoryError> {
        self.read(self.inner.journey_transitions(journey, after, limit)).await
    }
    async fn find_idempotency_key(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<Vec<Transition>>, RepositoryError> {
        self.read(self.inner.find_idempotency_key(key)).await
    }
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(id("2026-01-05T09:00:00Z")))
}

type Engine<R> = JourneyEngine<Faulty<R>, Arc<ManualClock>>;

/// An engine over `repo` with the referral journey and contact `ada` in `lead`.
async fn engine_with_ada<R: Repository>(repo: R) -> Engine<R> {
    let engine = JourneyEngine::with_clock(Faulty::armed(repo), clock());
    support::given_ada_in_lead(&engine).await;
    engine
}

async fn referral_history<R: Repository>(engine: &Engine<R>) -> Vec<Transition> {
    engine.repository().inner.load_history(&id("ada"), &id("referral")).await.expect("history")
}

fn demo_move(key: &str) -> Move {
    Move {
        idempotency_key: Some(id(key)),
        ..Move::to_stage(
            id("ada"),
            id("demo_complete"),
            id("2026-01-05T10:00:00Z"),
            Source::manual(id("sales")),
        )
    }
}

async fn failure_before_a_write_changes_nothing<R: Repository>(repo: R) {
    let engine = engine_with_ada(repo).await;
    let before = referral_history(&engine).await;
    engine.repository().arm(Fault::BeforeWrite);
    let error = engine.apply_move(&id("referral"), demo_move("cmd-1")).await.expect_err("the write fails");
    assert_eq!(error.code(), "unavailable");
    assert_eq!(referral_history(&engine).await, before, "nothing written");
    let moved = engine.apply_move(&id("referral"), demo_move("cmd-1")).await.expect("the retry lands");
    assert_eq!(referral_history(&engine).await, [before, vec![moved]].concat());
}

async fn lost_acknowledgement_is_answered_by_the_idempotency_key<R: Repository>(repo: R) {
    let engine = engine_with_ada(repo).await;
    let before = referral_history(&engine).await;
    engine.repository().arm(Fault::AfterWrite);
    let error = engine.apply_move(&id("referral"), demo_move("cmd-1")).await.expect_err("the ack is lost");
    assert_eq!(error.code(), "unavailable");
    let stored = referral_history(&engine).await;
    assert_eq!(stored.len(), before.len() + 1, "the write itself landed, whole");
    let retried = engine.apply_move(&id("referral"), demo_move("cmd-1")).await.expect("the retry answers");
    assert_eq!(Some(&retried), stored.last(), "the retry returns the stored transition");
    assert_eq!(referral_history(&engine).await, stored, "and appends nothing");
}

async fn failed_read_writes_nothing<R: Repository>(repo: R) {
    let engine = engine_with_ada(repo).await;
    let before = referral_history(&engine).await;
    engine.repository().arm(Fault::OnRead);
    let error = engine.apply_move(&id("referral"), demo_move("cmd-1")).await.expect_err("the read fails");
    assert_eq!(error.code(), "unavailable");
    assert_eq!(referral_history(&engine).await, before);
    assert_eq!(engine.repository().injected(), [Fault::OnRead]);
}

/// An automation whose commit fails stores nothing and counts its outcomes as failed;
/// processing the event again applies it once, and a lost acknowledgement is answered
/// by the event's idempotency key.
async fn failed_automation_commit_stores_nothing<R: Repository>(repo: R) {
    let engine = engine_with_ada(repo).await;
    let rules = serde_json::from_str::<Vec<journeys::automation::Rule>>(
        r#"[{"id": "demo", "name": "Demo booked", "trigger": {"event": "custom", "name": "demo_booked"},
             "outcomes": [{"action": "move_to_stage", "journey": "referral", "stage": "demo_complete"},
                          {"action": "send_email", "template": "demo"}]}]"#,
    )
    .expect("rules");
    engine.set_automations(rules).await.expect("installed");
    let event = |event_id: &str| {
        journeys::automation::Event::new(
            id(event_id),
            id("ada"),
            engine.clock().now(),
            journeys::automation::EventKind::Custom { name: id("demo_booked") },
        )
    };
    let before = referral_history(&engine).await;
    engine.repository().arm(Fault::BeforeWrite);
    let error = engine.process_event(&event("e1")).await.expect_err("the write fails");
    assert_eq!(error.code(), "unavailable");
    assert_eq!(referral_history(&engine).await, before, "nothing written");
    let counters = engine.rule_counters()[&id::<journeys::RuleId>("demo")];
    assert_eq!((counters.matched, counters.applied, counters.failed), (1, 0, 2));

    engine.repository().arm(Fault::AfterWrite);
    assert_eq!(engine.process_event(&event("e1")).await.expect_err("the ack is lost").code(), "unavailable");
    let stored = referral_history(&engine).await;
    assert_eq!(stored.len(), before.len() + 1, "the write landed, whole");
    let retried = engine.process_event(&event("e1")).await.expect("the retry answers");
    assert!(retried.duplicate);
    assert_eq!(retried.transitions.last(), stored.last());
    assert_eq!(referral_history(&engine).await, stored, "and appends nothing");
}

/// One command of the scripted workload.
enum Command {
    Add(ContactId),
    Move(ContactId, StageKey),
    Status(ContactId, EnrollmentStatus),
}

fn workload() -> Vec<Command> {
    let mut commands = Vec::new();
    let path = ["lead", "demo_complete", "trial", "conversion"];
    for c in 0..6 {
        let contact: ContactId = id(&format!("contact-{c}"));
        commands.push(Command::Add(contact.clone()));
        let steps = if c % 3 == 0 { &path[..2] } else { &path[..] };
        for stage in steps {
            commands.push(Command::Move(contact.clone(), id(stage)));
        }
        if c % 3 == 0 {
            commands.push(Command::Move(contact.clone(), id("closed_lost")));
        }
        if c % 2 == 0 {
            commands.push(Command::Status(contact.clone(), EnrollmentStatus::Enrolled));
        }
    }
    commands
}

/// How many times a host tries one command.
const MAX_ATTEMPTS: usize = 30;

/// Runs the workload with bounded retries on `Unavailable`. Returns the code of
/// every error met.
async fn run_workload<R: Repository>(engine: &Engine<R>) -> Vec<&'static str> {
    let mut errors = Vec::new();
    for (n, command) in workload().iter().enumerate() {
        engine.clock().advance(chrono::Duration::minutes(1));
        let mut done = false;
        for attempt in 1..=MAX_ATTEMPTS {
            let result = match command {
                Command::Add(contact) => engine.add_contact(Contact::new(contact.clone())).await.map(drop),
                Command::Move(contact, stage) => {
                    let request = Move {
                        idempotency_key: Some(id(&format!("cmd-{n}"))),
                        ..Move::to_stage(
                            contact.clone(),
                            stage.clone(),
                            engine.clock().now(),
                            Source::manual(id("ops")),
                        )
                    };
                    engine.apply_move(&id("referral"), request).await.map(drop)
                }
                Command::Status(contact, status) => {
                    engine.set_enrollment_status(contact, *status).await.map(drop)
                }
            };
            match result {
                Ok(()) => done = true,
                Err(e) => {
                    errors.push(e.code());
                    match e.code() {
                        "unavailable" => {}
                        // After an unacknowledged write, "already there" means it landed.
                        "already_exists" | "already_in_stage" if attempt > 1 => done = true,
                        _ => panic!("command {n} failed with an unexpected {}: {e}", e.code()),
                    }
                }
            }
            if done {
                break;
            }
        }
        assert!(done, "command {n} did not land within {MAX_ATTEMPTS} attempts");
    }
    errors
}

/// Everything the workload can have written, read past the fault injection.
async fn state<R: Repository>(
    repo: &R,
) -> Vec<(Result<Versioned<Contact>, String>, Vec<Transition>, Vec<Transition>)> {
    let mut all = Vec::new();
    for c in 0..6 {
        let contact: ContactId = id(&format!("contact-{c}"));
        let record = repo.load_contact(&contact).await.map_err(|e| e.code().to_owned());
        let referral = repo.load_history(&contact, &id("referral")).await.expect("history");
        let system = repo.load_history(&contact, Journey::advocate_enrollment().id()).await.expect("history");
        all.push((record, referral, system));
    }
    all
}

async fn random_faults_converge_to_the_fault_free_state<R: Repository>(repo: R, reference: R, seed: u64) {
    let expected_engine = JourneyEngine::with_clock(Faulty::armed(reference), clock());
    expected_engine.define_journey(support::referral()).await.expect("defined");
    assert_eq!(run_workload(&expected_engine).await, Vec::<&str>::new(), "no faults, no errors");
    let expected = state(&expected_engine.repository().inner).await;

    let engine = JourneyEngine::with_clock(Faulty::random(repo, seed, 200), clock());
    let mut errors = Vec::new();
    while let Err(e) = engine.define_journey(support::referral()).await {
        errors.push(e.code());
        assert!(errors.len() < MAX_ATTEMPTS, "the journey was not defined within {MAX_ATTEMPTS} attempts");
    }
    errors.extend(run_workload(&engine).await);
    let injected = engine.repository().injected();
    for fault in [Fault::BeforeWrite, Fault::AfterWrite, Fault::OnRead] {
        assert!(injected.contains(&fault), "seed {seed} injected no {fault:?}: {injected:?}");
    }
    let unavailable = errors.iter().filter(|code| **code == "unavailable").count();
    assert_eq!(unavailable, injected.len(), "each injected fault surfaced once, as `unavailable`");
    let recovered = state(&engine.repository().inner).await;
    assert_eq!(recovered, expected, "the state after recovery equals the fault-free run");
    for (c, (_, referral, system)) in recovered.iter().enumerate() {
        let contact: ContactId = id(&format!("contact-{c}"));
        replay(&support::referral(), &contact, referral).expect("the referral history replays");
        replay(&Journey::advocate_enrollment(), &contact, system).expect("the system history replays");
    }
}

/// A bulk import of `IMPORT_CONTACTS` contacts walking the referral journey row by
/// row, with some rows the journey refuses.
const IMPORT_CONTACTS: usize = 8;

fn import_file(skips: bool) -> String {
    let mut csv = String::from("contact_id,journey,stage,at\n");
    let path = ["lead", "demo_complete", "trial", "conversion"];
    for (step, stage) in path.iter().enumerate() {
        for c in 0..IMPORT_CONTACTS {
            // Every third contact tries to skip a stage: refused, and so are its later rows.
            let stage = if skips && c % 3 == 0 && step == 1 { "trial" } else { stage };
            csv.push_str(&format!("imported-{c},referral,{stage},2026-01-0{}T09:00:00Z\n", step + 1));
        }
    }
    csv
}

fn import_options() -> ImportOptions {
    ImportOptions::new(id("faults.csv")).unknown_contacts(UnknownContacts::Create).chunk_rows(5)
}

/// The histories an import can have written, read past the fault injection.
async fn imported_state<R: Repository>(repo: &R) -> Vec<(Vec<Transition>, Vec<Transition>)> {
    let mut all = Vec::new();
    for c in 0..IMPORT_CONTACTS {
        let contact: ContactId = id(&format!("imported-{c}"));
        let referral = repo.load_history(&contact, &id("referral")).await.expect("history");
        let system = repo.load_history(&contact, Journey::advocate_enrollment().id()).await.expect("history");
        all.push((referral, system));
    }
    all
}

async fn import_engine<R: Repository>(repo: R) -> Engine<R> {
    let engine = JourneyEngine::with_clock(Faulty::armed(repo), clock());
    engine.define_journey(support::referral()).await.expect("defined");
    // Adding a contact stores the system journey, which the import's first commit
    // would otherwise write before it.
    engine.add_contact(Contact::new(id("setup"))).await.expect("added");
    engine
}

async fn a_failed_atomic_import_writes_nothing<R: Repository>(repo: R) {
    let engine = import_engine(repo).await;
    let file = import_file(false);
    let atomic = import_options().mode(Mode::Atomic);
    let empty = imported_state(&engine.repository().inner).await;
    for fault in [Fault::BeforeWrite, Fault::OnRead] {
        engine.repository().arm(fault);
        let error = engine.import_csv(file.as_bytes(), &atomic).await.expect_err("the import fails");
        assert_eq!(error.code(), "unavailable", "{fault:?}");
        assert_eq!(imported_state(&engine.repository().inner).await, empty, "{fault:?}: nothing written");
    }
    let report = engine.import_csv(file.as_bytes(), &atomic).await.expect("the retry lands");
    assert_eq!((report.applied, report.refused), (report.rows, 0));
    for (referral, _) in imported_state(&engine.repository().inner).await {
        assert_eq!(referral.len(), 4, "every row of the batch is there");
    }
}

async fn a_lost_import_acknowledgement_is_answered_by_provenance<R: Repository>(repo: R) {
    let engine = import_engine(repo).await;
    let atomic = import_options().mode(Mode::Atomic).chunk_rows(1000);
    let file = import_file(false);
    engine.repository().arm(Fault::AfterWrite);
    let error = engine.import_csv(file.as_bytes(), &atomic).await.expect_err("the ack is lost");
    assert_eq!(error.code(), "unavailable");
    let stored = imported_state(&engine.repository().inner).await;
    assert!(stored.iter().all(|(referral, _)| referral.len() == 4), "the batch landed, whole");
    let report = engine.import_csv(file.as_bytes(), &atomic).await.expect("the re-run answers");
    assert_eq!((report.rows, report.applied, report.refused), (32, 32, 0));
    assert_eq!(imported_state(&engine.repository().inner).await, stored, "and appends nothing");
}

async fn random_faults_during_imports_converge<R: Repository>(repo: R, reference: R, seed: u64) {
    let expected_engine = import_engine(reference).await;
    let expected_report =
        expected_engine.import_csv(import_file(true).as_bytes(), &import_options()).await.expect("no faults");
    assert_eq!((expected_report.applied, expected_report.refused), (23, 9));
    let expected = imported_state(&expected_engine.repository().inner).await;

    let engine = JourneyEngine::with_clock(Faulty::random(repo, seed, 30), clock());
    let mut errors = Vec::new();
    while let Err(e) = engine.define_journey(support::referral()).await {
        errors.push(e.code());
        assert!(errors.len() < MAX_ATTEMPTS, "the journey was not defined within {MAX_ATTEMPTS} attempts");
    }
    while let Err(e) = engine.add_contact(Contact::new(id("setup"))).await {
        // After an unacknowledged write, "already there" means it landed.
        if e.code() == "already_exists" {
            break;
        }
        errors.push(e.code());
        assert!(errors.len() < MAX_ATTEMPTS, "the contact was not added within {MAX_ATTEMPTS} attempts");
    }
    let mut report = None;
    for _ in 0..MAX_ATTEMPTS {
        match engine.import_csv(import_file(true).as_bytes(), &import_options()).await {
            Ok(done) => {
                report = Some(done);
                break;
            }
            Err(e) => errors.push(e.code()),
        }
    }
    let report =
        report.unwrap_or_else(|| panic!("seed {seed}: no import landed within {MAX_ATTEMPTS} attempts"));
    let injected = engine.repository().injected();
    assert!(!injected.is_empty(), "seed {seed} injected no fault");
    assert!(errors.iter().all(|code| *code == "unavailable"), "{errors:?}");
    assert_eq!(errors.len(), injected.len(), "each injected fault surfaced once, as `unavailable`");
    assert_eq!(report.applied + report.refused, report.rows);
    let recovered = imported_state(&engine.repository().inner).await;
    assert_eq!(recovered, expected, "seed {seed}: the state after recovery equals the fault-free import");
    for (c, (referral, system)) in recovered.iter().enumerate() {
        let contact: ContactId = id(&format!("imported-{c}"));
        replay(&support::referral(), &contact, referral).expect("the referral history replays");
        replay(&Journey::advocate_enrollment(), &contact, system).expect("the system history replays");
    }
}

#[tokio::test]
async fn in_memory_a_failed_atomic_import_writes_nothing() {
    a_failed_atomic_import_writes_nothing(InMemoryRepository::new()).await;
}

#[tokio::test]
async fn in_memory_a_lost_import_acknowledgement_is_answered_by_provenance() {
    a_lost_import_acknowledgement_is_answered_by_provenance(InMemoryRepository::new()).await;
}

#[tokio::test]
async fn in_memory_random_faults_during_imports_converge() {
    for seed in [7, 42, 2026, 1] {
        random_faults_during_imports_converge(InMemoryRepository::new(), InMemoryRepository::new(), seed)
            .await;
    }
}

#[tokio::test]
async fn in_memory_failure_before_a_write_changes_nothing() {
    failure_before_a_write_changes_nothing(InMemoryRepository::new()).await;
}

#[tokio::test]
async fn in_memory_lost_acknowledgement_is_answered_by_the_idempotency_key() {
    lost_acknowledgement_is_answered_by_the_idempotency_key(InMemoryRepository::new()).await;
}

#[tokio::test]
async fn in_memory_failed_read_writes_nothing() {
    failed_read_writes_nothing(InMemoryRepository::new()).await;
}

#[tokio::test]
async fn in_memory_failed_automation_commit_stores_nothing() {
    failed_automation_commit_stores_nothing(InMemoryRepository::new()).await;
}

#[tokio::test]
async fn in_memory_random_faults_converge() {
    for seed in [7, 42, 2026] {
        random_faults_converge_to_the_fault_free_state(
            InMemoryRepository::new(),
            InMemoryRepository::new(),
            seed,
        )
        .await;
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use journeys::SqliteRepository;

    use super::*;

    fn open(dir: &tempfile::TempDir, name: &str) -> SqliteRepository {
        SqliteRepository::open(dir.path().join(name)).expect("opened")
    }

    #[tokio::test]
    async fn sqlite_failure_before_a_write_changes_nothing() {
        let dir = tempfile::tempdir().expect("a directory");
        failure_before_a_write_changes_nothing(open(&dir, "a.db")).await;
    }

    #[tokio::test]
    async fn sqlite_lost_acknowledgement_is_answered_by_the_idempotency_key() {
        let dir = tempfile::tempdir().expect("a directory");
        lost_acknowledgement_is_answered_by_the_idempotency_key(open(&dir, "a.db")).await;
    }

    #[tokio::test]
    async fn sqlite_failed_read_writes_nothing() {
        let dir = tempfile::tempdir().expect("a directory");
        failed_read_writes_nothing(open(&dir, "a.db")).await;
    }

    #[tokio::test]
    async fn sqlite_a_failed_atomic_import_writes_nothing() {
        let dir = tempfile::tempdir().expect("a directory");
        a_failed_atomic_import_writes_nothing(open(&dir, "a.db")).await;
    }

    #[tokio::test]
    async fn sqlite_a_lost_import_acknowledgement_is_answered_by_provenance() {
        let dir = tempfile::tempdir().expect("a directory");
        a_lost_import_acknowledgement_is_answered_by_provenance(open(&dir, "a.db")).await;
    }

    #[tokio::test]
    async fn sqlite_random_faults_during_imports_converge() {
        let dir = tempfile::tempdir().expect("a directory");
        for seed in [7, 42] {
            let (run, reference) = (format!("import-{seed}.db"), format!("import-reference-{seed}.db"));
            random_faults_during_imports_converge(open(&dir, &run), open(&dir, &reference), seed).await;
        }
    }

    #[tokio::test]
    async fn sqlite_random_faults_converge() {
        let dir = tempfile::tempdir().expect("a directory");
        for seed in [7, 42, 2026] {
            let (run, reference) = (format!("run-{seed}.db"), format!("reference-{seed}.db"));
            random_faults_converge_to_the_fault_free_state(open(&dir, &run), open(&dir, &reference), seed)
                .await;
        }
    }
}
