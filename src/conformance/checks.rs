//! One check per clause of the [`Repository`] contract. Each takes a fresh, empty
//! repository.

use std::collections::BTreeMap;

use super::executor::{Task, block_on, join_all};
use super::fixture::{Check, Kind, append_after, at, contact_record, ids};
use super::{Concurrency, ConformanceFailure};
use crate::error::{Entity, RepositoryError};
use crate::model::contact::{Contact, EnrollmentStatus};
use crate::model::ids::{ContactId, JourneyId};
use crate::model::journey::Journey;
use crate::model::transition::{Source, SourceKind, TouchpointInfo, Transition};
use crate::model::value::Value;
use crate::repository::{Commit, ContactWrite, LogPosition, Repository, Versioned};
use crate::sequencing::{MembershipState, Move, decide, replay};

type Outcome = Result<(), ConformanceFailure>;

/// Storing a journey again with an identical definition succeeds; it is listed once,
/// ids in order, and loads back equal (the system journey included).
pub async fn journey_insert_is_idempotent<R: Repository>(repo: &R) -> Outcome {
    let c = Check("journey_insert_is_idempotent");
    let beta = c.journey("beta", &["x", "y"])?;
    let alpha = c.journey("alpha", &["x"])?;
    let system = Journey::advocate_enrollment();
    for journey in [&beta, &alpha, &system, &beta, &system] {
        c.ok(&format!("insert_journey {}", journey.id()), repo.insert_journey(journey).await)?;
    }
    let listed = c.ok("list_journeys", repo.list_journeys().await)?;
    c.equal("list_journeys (ordered, each once)", &listed, &ids([&system, &alpha, &beta]))?;
    for journey in [&beta, &system] {
        let loaded =
            c.ok(&format!("load_journey {}", journey.id()), repo.load_journey(journey.id()).await)?;
        c.equal(&format!("journey {} loaded back", journey.id()), &loaded, journey)?;
    }
    Ok(())
}

/// Storing a different definition under a stored id fails with `AlreadyExists` and
/// keeps the stored one.
pub async fn journey_insert_of_other_definition_already_exists<R: Repository>(repo: &R) -> Outcome {
    let c = Check("journey_insert_of_other_definition_already_exists");
    let original = c.journey("alpha", &["x", "y"])?;
    let other = c.journey("alpha", &["x", "z"])?;
    c.ok("insert_journey alpha", repo.insert_journey(&original).await)?;
    c.fails_with(
        "insert_journey alpha with other stages",
        repo.insert_journey(&other).await,
        Kind::AlreadyExists(Entity::Journey, "alpha".into()),
    )?;
    let loaded = c.ok("load_journey alpha", repo.load_journey(original.id()).await)?;
    c.equal("journey alpha after the refused insert", &loaded, &original)
}

/// Loading an unknown journey fails with `NotFound`; a fresh repository lists none.
pub async fn unknown_journey_not_found<R: Repository>(repo: &R) -> Outcome {
    let c = Check("unknown_journey_not_found");
    c.equal(
        "list_journeys of a fresh repository",
        &c.ok("list_journeys", repo.list_journeys().await)?,
        &vec![],
    )?;
    let id = c.fixture(JourneyId::new("nowhere"))?;
    c.fails_with(
        "load_journey nowhere",
        repo.load_journey(&id).await,
        Kind::NotFound(Entity::Journey, "nowhere".into()),
    )
}

/// A contact is stored at version 1 and each update adds one; typed attributes load
/// back equal.
pub async fn contact_versions<R: Repository>(repo: &R) -> Outcome {
    let c = Check("contact_versions");
    let id = c.contact("ada@example.com")?;
    let first = Contact::new(id.clone())
        .with_attribute(c.fixture("segment".parse())?, Value::from("smb"))
        .with_attribute(c.fixture("score".parse())?, c.fixture(Value::number(41.5))?)
        .with_attribute(c.fixture("vip".parse())?, Value::Bool(true))
        .with_attribute(c.fixture("tags".parse())?, Value::List(vec![Value::from("a"), Value::from("b")]))
        .with_attribute(c.fixture("signed_up".parse())?, Value::Timestamp { timestamp: at(-60) });
    c.ok(
        "insert contact",
        repo.commit(Commit { contacts: vec![ContactWrite::Insert(first.clone())], ..Commit::default() })
            .await,
    )?;
    let loaded = c.ok("load_contact after insert", repo.load_contact(&id).await)?;
    c.equal("contact after insert", &loaded, &Versioned { value: first.clone(), version: 1 })?;
    let mut expected = first;
    for version in 1..=2 {
        expected = expected.with_status(EnrollmentStatus::ALL[version as usize]);
        let update = ContactWrite::Update { contact: expected.clone(), expected_version: version };
        c.ok(
            &format!("update contact at version {version}"),
            repo.commit(Commit { contacts: vec![update], ..Commit::default() }).await,
        )?;
        let loaded = c.ok("load_contact after update", repo.load_contact(&id).await)?;
        c.equal(
            &format!("contact after update at version {version}"),
            &loaded,
            &Versioned { value: expected.clone(), version: version + 1 },
        )?;
    }
    Ok(())
}

