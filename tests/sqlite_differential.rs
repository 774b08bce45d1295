//! `SqliteRepository` against the reference model, `InMemoryRepository`: random
//! commits — several appends and contact writes each, some at stale versions, some
//! reusing an idempotency key — get the same answer from both, and leave the same
//! state.
#![cfg(feature = "sqlite")]
#![allow(clippy::expect_used, reason = "a test fails by panicking")]

mod support;

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use journeys::{
    Append, Commit, Contact, ContactId, ContactWrite, EnrollmentStatus, InMemoryRepository, Journey,
    MembershipState, Move, Repository, Source, SqliteRepository, Transition, decide,
};
use proptest::prelude::*;
use support::{block_on, contract_outcome, id};

const CONTACTS: usize = 3;
const KEYS: usize = 4;
const STAGES: [&str; 3] = ["a", "b", "c"];

#[derive(Clone, Debug)]
enum Part {
    /// `moves` moves of contact `contact` in journey `journey`, decided on the current
    /// history (`stale`: on the history without its last transition).
    Append {
        contact: usize,
        journey: usize,
        moves: Vec<usize>,
        stale: bool,
    },
    Insert {
        contact: usize,
        status: usize,
    },
    Update {
        contact: usize,
        status: usize,
        stale: bool,
    },
}

#[derive(Clone, Debug)]
struct Step {
    parts: Vec<Part>,
    key: Option<usize>,
}

fn part() -> impl Strategy<Value = Part> {
    prop_oneof![
        4 => (0..CONTACTS, 0..2usize, prop::collection::vec(0..STAGES.len(), 1..4), prop::bool::weighted(0.2))
            .prop_map(|(contact, journey, moves, stale)| Part::Append { contact, journey, moves, stale }),
        1 => (0..CONTACTS, 0..EnrollmentStatus::ALL.len()).prop_map(|(contact, status)| Part::Insert { contact, status }),
        1 => (0..CONTACTS, 0..EnrollmentStatus::ALL.len(), prop::bool::weighted(0.2))
            .prop_map(|(contact, status, stale)| Part::Update { contact, status, stale }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (prop::collection::vec(part(), 1..4), prop::option::weighted(0.3, 0..KEYS))
        .prop_map(|(parts, key)| Step { parts, key })
}

fn journeys() -> [Journey; 2] {
    let stages: Vec<String> = STAGES.iter().map(|s| (*s).to_owned()).collect();
    [support::free_journey("alpha", &stages), support::free_journey("beta", &stages)]
}

fn contact(i: usize) -> ContactId {
    id(&format!("contact-{i}"))
}

/// The commit a step stands for, decided against the reference's current state.
async fn build(reference: &InMemoryRepository, journeys: &[Journey; 2], step: &Step, n: i64) -> Commit {
    let at = id::<chrono::DateTime<chrono::Utc>>("2026-01-05T09:00:00Z") + chrono::Duration::minutes(n);
    let mut histories: HashMap<(usize, usize), Vec<Transition>> = HashMap::new();
    let mut versions: HashMap<usize, u64> = HashMap::new();
    let mut commit =
        Commit { idempotency_key: step.key.map(|k| id(&format!("key-{k}"))), ..Commit::default() };
    for part in &step.parts {
        match part {
            Part::Append { contact: c, journey: j, moves, stale } => {
                let journey = &journeys[*j];
                let history = match histories.entry((*c, *j)) {
                    Entry::Occupied(entry) => entry.into_mut(),
                    Entry::Vacant(entry) => entry
                        .insert(reference.load_history(&contact(*c), journey.id()).await.expect("history")),
                };
                let mut base = history.clone();
                if *stale {
                    base.pop();
                }
                let mut state = base.last().map(MembershipState::after);
                let mut transitions = Vec::new();
                for target in moves {
                    let mut stage = *target;
                    if state.as_ref().is_some_and(|s| s.stage == STAGES[stage]) {
                        stage = (stage + 1) % STAGES.len();
                    }
                    let request =
                        Move::to_stage(contact(*c), id(STAGES[stage]), at, Source::manual(id("prop")));
                    let transition = decide(journey, state.as_ref(), &request).expect("a legal move");
                    state = Some(MembershipState::after(&transition));
                    transitions.push(transition);
                }
                commit.appends.push(Append {
                    contact: contact(*c),
                    journey: journey.id().clone(),
                    expected_version: base.len() as u64,
                    transitions: transitions.clone(),
                });
                if !*stale {
                    history.extend(transitions);
                }
            }
            Part::Insert { contact: c, status } => {
                let record = Contact::new(contact(*c)).with_status(EnrollmentStatus::ALL[*status]);
                commit.contacts.push(ContactWrite::Insert(record));
                versions.insert(*c, 1);
            }
            Part::Update { contact: c, status, stale } => {
                let stored = match versions.get(c) {
                    Some(v) => *v,
                    None => reference.load_contact(&contact(*c)).await.map_or(0, |v| v.version),
                };
                let expected = if *stale { stored.saturating_sub(1) } else { stored };
                let record = Contact::new(contact(*c)).with_status(EnrollmentStatus::ALL[*status]);
                commit.contacts.push(ContactWrite::Update { contact: record, expected_version: expected });
                versions.insert(*c, stored + 1);
            }
        }
    }
    commit
}

/// Everything a step can have changed.
async fn state<R: Repository>(repo: &R, journeys: &[Journey; 2]) -> String {
    let mut out = String::new();
    for c in 0..CONTACTS {
        let record = repo.load_contact(&contact(c)).await.map_err(|e| e.code());
        out += &format!("{record:?}\n{:?}\n", repo.contact_journeys(&contact(c)).await.expect("journeys"));
        for journey in journeys {
            out += &format!("{:?}\n", repo.load_history(&contact(c), journey.id()).await.expect("history"));
        }
    }
    for journey in journeys {
        out += &format!("{:?}\n", repo.journey_transitions(journey.id(), None, 1_000).await.expect("log"));
    }
    for k in 0..KEYS {
        out += &format!("{:?}\n", repo.find_idempotency_key(&id(&format!("key-{k}"))).await.expect("key"));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_answers_like_the_in_memory_reference(steps in prop::collection::vec(step(), 1..20)) {
        block_on(async {
            let reference = InMemoryRepository::new();
            let sqlite = SqliteRepository::open_in_memory().expect("opened");
            let journeys = journeys();
            for journey in &journeys {
                reference.insert_journey(journey).await.expect("defined");
                sqlite.insert_journey(journey).await.expect("defined");
            }
            for (n, step) in steps.iter().enumerate() {
                let commit = build(&reference, &journeys, step, n as i64).await;
                let expected = contract_outcome(reference.commit(commit.clone()).await);
                let actual = contract_outcome(sqlite.commit(commit).await);
                prop_assert_eq!(&actual, &expected, "step {}: {:?}", n, step);
            }
            prop_assert_eq!(state(&sqlite, &journeys).await, state(&reference, &journeys).await);
            Ok(())
        })?;
    }
}