/// Loading or updating an unknown contact fails with `NotFound`; inserting a stored
/// one fails with `AlreadyExists` and changes nothing; `contact_exists` agrees with
/// loading.
pub async fn contact_insert_and_update_kinds<R: Repository>(repo: &R) -> Outcome {
    let c = Check("contact_insert_and_update_kinds");
    let ghost = c.contact("ghost")?;
    c.fails_with(
        "load_contact ghost",
        repo.load_contact(&ghost).await,
        Kind::NotFound(Entity::Contact, "ghost".into()),
    )?;
    let update = ContactWrite::Update { contact: contact_record(&ghost), expected_version: 1 };
    c.fails_with(
        "update of unknown contact ghost",
        repo.commit(Commit { contacts: vec![update], ..Commit::default() }).await,
        Kind::NotFound(Entity::Contact, "ghost".into()),
    )?;
    c.fails_with(
        "load_contact ghost after the refused update",
        repo.load_contact(&ghost).await,
        Kind::NotFound(Entity::Contact, "ghost".into()),
    )?;
    let exists = c.ok("contact_exists ghost", repo.contact_exists(&ghost).await)?;
    c.equal("contact_exists ghost", &exists, &false)?;
    let ada = c.contact("ada")?;
    let stored = contact_record(&ada);
    c.ok(
        "insert contact ada",
        repo.commit(Commit { contacts: vec![ContactWrite::Insert(stored.clone())], ..Commit::default() })
            .await,
    )?;
    let exists = c.ok("contact_exists ada", repo.contact_exists(&ada).await)?;
    c.equal("contact_exists ada after its insert", &exists, &true)?;
    let again = contact_record(&ada).with_status(EnrollmentStatus::Banned);
    c.fails_with(
        "second insert of contact ada",
        repo.commit(Commit { contacts: vec![ContactWrite::Insert(again)], ..Commit::default() }).await,
        Kind::AlreadyExists(Entity::Contact, "ada".into()),
    )?;
    let loaded = c.ok("load_contact ada", repo.load_contact(&ada).await)?;
    c.equal("contact ada after the refused insert", &loaded, &Versioned { value: stored, version: 1 })
}

/// A history loads back in version order with every field of every transition
/// (sources, touchpoints, back-filled times, idempotency keys) as written.
pub async fn history_in_version_order<R: Repository>(repo: &R) -> Outcome {
    let c = Check("history_in_version_order");
    let journey = c.journey("alpha", &["a", "b", "c"])?;
    c.ok("insert_journey", repo.insert_journey(&journey).await)?;
    let ada = c.contact("ada")?;
    let touchpoint = TouchpointInfo {
        channel: c.fixture("email".parse())?,
        interaction: Some(c.fixture("call".parse())?),
        note: Some(c.fixture("asked for a demo, then \"maybe\"".parse())?),
    };
    let requests = [
        Move {
            touchpoint: Some(touchpoint),
            ..Move::to_stage(
                ada.clone(),
                c.fixture("a".parse())?,
                at(0),
                Source::manual(c.fixture("sales".parse())?),
            )
        },
        Move {
            recorded_at: at(90),
            ..Move::to_stage(
                ada.clone(),
                c.fixture("b".parse())?,
                at(10),
                Source::Import {
                    batch: c.fixture("2026-01.csv".parse())?,
                    line: 12,
                    origin: Some(SourceKind::Manual),
                },
            )
        },
        Move {
            idempotency_key: Some(c.key("cmd-3")?),
            ..Move::to_stage(
                ada.clone(),
                c.fixture("c".parse())?,
                at(20),
                Source::automation(c.fixture("demo-booked".parse())?),
            )
        },
        Move::to_stage(ada.clone(), c.fixture("a".parse())?, at(30), Source::enrollment_status()),
        Move::to_stage(
            ada.clone(),
            c.fixture("b".parse())?,
            at(30),
            Source::manual(c.fixture("ops".parse())?),
        ),
    ];
    let mut history: Vec<Transition> = Vec::new();
    for request in &requests {
        let state = history.last().map(MembershipState::after);
        history.push(c.fixture(decide(&journey, state.as_ref(), request))?);
    }
    let (first, second) = history.split_at(3);
    c.ok(
        "commit of versions 1-3",
        repo.commit(Commit::append(ada.clone(), journey.id().clone(), 0, first.to_vec())).await,
    )?;
    c.ok(
        "commit of versions 4-5",
        repo.commit(Commit::append(ada.clone(), journey.id().clone(), 3, second.to_vec())).await,
    )?;
    let loaded = c.ok("load_history", repo.load_history(&ada, journey.id()).await)?;
    c.equal("history in version order", &loaded, &history)?;
    let read = c.ok("read_history", repo.read_history(&ada, journey.id(), <[Transition]>::to_vec).await)?;
    c.equal("read_history sees the loaded history", &read, &history)
}

/// The history of a contact that is not a member is empty, whether or not the
/// contact or the journey exists.
pub async fn history_empty_for_non_member<R: Repository>(repo: &R) -> Outcome {
    let c = Check("history_empty_for_non_member");
    let alpha = c.journey("alpha", &["a"])?;
    let beta = c.journey("beta", &["a"])?;
    c.ok("insert_journey alpha", repo.insert_journey(&alpha).await)?;
    c.ok("insert_journey beta", repo.insert_journey(&beta).await)?;
    let ada = c.contact("ada")?;
    let bob = c.contact("bob")?;
    let mut commit = c.entry(&alpha, &ada, &[("a", 0)])?;
    commit.contacts =
        vec![ContactWrite::Insert(contact_record(&ada)), ContactWrite::Insert(contact_record(&bob))];
    c.ok("commit", repo.commit(commit).await)?;
    let ghost = c.contact("ghost")?;
    let nowhere = c.fixture(JourneyId::new("nowhere"))?;
    for (contact, journey) in [(&ada, beta.id()), (&bob, alpha.id()), (&ghost, alpha.id()), (&ada, &nowhere)]
    {
        let history =
            c.ok(&format!("load_history {contact} in {journey}"), repo.load_history(contact, journey).await)?;
        c.equal(&format!("history of {contact} in {journey}"), &history, &Vec::new())?;
        let read = c.ok(
            &format!("read_history {contact} in {journey}"),
            repo.read_history(contact, journey, <[Transition]>::len).await,
        )?;
        c.equal(&format!("read_history length of {contact} in {journey}"), &read, &0)?;
    }
    Ok(())
}

/// What a commit can have touched, to show a refused one changed nothing.
#[derive(Debug, PartialEq)]
struct Snapshot {
    histories: BTreeMap<(ContactId, JourneyId), Vec<Transition>>,
    contacts: BTreeMap<ContactId, Option<Versioned<Contact>>>,
    memberships: BTreeMap<ContactId, Vec<JourneyId>>,
    logs: BTreeMap<JourneyId, Vec<Transition>>,
    keys: Vec<Option<Vec<Transition>>>,
}

async fn snapshot<R: Repository>(
    c: Check,
    repo: &R,
    contacts: &[&ContactId],
    journeys: &[&Journey],
    keys: &[&str],
) -> Result<Snapshot, ConformanceFailure> {
    let mut shot = Snapshot {
        histories: BTreeMap::new(),
        contacts: BTreeMap::new(),
        memberships: BTreeMap::new(),
        logs: BTreeMap::new(),
        keys: Vec::new(),
    };
    for contact in contacts {
        for journey in journeys {
            let history = c.ok("load_history", repo.load_history(contact, journey.id()).await)?;
            shot.histories.insert(((*contact).clone(), journey.id().clone()), history);
        }
        let record = match repo.load_contact(contact).await {
            Ok(record) => Some(record),
            Err(RepositoryError::NotFound { .. }) => None,
            Err(e) => return Err(c.fail(format!("load_contact {contact}: {e}"))),
        };
        shot.contacts.insert((*contact).clone(), record);
        shot.memberships
            .insert((*contact).clone(), c.ok("contact_journeys", repo.contact_journeys(contact).await)?);
    }
    for journey in journeys {
        let log =
            c.ok("journey_transitions", repo.journey_transitions(journey.id(), None, usize::MAX).await)?;
        shot.logs.insert(journey.id().clone(), log);
    }
    for key in keys {
        shot.keys.push(c.ok("find_idempotency_key", repo.find_idempotency_key(&c.key(key)?).await)?);
    }
    Ok(shot)
}

/// A commit of several appends and contact writes stores all of them; a commit
/// whose last part fails (stale membership, contact already stored, unknown
/// contact) stores none of its parts, nor its idempotency key.
pub async fn commit_is_atomic<R: Repository>(repo: &R) -> Outcome {
    let c = Check("commit_is_atomic");
    let alpha = c.journey("alpha", &["a", "b", "c"])?;
    let beta = c.journey("beta", &["a", "b"])?;
    c.ok("insert_journey alpha", repo.insert_journey(&alpha).await)?;
    c.ok("insert_journey beta", repo.insert_journey(&beta).await)?;
    let [ada, bob, carol] = [c.contact("ada")?, c.contact("bob")?, c.contact("carol")?];
    let ada_alpha = c.moves(&alpha, &ada, &[], &[("a", 0), ("b", 5)])?;
    let bob_alpha = c.moves(&alpha, &bob, &[], &[("a", 1)])?;
    let ada_beta = c.moves(&beta, &ada, &[], &[("b", 2)])?;
    let whole = Commit {
        appends: [&ada_alpha, &bob_alpha, &ada_beta]
            .into_iter()
            .filter_map(|t| append_after(&[], t.clone()))
            .collect(),
        contacts: vec![
            ContactWrite::Insert(contact_record(&ada)),
            ContactWrite::Insert(contact_record(&bob)),
        ],
        idempotency_key: Some(c.key("whole")?),
    };
    c.ok("commit of three appends and two contact inserts", repo.commit(whole).await)?;
    let contacts = [&ada, &bob, &carol];
    let journeys = [&alpha, &beta];
    let keys = ["whole", "refused"];
    let stored = snapshot(c, repo, &contacts, &journeys, &keys).await?;
    c.equal("history of ada in alpha", &stored.histories[&(ada.clone(), alpha.id().clone())], &ada_alpha)?;
    c.equal("history of bob in alpha", &stored.histories[&(bob.clone(), alpha.id().clone())], &bob_alpha)?;
    c.equal("history of ada in beta", &stored.histories[&(ada.clone(), beta.id().clone())], &ada_beta)?;
    c.equal("version of contact bob", &stored.contacts[&bob].as_ref().map(|v| v.version), &Some(1))?;
    c.equal("transitions stored with key `whole`", &stored.keys[0].as_ref().map(Vec::len), &Some(4))?;

    let good_parts = || -> Result<Commit, ConformanceFailure> {
        let more = c.moves(&alpha, &ada, &ada_alpha, &[("c", 30)])?;
        let carol_entry = c.moves(&alpha, &carol, &[], &[("a", 31), ("c", 32)])?;
        Ok(Commit {
            appends: [append_after(&ada_alpha, more), append_after(&[], carol_entry)]
                .into_iter()
                .flatten()
                .collect(),
            contacts: vec![
                ContactWrite::Insert(contact_record(&carol)),
                ContactWrite::Update {
                    contact: contact_record(&ada).with_status(EnrollmentStatus::Enrolled),
                    expected_version: 1,
                },
            ],
            idempotency_key: Some(c.key("refused")?),
        })
    };
    let mut stale_last = good_parts()?;
    stale_last.appends.extend(append_after(&[], c.moves(&alpha, &bob, &[], &[("b", 33)])?));
    c.fails_with(
        "commit whose last append is stale",
        repo.commit(stale_last).await,
        Kind::Conflict { entity: Entity::Membership, expected: 0, actual: 1 },
    )?;
    c.equal(
        "state after a commit refused for a stale append",
        &snapshot(c, repo, &contacts, &journeys, &keys).await?,
        &stored,
    )?;

    let mut duplicate_last = good_parts()?;
    duplicate_last.contacts.push(ContactWrite::Insert(contact_record(&bob)));
    c.fails_with(
        "commit whose last part inserts a stored contact",
        repo.commit(duplicate_last).await,
        Kind::AlreadyExists(Entity::Contact, "bob".into()),
    )?;
    c.equal(
        "state after a commit refused for a duplicate contact",
        &snapshot(c, repo, &contacts, &journeys, &keys).await?,
        &stored,
    )?;

    let ghost = c.contact("ghost")?;
    let mut unknown_last = good_parts()?;
    unknown_last.contacts.push(ContactWrite::Update { contact: contact_record(&ghost), expected_version: 1 });
    c.fails_with(
        "commit whose last part updates an unknown contact",
        repo.commit(unknown_last).await,
        Kind::NotFound(Entity::Contact, "ghost".into()),
    )?;
    c.equal(
        "state after a commit refused for an unknown contact",
        &snapshot(c, repo, &contacts, &journeys, &keys).await?,
        &stored,
    )?;

    c.ok("the same parts once every version is right", repo.commit(good_parts()?).await)?;
    let after = snapshot(c, repo, &contacts, &journeys, &keys).await?;
    c.equal(
        "version of ada in alpha after the good commit",
        &after.histories[&(ada.clone(), alpha.id().clone())].len(),
        &3,
    )?;
    c.equal(
        "version of contact carol after the good commit",
        &after.contacts[&carol].as_ref().map(|v| v.version),
        &Some(1),
    )
}

/// An append at a stale expected version (behind, ahead, or on a non-member) fails
/// with `Conflict { expected, actual }` and writes nothing.
pub async fn stale_membership_version_conflicts<R: Repository>(repo: &R) -> Outcome {
    let c = Check("stale_membership_version_conflicts");
    let journey = c.journey("alpha", &["a", "b"])?;
    c.ok("insert_journey", repo.insert_journey(&journey).await)?;
    let ada = c.contact("ada")?;
    let entry = c.moves(&journey, &ada, &[], &[("a", 0)])?;
    c.ok(
        "entry of ada",
        repo.commit(Commit::append(ada.clone(), journey.id().clone(), 0, entry.clone())).await,
    )?;
    let next = c.moves(&journey, &ada, &entry, &[("b", 1)])?;
    for expected in [0, 2, 7] {
        c.fails_with(
            &format!("append of ada at expected version {expected}"),
            repo.commit(Commit::append(ada.clone(), journey.id().clone(), expected, next.clone())).await,
            Kind::Conflict { entity: Entity::Membership, expected, actual: 1 },
        )?;
    }
    let bob = c.contact("bob")?;
    c.fails_with(
        "append of non-member bob at expected version 1",
        repo.commit(Commit::append(
            bob.clone(),
            journey.id().clone(),
            1,
            c.moves(&journey, &bob, &entry, &[("b", 1)])?,
        ))
        .await,
        Kind::Conflict { entity: Entity::Membership, expected: 1, actual: 0 },
    )?;
    c.equal(
        "history of ada after refused appends",
        &c.ok("load_history", repo.load_history(&ada, journey.id()).await)?,
        &entry,
    )?;
    c.equal(
        "history of bob after a refused append",
        &c.ok("load_history", repo.load_history(&bob, journey.id()).await)?,
        &Vec::new(),
    )?;
    c.ok(
        "append of ada at the right version",
        repo.commit(Commit::append(ada.clone(), journey.id().clone(), 1, next)).await,
    )
}

/// `append_decided` shows `decide` the stored history and appends the transition it
/// returns (with its idempotency key); a refusal, a contact that is not stored, or a
/// key an earlier commit stored writes nothing. A history a `commit` appended to is
/// never shown as decided here.
pub async fn append_decided_reads_then_commits<R: Repository>(repo: &R) -> Outcome {
    let c = Check("append_decided_reads_then_commits");
    let journey = c.journey("alpha", &["a", "b", "c"])?;
    c.ok("insert_journey", repo.insert_journey(&journey).await)?;
    let [ada, bob, ghost] = [c.contact("ada")?, c.contact("bob")?, c.contact("ghost")?];
    let mut commit = c.entry(&journey, &ada, &[("a", 0)])?;
    commit.contacts =
        vec![ContactWrite::Insert(contact_record(&ada)), ContactWrite::Insert(contact_record(&bob))];
    c.ok("commit", repo.commit(commit).await)?;
    let next = |contact: &ContactId, history: &[Transition], stage: &str, minutes: i64| {
        c.moves(&journey, contact, history, &[(stage, minutes)])?
            .into_iter()
            .next()
            .ok_or_else(|| c.fail("building test data made no transition"))
    };
    let history_of =
        async |contact: &ContactId| c.ok("load_history", repo.load_history(contact, journey.id()).await);
    let mut ada_history = history_of(&ada).await?;
    // Twice: after the entry's commit, and after a commit following a decided append.
    for (stage, minutes) in [("b", 1), ("a", 3)] {
        let mut seen = None;
        let moved = repo
            .append_decided(&ada, journey.id(), None, |stored| {
                seen = Some((stored.transitions.to_vec(), stored.decided_here));
                next(&ada, stored.transitions, stage, minutes).map(|t| (t.clone(), t))
            })
            .await;
        let moved = c.ok(&format!("append_decided of ada to {stage}"), moved)??;
        c.equal("history append_decided showed", &seen, &Some((ada_history.clone(), false)))?;
        ada_history.push(moved);
        c.equal("history of ada after append_decided", &history_of(&ada).await?, &ada_history)?;
        let committed = next(&ada, &ada_history, "c", minutes + 1)?;
        let commit = Commit::append(
            ada.clone(),
            journey.id().clone(),
            ada_history.len() as u64,
            vec![committed.clone()],
        );
        c.ok("commit after append_decided", repo.commit(commit).await)?;
        ada_history.push(committed);
    }
    let refused =
        repo.append_decided(&ada, journey.id(), None, |_| Err::<(Transition, ()), _>("refused")).await;
    c.equal("a refusal is returned", &c.ok("append_decided refused", refused)?, &Err("refused"))?;
    c.fails_with(
        "append_decided of ghost, not stored",
        repo.append_decided(&ghost, journey.id(), None, |stored| {
            next(&ghost, stored.transitions, "a", 8).map(|t| (t, ()))
        })
        .await,
        Kind::NotFound(Entity::Contact, "ghost".into()),
    )?;
    let key = c.key("cmd-1")?;
    let bob_entry = repo.append_decided(&bob, journey.id(), Some(&key), |stored| {
        next(&bob, stored.transitions, "a", 9).map(|t| (t.clone(), t))
    });
    let bob_entry = c.ok("append_decided of bob with key cmd-1", bob_entry.await)??;
    c.fails_with(
        "append_decided of ada with key cmd-1 again",
        repo.append_decided(&ada, journey.id(), Some(&key), |stored| {
            next(&ada, stored.transitions, "b", 10).map(|t| (t, ()))
        })
        .await,
        Kind::AlreadyExists(Entity::IdempotencyKey, "cmd-1".into()),
    )?;
    c.equal("history of ada after refusals", &history_of(&ada).await?, &ada_history)?;
    c.equal("history of ghost", &history_of(&ghost).await?, &Vec::new())?;
    c.equal("history of bob", &history_of(&bob).await?, &vec![bob_entry.clone()])?;
    c.equal(
        "transitions stored with cmd-1",
        &c.ok("find_idempotency_key", repo.find_idempotency_key(&key).await)?,
        &Some(vec![bob_entry]),
    )
}

/// A contact update at a stale expected version fails with
/// `Conflict { expected, actual }` and writes nothing.
pub async fn stale_contact_version_conflicts<R: Repository>(repo: &R) -> Outcome {
    let c = Check("stale_contact_version_conflicts");
    let ada = c.contact("ada")?;
    let write = |contact: Contact, expected_version| Commit {
        contacts: vec![ContactWrite::Update { contact, expected_version }],
        ..Commit::default()
    };
    c.ok(
        "insert ada",
        repo.commit(Commit {
            contacts: vec![ContactWrite::Insert(contact_record(&ada))],
            ..Commit::default()
        })
        .await,
    )?;
    let pending = contact_record(&ada).with_status(EnrollmentStatus::Pending);
    c.ok("update ada at version 1", repo.commit(write(pending.clone(), 1)).await)?;
    for expected in [1, 3] {
        c.fails_with(
            &format!("update of ada at expected version {expected}"),
            repo.commit(write(contact_record(&ada).with_status(EnrollmentStatus::Banned), expected)).await,
            Kind::Conflict { entity: Entity::Contact, expected, actual: 2 },
        )?;
    }
    let loaded = c.ok("load_contact ada", repo.load_contact(&ada).await)?;
    c.equal("contact ada after refused updates", &loaded, &Versioned { value: pending, version: 2 })
}

/// When several parts of a commit fail, the first in the contract's order is
/// reported: idempotency key, then contact writes, then appends.
pub async fn commit_checks_run_in_order<R: Repository>(repo: &R) -> Outcome {
    let c = Check("commit_checks_run_in_order");
    let journey = c.journey("alpha", &["a", "b"])?;
    c.ok("insert_journey", repo.insert_journey(&journey).await)?;
    let [ada, ghost] = [c.contact("ada")?, c.contact("ghost")?];
    let mut first = c.entry(&journey, &ada, &[("a", 0)])?;
    first.contacts.push(ContactWrite::Insert(contact_record(&ada)));
    first.idempotency_key = Some(c.key("used")?);
    c.ok("add ada with key `used`", repo.commit(first).await)?;
    // Every commit below also carries an append at a stale version.
    let stale_append = || c.entry(&journey, &ada, &[("a", 1)]);
    let insert_ada = ContactWrite::Insert(contact_record(&ada));
    let cases = [
        (Some("used"), insert_ada.clone(), Kind::AlreadyExists(Entity::IdempotencyKey, "used".into())),
        (Some("fresh"), insert_ada, Kind::AlreadyExists(Entity::Contact, "ada".into())),
        (
            None,
            ContactWrite::Update { contact: contact_record(&ghost), expected_version: 1 },
            Kind::NotFound(Entity::Contact, "ghost".into()),
        ),
        (
            None,
            ContactWrite::Update { contact: contact_record(&ada), expected_version: 4 },
            Kind::Conflict { entity: Entity::Contact, expected: 4, actual: 1 },
        ),
    ];
    for (key, write, expected) in cases {
        let mut commit = stale_append()?;
        commit.contacts.push(write);
        commit.idempotency_key = key.map(|k| c.key(k)).transpose()?;
        let what = format!("a commit failing on several parts, expecting {expected:?}");
        c.fails_with(&what, repo.commit(commit).await, expected)?;
    }
    Ok(())
}

/// Each part of a commit is checked against the state the parts before it leave: two
/// appends to one membership at consecutive versions, and a contact inserted then
/// updated, are all stored. A second append at the version the first one started
/// from conflicts (its `actual` counts the first one's transitions), and the commit
/// stores none of its parts.
pub async fn commit_parts_see_earlier_parts<R: Repository>(repo: &R) -> Outcome {
    let c = Check("commit_parts_see_earlier_parts");
    let alpha = c.journey("alpha", &["a", "b", "c"])?;
    c.ok("insert_journey", repo.insert_journey(&alpha).await)?;
    let [ada, bob] = [c.contact("ada")?, c.contact("bob")?];
    let ada_first = c.moves(&alpha, &ada, &[], &[("a", 0)])?;
    let ada_then = c.moves(&alpha, &ada, &ada_first, &[("b", 1), ("c", 2)])?;
    let bob_entry = c.moves(&alpha, &bob, &[], &[("a", 3)])?;
    let contacts = [&ada, &bob];
    let keys = ["refused", "whole"];
    let empty = snapshot(c, repo, &contacts, &[&alpha], &keys).await?;
    let refused = Commit {
        appends: [
            append_after(&[], bob_entry.clone()),
            append_after(&[], ada_first.clone()),
            append_after(&[], ada_then.clone()),
        ]
        .into_iter()
        .flatten()
        .collect(),
        contacts: vec![ContactWrite::Insert(contact_record(&bob))],
        idempotency_key: Some(c.key("refused")?),
    };
    c.fails_with(
        "commit whose second append to ada starts where the first did",
        repo.commit(refused).await,
        Kind::Conflict { entity: Entity::Membership, expected: 0, actual: 1 },
    )?;
    c.equal(
        "state after a commit refused for its second append to one membership",
        &snapshot(c, repo, &contacts, &[&alpha], &keys).await?,
        &empty,
    )?;
    let whole = Commit {
        appends: [
            append_after(&[], ada_first.clone()),
            append_after(&ada_first, ada_then.clone()),
            append_after(&[], bob_entry.clone()),
        ]
        .into_iter()
        .flatten()
        .collect(),
        contacts: vec![
            ContactWrite::Insert(contact_record(&ada)),
            ContactWrite::Update {
                contact: contact_record(&ada).with_status(EnrollmentStatus::Enrolled),
                expected_version: 1,
            },
        ],
        idempotency_key: Some(c.key("whole")?),
    };
    c.ok("commit of two appends to ada and ada inserted then updated", repo.commit(whole).await)?;
    let stored = snapshot(c, repo, &contacts, &[&alpha], &keys).await?;
    c.equal(
        "history of ada",
        &stored.histories[&(ada.clone(), alpha.id().clone())],
        &[ada_first, ada_then].concat(),
    )?;
    c.equal("history of bob", &stored.histories[&(bob.clone(), alpha.id().clone())], &bob_entry)?;
    c.equal(
        "contact ada",
        &stored.contacts[&ada].as_ref().map(|v| (v.value.enrollment, v.version)),
        &Some((EnrollmentStatus::Enrolled, 2)),
    )?;
    c.equal("transitions in alpha's log", &stored.logs[alpha.id()].len(), &4)?;
    c.equal("transitions stored with key `whole`", &stored.keys[1].as_ref().map(Vec::len), &Some(4))
}

/// A commit carrying an idempotency key an earlier commit stored fails with
/// `AlreadyExists` and writes nothing, whether or not it has transitions.
pub async fn reused_idempotency_key_already_exists<R: Repository>(repo: &R) -> Outcome {
    let c = Check("reused_idempotency_key_already_exists");
    let journey = c.journey("alpha", &["a"])?;
    c.ok("insert_journey", repo.insert_journey(&journey).await)?;
    let [ada, bob] = [c.contact("ada")?, c.contact("bob")?];
    let key = c.key("cmd-1")?;
    let mut first = c.entry(&journey, &ada, &[("a", 0)])?;
    first.idempotency_key = Some(key.clone());
    let ada_entry: Vec<Transition> = first.transitions().cloned().collect();
    c.ok("commit with key cmd-1", repo.commit(first).await)?;
    let mut again = c.entry(&journey, &bob, &[("a", 1)])?;
    again.idempotency_key = Some(key.clone());
    again.contacts.push(ContactWrite::Insert(contact_record(&bob)));
    let refused = Kind::AlreadyExists(Entity::IdempotencyKey, "cmd-1".into());
    c.fails_with("another commit with key cmd-1", repo.commit(again).await, refused)?;
    let no_transitions = Commit {
        contacts: vec![ContactWrite::Insert(contact_record(&bob))],
        idempotency_key: Some(key.clone()),
        ..Commit::default()
    };
    let refused = Kind::AlreadyExists(Entity::IdempotencyKey, "cmd-1".into());
    c.fails_with("a commit with key cmd-1 and no transitions", repo.commit(no_transitions).await, refused)?;
    c.equal(
        "history of bob",
        &c.ok("load_history", repo.load_history(&bob, journey.id()).await)?,
        &Vec::new(),
    )?;
    c.fails_with(
        "load_contact bob",
        repo.load_contact(&bob).await,
        Kind::NotFound(Entity::Contact, "bob".into()),
    )?;
    c.equal(
        "transitions stored with cmd-1",
        &c.ok("find_idempotency_key", repo.find_idempotency_key(&key).await)?,
        &Some(ada_entry),
    )
}

/// Looking up a key returns the transitions of the commit that stored it, in commit
/// order (an empty list for a commit without transitions), and `None` for a key no
/// commit stored.
pub async fn idempotency_lookup<R: Repository>(repo: &R) -> Outcome {
    let c = Check("idempotency_lookup");
    let alpha = c.journey("alpha", &["a", "b"])?;
    let beta = c.journey("beta", &["a"])?;
    c.ok("insert_journey alpha", repo.insert_journey(&alpha).await)?;
    c.ok("insert_journey beta", repo.insert_journey(&beta).await)?;
    let [ada, bob] = [c.contact("ada")?, c.contact("bob")?];
    let unknown = c.key("never-used")?;
    c.equal(
        "lookup of an unused key",
        &c.ok("find_idempotency_key", repo.find_idempotency_key(&unknown).await)?,
        &None,
    )?;
    let bob_alpha = c.moves(&alpha, &bob, &[], &[("a", 3), ("b", 4)])?;
    let ada_beta = c.moves(&beta, &ada, &[], &[("a", 1)])?;
    let key = c.key("cmd-two-memberships")?;
    let commit = Commit {
        appends: [append_after(&[], bob_alpha.clone()), append_after(&[], ada_beta.clone())]
            .into_iter()
            .flatten()
            .collect(),
        contacts: Vec::new(),
        idempotency_key: Some(key.clone()),
    };
    c.ok("commit with two memberships", repo.commit(commit).await)?;
    let expected: Vec<Transition> = bob_alpha.into_iter().chain(ada_beta).collect();
    c.equal(
        "transitions stored with the key",
        &c.ok("find_idempotency_key", repo.find_idempotency_key(&key).await)?,
        &Some(expected),
    )?;
    let empty_key = c.key("cmd-no-moves")?;
    let contact_only = Commit {
        contacts: vec![ContactWrite::Insert(contact_record(&ada))],
        idempotency_key: Some(empty_key.clone()),
        ..Commit::default()
    };
    c.ok("commit with a key and no transitions", repo.commit(contact_only).await)?;
    c.equal(
        "lookup of the key of a commit without transitions",
        &c.ok("find_idempotency_key", repo.find_idempotency_key(&empty_key).await)?,
        &Some(Vec::new()),
    )
}

/// A contact's journeys are those it has a transition in, ordered by id whatever
/// the order it joined them.
pub async fn contact_journeys_ordered<R: Repository>(repo: &R) -> Outcome {
    let c = Check("contact_journeys_ordered");
    let journeys = [
        c.journey("gamma", &["a"])?,
        c.journey("alpha", &["a"])?,
        c.journey("beta", &["a"])?,
        c.journey("delta", &["a"])?,
    ];
    let [ada, bob] = [c.contact("ada")?, c.contact("bob")?];
    for journey in &journeys {
        c.ok("insert_journey", repo.insert_journey(journey).await)?;
    }
    for journey in &journeys[..3] {
        c.ok(
            &format!("entry of ada into {}", journey.id()),
            repo.commit(c.entry(journey, &ada, &[("a", 0)])?).await,
        )?;
    }
    c.ok(
        "insert bob",
        repo.commit(Commit {
            contacts: vec![ContactWrite::Insert(contact_record(&bob))],
            ..Commit::default()
        })
        .await,
    )?;
    let listed = c.ok("contact_journeys ada", repo.contact_journeys(&ada).await)?;
    c.equal("journeys of ada", &listed, &ids([&journeys[1], &journeys[2], &journeys[0]]))?;
    c.equal(
        "journeys of bob (a record, no membership)",
        &c.ok("contact_journeys bob", repo.contact_journeys(&bob).await)?,
        &Vec::new(),
    )?;
    let ghost = c.contact("ghost")?;
    c.equal(
        "journeys of an unknown contact",
        &c.ok("contact_journeys ghost", repo.contact_journeys(&ghost).await)?,
        &Vec::new(),
    )
}

/// Fills journey `alpha` with transitions of several contacts, ties on time, a
/// back-filled membership committed last, and noise in journey `beta`. Returns
/// `alpha`'s transitions in the order the contract asks for.
async fn populate_log<R: Repository>(c: Check, repo: &R) -> Result<Vec<Transition>, ConformanceFailure> {
    let alpha = c.journey("alpha", &["a", "b", "c"])?;
    let beta = c.journey("beta", &["a", "b"])?;
    c.ok("insert_journey alpha", repo.insert_journey(&alpha).await)?;
    c.ok("insert_journey beta", repo.insert_journey(&beta).await)?;
    let [ada, bob, carol] = [c.contact("ada")?, c.contact("bob")?, c.contact("carol")?];
    let mut written = Vec::new();
    let parts = [
        (&alpha, &ada, vec![("a", 10), ("b", 20), ("c", 30)]),
        (&beta, &ada, vec![("a", 15), ("b", 16)]),
        (&alpha, &bob, vec![("a", 20), ("b", 20), ("a", 40)]),
        // Back-filled: happened before everything above, recorded after it.
        (&alpha, &carol, vec![("c", 5), ("a", 25)]),
    ];
    for (journey, contact, steps) in &parts {
        let commit = c.entry(journey, contact, steps)?;
        if journey.id() == alpha.id() {
            written.extend(commit.transitions().cloned());
        }
        c.ok(&format!("entry of {contact} into {}", journey.id()), repo.commit(commit).await)?;
    }
    written.sort_by_key(LogPosition::of);
    Ok(written)
}

/// A journey's log lists its transitions (and only its) in
/// (occurred_at, contact, version) order, back-filled ones included; an unknown
/// journey's log is empty.
pub async fn journey_transitions_in_time_order<R: Repository>(repo: &R) -> Outcome {
    let c = Check("journey_transitions_in_time_order");
    let expected = populate_log(c, repo).await?;
    let alpha = c.fixture(JourneyId::new("alpha"))?;
    let log =
        c.ok("journey_transitions alpha", repo.journey_transitions(&alpha, None, expected.len() + 5).await)?;
    c.equal("log of alpha as (contact, version) pairs", &positions(&log), &positions(&expected))?;
    c.equal("log of alpha", &log, &expected)?;
    let nowhere = c.fixture(JourneyId::new("nowhere"))?;
    c.equal(
        "log of an unknown journey",
        &c.ok("journey_transitions nowhere", repo.journey_transitions(&nowhere, None, 10).await)?,
        &Vec::new(),
    )
}

fn positions(log: &[Transition]) -> Vec<(String, u64)> {
    log.iter().map(|t| (t.contact.to_string(), t.version)).collect()
}

/// Reading a journey's log in pages, each starting after the last position of the
/// one before, yields the whole log once; `limit` bounds each page, and a position
/// between entries or after the last is honoured.
pub async fn journey_transitions_paginate<R: Repository>(repo: &R) -> Outcome {
    let c = Check("journey_transitions_paginate");
    let expected = populate_log(c, repo).await?;
    let alpha = c.fixture(JourneyId::new("alpha"))?;
    for limit in [1, 2, 3] {
        let mut read: Vec<Transition> = Vec::new();
        for _ in 0..=expected.len() {
            let after = read.last().map(LogPosition::of);
            let page = c.ok(
                "journey_transitions page",
                repo.journey_transitions(&alpha, after.as_ref(), limit).await,
            )?;
            if page.len() > limit {
                return Err(c.fail(format!("a page of limit {limit} held {} transitions", page.len())));
            }
            let done = page.len() < limit;
            read.extend(page);
            if done {
                break;
            }
        }
        c.equal(&format!("the log read in pages of {limit}"), &positions(&read), &positions(&expected))?;
    }
    c.equal(
        "a page of limit 0",
        &c.ok("journey_transitions", repo.journey_transitions(&alpha, None, 0).await)?,
        &Vec::new(),
    )?;
    let between = LogPosition { occurred_at: at(20), contact: c.contact("az")?, version: 9 };
    let tail: Vec<Transition> = expected.iter().filter(|t| LogPosition::of(t) > between).cloned().collect();
    let read = c.ok(
        "journey_transitions after a position between entries",
        repo.journey_transitions(&alpha, Some(&between), 100).await,
    )?;
    c.equal("the log after a position between entries", &positions(&read), &positions(&tail))?;
    let last = expected.last().map(LogPosition::of);
    let read = c.ok(
        "journey_transitions after the last entry",
        repo.journey_transitions(&alpha, last.as_ref(), 100).await,
    )?;
    c.equal("the log after its last entry", &read, &Vec::new())
}

/// Concurrent commits behave as if applied one after another: of writers racing at
/// one expected version exactly one wins, with all of its commit; writers that
/// retry on `Conflict` all land, with contiguous versions and a history that
/// replays.
pub async fn concurrent_commits_serialize<R: Repository>(repo: &R, concurrency: Concurrency) -> Outcome {
    let c = Check("concurrent_commits_serialize");
    let writers = concurrency.writers();
    let mut stages = vec!["start".to_owned()];
    stages.extend((0..writers).flat_map(|i| [format!("w{i}"), format!("v{i}")]));
    let stage_refs: Vec<&str> = stages.iter().map(String::as_str).collect();
    let journey = c.journey("race", &stage_refs)?;
    c.ok("insert_journey", repo.insert_journey(&journey).await)?;
    let shared = c.contact("shared")?;
    let entry = c.moves(&journey, &shared, &[], &[("start", 0)])?;
    c.ok(
        "entry of the shared contact",
        repo.commit(Commit::append(shared.clone(), journey.id().clone(), 0, entry.clone())).await,
    )?;

    // Round 1: every writer commits at version 1, each with an insert of its own
    // contact, so only the membership version decides who wins.
    let mut racing: Vec<Task<'_, Result<Result<(), RepositoryError>, ConformanceFailure>>> = Vec::new();
    let mut witnesses = Vec::with_capacity(writers);
    for i in 0..writers {
        let mut commit = Commit::append(
            shared.clone(),
            journey.id().clone(),
            1,
            c.moves(&journey, &shared, &entry, &[(&format!("w{i}"), 1)])?,
        );
        let witness = c.contact(&format!("witness-w{i}"))?;
        commit.contacts.push(ContactWrite::Insert(contact_record(&witness)));
        witnesses.push(witness);
        racing.push(Box::pin(async move { Ok(repo.commit(commit).await) }));
    }
    let mut wins = 0;
    for result in run_writers(c, concurrency, racing).await? {
        match result? {
            Ok(()) => wins += 1,
            Err(RepositoryError::Conflict { .. }) => {}
            Err(e) => return Err(c.fail(format!("a racing commit failed with `{}`: {e}", e.code()))),
        }
    }
    c.equal("commits that won the race at version 1", &wins, &1)?;
    let history = c.ok("load_history after the race", repo.load_history(&shared, journey.id()).await)?;
    c.equal("version after the race", &history.len(), &2)?;
    let mut stored_witnesses = Vec::new();
    for witness in &witnesses {
        match repo.load_contact(witness).await {
            Ok(_) => stored_witnesses.push(witness.to_string()),
            Err(RepositoryError::NotFound { .. }) => {}
            Err(e) => return Err(c.fail(format!("load_contact {witness}: {e}"))),
        }
    }
    let won: Vec<String> = history.last().map(|t| format!("witness-{}", t.to)).into_iter().collect();
    c.equal("contacts inserted by the race (only the winner's)", &stored_witnesses, &won)?;

    // Round 2: every writer retries on Conflict; each can lose at most once per
    // other writer.
    let mut retrying: Vec<Task<'_, Result<(), ConformanceFailure>>> = Vec::new();
    for i in 0..writers {
        let (journey, shared) = (&journey, &shared);
        retrying.push(Box::pin(async move {
            let stage = format!("v{i}");
            for _ in 0..writers {
                let history = c.ok("load_history", repo.load_history(shared, journey.id()).await)?;
                let next = c.moves(journey, shared, &history, &[(&stage, 2)])?;
                let commit = Commit::append(shared.clone(), journey.id().clone(), history.len() as u64, next);
                match repo.commit(commit).await {
                    Ok(()) => return Ok(()),
                    Err(RepositoryError::Conflict { .. }) => {}
                    Err(e) => return Err(c.fail(format!("writer {i} failed with `{}`: {e}", e.code()))),
                }
            }
            Err(c.fail(format!("writer {i} lost {writers} times against {} other writers", writers - 1)))
        }));
    }
    for result in run_writers(c, concurrency, retrying).await? {
        result?;
    }
    let history = c.ok("load_history after the retries", repo.load_history(&shared, journey.id()).await)?;
    let versions: Vec<u64> = history.iter().map(|t| t.version).collect();
    c.equal("versions after every writer landed", &versions, &(1..=writers as u64 + 2).collect())?;
    let mut landed: Vec<String> = history.iter().skip(2).map(|t| t.to.to_string()).collect();
    landed.sort();
    let mut all: Vec<String> = (0..writers).map(|i| format!("v{i}")).collect();
    all.sort();
    c.equal("stages the retrying writers landed in", &landed, &all)?;
    replay(&journey, &shared, &history)
        .map(|_| ())
        .map_err(|e| c.fail(format!("the final history does not replay: {e}")))
}

/// Runs writer tasks the way `concurrency` says; outputs in task order.
pub(super) async fn run_writers<T: Send>(
    c: Check,
    concurrency: Concurrency,
    tasks: Vec<Task<'_, T>>,
) -> Result<Vec<T>, ConformanceFailure> {
    match concurrency {
        Concurrency::Interleaved(_) => Ok(join_all(tasks).await),
        Concurrency::Threads(_) => std::thread::scope(|scope| {
            let handles: Vec<_> = tasks.into_iter().map(|task| scope.spawn(move || block_on(task))).collect();
            handles.into_iter().map(|h| h.join().map_err(|_| c.fail("a writer thread panicked"))).collect()
        }),
    }
}
