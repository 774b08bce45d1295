//! [`InMemoryRepository`]: a real backend kept in memory.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;

use foldhash::fast::RandomState;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use super::{
    Append, Commit, ContactWrite, InteractionRepository, LogPosition, Repository, StoredHistory, Versioned,
};
use crate::error::{Entity, RepositoryError};
use crate::id_index::{IdIndex, IdKey, MAX_NUMBER};
use crate::model::contact::Contact;
use crate::model::ids::{ContactId, IdempotencyKey, JourneyId, TouchpointId};
use crate::model::journey::Journey;
use crate::model::referral::{Referral, ReferralKey};
use crate::model::touchpoint::{Touchpoint, TouchpointPosition};
use crate::model::transition::Transition;
use crate::warm::each_warmed;

/// A repository in memory that enforces versions and atomicity exactly as a database
/// would: for tests, examples, and hosts that keep state in process.
///
/// `Clone` shares the state (clones see each other's writes, like two connections to
/// one database); [`fork`](Self::fork) deep-copies it.
///
/// ```
/// use journeys::{InMemoryRepository, Journey, Repository};
/// # tokio_test_block_on(async {
/// let repo = InMemoryRepository::new();
/// repo.insert_journey(&Journey::advocate_enrollment()).await?;
/// let fork = repo.fork();
/// assert_eq!(fork.list_journeys().await?.len(), 1);
/// # Ok::<(), journeys::RepositoryError>(())
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct InMemoryRepository {
    state: Arc<Mutex<State>>,
}

#[derive(Clone, Debug, Default)]
struct State {
    journeys: BTreeMap<JourneyId, Journey>,
    /// Each contact's number: its position in `entries` and `records`.
    /// The contacts' numbers by id.
    contacts: IdIndex,
    /// Contacts by number, in the order they were first written (never deleted): a
    /// commit that has a contact's number reaches it again without hashing its id.
    entries: Vec<ContactEntry>,
    /// Records by number; `None` for a contact only memberships were written of. Apart
    /// from the entries: a move reads only the memberships.
    records: Vec<Option<Versioned<Contact>>>,
    logs: HashMap<JourneyId, JourneyLog, RandomState>,
    idempotency: HashMap<IdempotencyKey, Vec<Transition>, RandomState>,
    interactions: Interactions,
}

/// Drops a commit's appends (their transitions moved out) a group at a time, each
/// group's contact ids read first ([`crate::warm`]): the ids of a large commit are long
/// out of cache, and each drop would otherwise wait for its own.
fn drop_appends(appends: Vec<Append>) {
    let Ok(()) = each_warmed(appends, |append| &append.contact, |_| Ok::<_, Infallible>(()));
}

/// The id of the contact `write` writes.
fn written_id(write: &ContactWrite) -> &ContactId {
    match write {
        ContactWrite::Insert(contact) | ContactWrite::Update { contact, .. } => &contact.id,
    }
}

/// Whether the contact numbered `number` is `id`: how [`IdIndex::find`] tells the
/// contacts whose ids share a hash apart (by address first, as ids compare).
fn is_contact<'a>(entries: &'a [ContactEntry], id: &'a ContactId) -> impl Fn(u32) -> bool + 'a {
    move |number| entries.get(number as usize).is_some_and(|entry| entry.id == *id)
}

/// A contact's id and memberships.
#[derive(Clone, Debug)]
struct ContactEntry {
    id: ContactId,
    memberships: Memberships,
}

/// A contact's histories by journey, in the order the contact entered them. A contact
/// is in a few journeys, so a scan that matches shared ids by address beats a tree of
/// strings. The first two are kept in the contact's entry: most contacts are in the
/// system journey and one other, so most need no allocation of their own and a move
/// reads its membership without following a pointer. The first slot is taken before
/// the second, and both before `more`.
#[derive(Clone, Debug, Default)]
struct Memberships {
    inline: [Option<Membership>; 2],
    more: Vec<Membership>,
}

/// One membership's history.
#[derive(Clone, Debug)]
struct Membership {
    journey: JourneyId,
    history: Vec<Transition>,
    /// Whether the last transition was appended by `append_decided`, its decision
    /// shown the whole history before it ([`StoredHistory::decided_here`]).
    decided_here: bool,
}

impl Memberships {
    fn iter(&self) -> impl Iterator<Item = &Membership> {
        self.inline.iter().map_while(Option::as_ref).chain(&self.more)
    }

    #[inline]
    fn position(&self, journey: &JourneyId) -> Option<usize> {
        for (index, slot) in self.inline.iter().enumerate() {
            match slot {
                Some(m) if m.journey == *journey => return Some(index),
                Some(_) => {}
                None => return None,
            }
        }
        let index = self.more.iter().position(|m| m.journey == *journey)?;
        Some(index + self.inline.len())
    }

    fn get(&self, journey: &JourneyId) -> Option<&Membership> {
        self.at(self.position(journey)?)
    }

    fn at(&self, index: usize) -> Option<&Membership> {
        match index.checked_sub(self.inline.len()) {
            Some(index) => self.more.get(index),
            None => self.inline.get(index)?.as_ref(),
        }
    }

    fn at_mut(&mut self, index: usize) -> Option<&mut Membership> {
        match index.checked_sub(self.inline.len()) {
            Some(index) => self.more.get_mut(index),
            None => self.inline.get_mut(index)?.as_mut(),
        }
    }

    /// Adds an empty membership of `journey`, which the contact is not in.
    fn insert(&mut self, journey: &JourneyId) -> Option<&mut Membership> {
        let membership = Membership { journey: journey.clone(), history: Vec::new(), decided_here: false };
        match self.inline.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => Some(slot.insert(membership)),
            None => {
                // Grown to fit: a contact in a third journey is seldom in a fourth.
                self.more.reserve_exact(1);
                self.more.push(membership);
                self.more.last_mut()
            }
        }
    }

    /// Removes the membership at `index`; those after it move up a place.
    fn remove(&mut self, index: usize) {
        if let Some(index) = index.checked_sub(self.inline.len()) {
            if index < self.more.len() {
                self.more.remove(index);
            }
            return;
        }
        let next = (!self.more.is_empty()).then(|| self.more.remove(0));
        let [first, second] = &mut self.inline;
        if index == 0 {
            *first = second.take();
        }
        *second = next;
    }

    /// The journeys, ordered by id.
    fn journeys(&self) -> Vec<JourneyId> {
        let mut journeys: Vec<JourneyId> = self.iter().map(|m| m.journey.clone()).collect();
        journeys.sort_unstable();
        journeys
    }
}

/// Histories shorter than this grow to fit each append.
const SHORT_HISTORY: usize = 8;

/// A journey's transitions in time order, as positions into the memberships; sorted
/// lazily because back-filled transitions may arrive out of order.
#[derive(Clone, Debug, Default)]
struct JourneyLog {
    entries: Vec<LogEntry>,
    unsorted: bool,
}

/// A transition's place in its journey's log: the contact by number keeps an entry at
/// 24 bytes instead of 32, and it is pushed without touching the id's reference count.
#[derive(Clone, Copy, Debug)]
struct LogEntry {
    occurred_at: DateTime<Utc>,
    contact: u32,
    version: u64,
}

impl LogEntry {
    /// The order of [`LogPosition`]: time, contact id, version.
    fn cmp(&self, other: &LogEntry, contacts: &[ContactEntry]) -> Ordering {
        self.occurred_at
            .cmp(&other.occurred_at)
            .then_with(|| {
                if self.contact == other.contact {
                    Ordering::Equal
                } else {
                    contact_id(contacts, self.contact).cmp(&contact_id(contacts, other.contact))
                }
            })
            .then(self.version.cmp(&other.version))
    }
}

/// The id of the contact numbered `number`.
fn contact_id(contacts: &[ContactEntry], number: u32) -> Option<&str> {
    contacts.get(number as usize).map(|entry| entry.id.as_str())
}

impl JourneyLog {
    #[inline]
    fn push(&mut self, entry: LogEntry, contacts: &[ContactEntry]) {
        if !self.unsorted && self.entries.last().is_some_and(|last| last.cmp(&entry, contacts).is_gt()) {
            self.unsorted = true;
        }
        self.entries.push(entry);
    }

    fn ordered(&mut self, contacts: &[ContactEntry]) -> &[LogEntry] {
        if self.unsorted {
            self.entries.sort_unstable_by(|a, b| a.cmp(b, contacts));
            self.unsorted = false;
        }
        &self.entries
    }
}

impl InMemoryRepository {
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }

    /// A deep copy: later writes to either are not seen by the other.
    pub fn fork(&self) -> Self {
        InMemoryRepository { state: Arc::new(Mutex::new(self.lock().clone())) }
    }

    #[inline]
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied commit: the
        // closures a caller runs under it (`read_history`, `append_decided`) run
        // before anything is written, and a commit's writes undo themselves when a
        // part is refused, with nothing on that path that panics. So the data is
        // sound even if the mutex is poisoned.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn membership_id(contact: &ContactId, journey: &JourneyId) -> String {
    format!("{contact}/{journey}")
}

impl State {
    fn number(&self, id: &ContactId) -> Option<usize> {
        self.contacts.find(self.contacts.key(id.as_str()), is_contact(&self.entries, id)).map(|n| n as usize)
    }

    fn record(&self, id: &ContactId) -> Option<&Versioned<Contact>> {
        self.records.get(self.number(id)?)?.as_ref()
    }

    fn history(&self, contact: &ContactId, journey: &JourneyId) -> &[Transition] {
        self.number(contact)
            .and_then(|number| self.entries.get(number))
            .and_then(|entry| entry.memberships.get(journey))
            .map_or(&[], |m| &m.history)
    }

    /// The number the next contact added gets.
    fn next_number(&self) -> Result<u32, RepositoryError> {
        u32::try_from(self.entries.len()).ok().filter(|&number| number <= MAX_NUMBER).ok_or_else(|| {
            RepositoryError::backend("the in-memory repository holds at most 2^32 - 1 contacts")
        })
    }

    /// Applies `commit` in one pass: each part is checked against the state the parts
    /// before it left, then written. When a part fails, the parts written before it
    /// are undone, so a refused commit leaves nothing. Checking as it writes, a commit
    /// of many parts (a bulk import's chunk) finds each membership once and keeps no
    /// map of the versions its earlier parts set.
    fn commit(&mut self, commit: Commit) -> Result<(), RepositoryError> {
        let Commit { mut appends, contacts, idempotency_key } = commit;
        if let Some(key) = &idempotency_key {
            if self.idempotency.contains_key(key) {
                return Err(RepositoryError::AlreadyExists {
                    entity: Entity::IdempotencyKey,
                    id: key.to_string(),
                });
            }
        }
        let keyed = idempotency_key
            .map(|key| (key, appends.iter().flat_map(|a| a.transitions.iter()).cloned().collect::<Vec<_>>()));
        let mut undo = Undo { contacts: self.entries.len(), replaced: Vec::new(), logs: Vec::new() };
        let mut written = Vec::with_capacity(contacts.len());
        let writing = each_warmed(contacts, written_id, |write| {
            written.push(self.write_contact(write, &mut undo)?);
            Ok(())
        });
        if let Err(e) = writing {
            self.undo(&appends[..0], undo);
            return Err(e);
        }
        let numbers = self.numbers(&appends, &written);
        for (index, number) in numbers.into_iter().enumerate() {
            if let Err(e) = self.append(&mut appends[index], number, &mut undo) {
                self.undo(&appends[..index], undo);
                return Err(e);
            }
        }
        if let Some((key, transitions)) = keyed {
            self.idempotency.insert(key, transitions);
        }
        drop_appends(appends);
        Ok(())
    }

    /// The number of each append's contact, for the contacts stored before the appends
    /// are written. Those the commit's writes listed are found in order ([`Expected`]),
    /// ids of the index's numbered shape by their number; the others are looked up in
    /// the order of their slots in the map, so that a large commit reads the map's
    /// control bytes and slots in address order instead of missing the cache and the
    /// TLB at each, and fetches the ids to hash one after another, not each behind the
    /// lookup before it.
    fn numbers(&self, appends: &[Append], written: &[u32]) -> Vec<Option<u32>> {
        let mut expected = Expected { written, next: 0 };
        let mut hashed: Vec<(u64, usize)> = Vec::new();
        let mut numbers: Vec<Option<u32>> = appends
            .iter()
            .enumerate()
            .map(|(index, append)| {
                expected.number(&append.contact, &self.entries).or_else(|| {
                    match self.contacts.key(append.contact.as_str()) {
                        IdKey::Hashed(hash) => {
                            hashed.push((hash, index));
                            None
                        }
                        key => self.contacts.find(key, is_contact(&self.entries, &append.contact)),
                    }
                })
            })
            .collect();
        let mask = self.contacts.bucket_mask();
        hashed.sort_unstable_by_key(|&(hash, index)| (hash & mask, index));
        for (hash, index) in hashed {
            if let (Some(number), Some(append)) = (numbers.get_mut(index), appends.get(index)) {
                *number = self.contacts.find(IdKey::Hashed(hash), is_contact(&self.entries, &append.contact));
            }
        }
        numbers
    }

    /// Writes one contact record, if the stored one is at the expected version, and
    /// returns the contact's number.
    fn write_contact(&mut self, write: ContactWrite, undo: &mut Undo) -> Result<u32, RepositoryError> {
        let (contact, expected) = match write {
            ContactWrite::Insert(contact) => (contact, None),
            ContactWrite::Update { contact, expected_version } => (contact, Some(expected_version)),
        };
        let key = self.contacts.key(contact.id.as_str());
        let Some(number) = self.contacts.find(key, is_contact(&self.entries, &contact.id)) else {
            if expected.is_some() {
                return Err(RepositoryError::NotFound {
                    entity: Entity::Contact,
                    id: contact.id.to_string(),
                });
            }
            let next = self.next_number()?;
            self.contacts.insert(contact.id.as_str(), next);
            self.entries.push(ContactEntry { id: contact.id.clone(), memberships: Memberships::default() });
            self.records.push(Some(Versioned { value: contact, version: 1 }));
            return Ok(next);
        };
        let Some(record) = self.records.get_mut(number as usize) else {
            return Err(RepositoryError::backend("a contact's record is missing"));
        };
        let version = match (&*record, expected) {
            (Some(_), None) => {
                return Err(RepositoryError::AlreadyExists {
                    entity: Entity::Contact,
                    id: contact.id.to_string(),
                });
            }
            (None, Some(_)) => {
                return Err(RepositoryError::NotFound {
                    entity: Entity::Contact,
                    id: contact.id.to_string(),
                });
            }
            (Some(stored), Some(expected)) if stored.version != expected => {
                return Err(RepositoryError::Conflict {
                    entity: Entity::Contact,
                    id: contact.id.to_string(),
                    expected,
                    actual: stored.version,
                });
            }
            (_, expected) => expected.map_or(1, |expected| expected + 1),
        };
        let old = record.replace(Versioned { value: contact, version });
        undo.replaced.push((number as usize, old));
        Ok(number)
    }

    /// Appends one membership's transitions (moved out of `append`), if the membership
    /// is at the expected version. `number` is the contact's, when the caller knows it.
    fn append(
        &mut self,
        append: &mut Append,
        number: Option<u32>,
        undo: &mut Undo,
    ) -> Result<(), RepositoryError> {
        let conflict = |actual: u64| RepositoryError::Conflict {
            entity: Entity::Membership,
            id: membership_id(&append.contact, &append.journey),
            expected: append.expected_version,
            actual,
        };
        let key = || self.contacts.key(append.contact.as_str());
        let number = match number
            .or_else(|| self.contacts.find(key(), is_contact(&self.entries, &append.contact)))
        {
            Some(number) => number,
            None if append.expected_version != 0 => return Err(conflict(0)),
            None if append.transitions.is_empty() => return Ok(()),
            None => {
                // Found by reference above: the id is cloned only for a contact the index
                // does not hold yet.
                let next = self.next_number()?;
                self.contacts.insert(append.contact.as_str(), next);
                self.entries
                    .push(ContactEntry { id: append.contact.clone(), memberships: Memberships::default() });
                self.records.push(None);
                next
            }
        };
        let State { entries, logs, .. } = self;
        let Some(entry) = entries.get(number as usize) else {
            return Err(RepositoryError::backend("a contact's memberships are missing"));
        };
        let found = entry.memberships.position(&append.journey);
        let actual =
            found.and_then(|index| entry.memberships.at(index)).map_or(0, |m| m.history.len() as u64);
        if actual != append.expected_version {
            return Err(conflict(actual));
        }
        if append.transitions.is_empty() {
            return Ok(());
        }
        let log = match logs.get_mut(&append.journey) {
            Some(log) => log,
            None => logs.entry(append.journey.clone()).or_default(),
        };
        if !undo.logs.iter().any(|(journey, ..)| *journey == append.journey) {
            undo.logs.push((append.journey.clone(), log.entries.len(), log.unsorted));
        }
        for t in &append.transitions {
            log.push(LogEntry { occurred_at: t.occurred_at, contact: number, version: t.version }, entries);
        }
        let Some(entry) = entries.get_mut(number as usize) else {
            return Err(RepositoryError::backend("a contact's memberships are missing"));
        };
        let membership = match found {
            Some(index) => entry.memberships.at_mut(index),
            None => entry.memberships.insert(&append.journey),
        };
        let Some(membership) = membership else {
            return Err(RepositoryError::backend("a membership is missing"));
        };
        membership.decided_here = false;
        let history = &mut membership.history;
        if history.is_empty() {
            // A new membership keeps the commit's vector instead of copying it.
            *history = std::mem::take(&mut append.transitions);
            history.shrink_to_fit();
        } else {
            make_room(history, append.transitions.len());
            history.append(&mut append.transitions);
        }
        Ok(())
    }

    /// Undoes `applied` (the appends of a refused commit written before the one that
    /// failed) and the contact writes `undo` recorded. A membership keeps the
    /// transitions before the append's expected version and is removed if left empty;
    /// the contacts the commit added are removed.
    fn undo(&mut self, applied: &[Append], undo: Undo) {
        for append in applied.iter().rev() {
            let Some(number) = self.number(&append.contact).filter(|&number| number < undo.contacts) else {
                continue;
            };
            let Some(entry) = self.entries.get_mut(number) else { continue };
            let Some(index) = entry.memberships.position(&append.journey) else { continue };
            let Some(membership) = entry.memberships.at_mut(index) else { continue };
            membership.history.truncate(usize::try_from(append.expected_version).unwrap_or(usize::MAX));
            if membership.history.is_empty() {
                entry.memberships.remove(index);
            }
        }
        for (journey, len, unsorted) in undo.logs {
            if let Some(log) = self.logs.get_mut(&journey) {
                log.entries.truncate(len);
                log.unsorted = unsorted;
            }
        }
        for (number, old) in undo.replaced.into_iter().rev() {
            if let Some(record) = self.records.get_mut(number) {
                *record = old;
            }
        }
        for (number, entry) in self.entries.drain(undo.contacts..).enumerate() {
            // Numbers past the commit's first fit in a `u32`: they were given out.
            self.contacts.remove(entry.id.as_str(), (undo.contacts + number) as u32);
        }
        self.records.truncate(undo.contacts);
    }
}

/// Where a commit's appends find the contacts its writes numbered. A bulk import lists
/// the contacts it creates, then appends to each in the same order (its first
/// membership, and again its entry in the system journey): an append whose contact
/// is the next one expected takes its number instead of a lookup in the map of every
/// contact. Any other append looks its contact up.
struct Expected<'a> {
    written: &'a [u32],
    next: usize,
}

impl Expected<'_> {
    #[inline]
    fn number(&mut self, contact: &ContactId, entries: &[ContactEntry]) -> Option<u32> {
        let &number = self.written.get(self.next)?;
        // The same id shares its text: comparing addresses reads no text, and a
        // copy of the id made elsewhere just falls back to the lookup.
        if !entries.get(number as usize)?.id.shares_text_with(contact) {
            return None;
        }
        self.next = (self.next + 1) % self.written.len();
        Some(number)
    }
}

/// What undoes a commit's writes: the number of contacts before it, the records it
/// replaced (by number), and the length and order flag of each journey log it
/// appended to.
struct Undo {
    contacts: usize,
    replaced: Vec<(usize, Option<Versioned<Contact>>)>,
    logs: Vec<(JourneyId, usize, bool)>,
}

/// Reserves room in `history` for `more` transitions. Most histories stay short: grown
/// to fit until they are not, so that a membership of two or three moves keeps no room
/// for four. A short one moves to a new vector rather than being reallocated.
fn make_room(history: &mut Vec<Transition>, more: usize) {
    if history.len() < SHORT_HISTORY {
        let mut grown = Vec::with_capacity(history.len() + more);
        grown.append(history);
        *history = grown;
    }
}

impl Repository for InMemoryRepository {
    async fn insert_journey(&self, journey: &Journey) -> Result<(), RepositoryError> {
        let mut state = self.lock();
        match state.journeys.get(journey.id()) {
            Some(stored) if stored == journey => Ok(()),
            Some(_) => {
                Err(RepositoryError::AlreadyExists { entity: Entity::Journey, id: journey.id().to_string() })
            }
            None => {
                state.journeys.insert(journey.id().clone(), journey.clone());
                Ok(())
            }
        }
    }

    async fn load_journey(&self, id: &JourneyId) -> Result<Journey, RepositoryError> {
        self.lock()
            .journeys
            .get(id)
            .cloned()
            .ok_or_else(|| RepositoryError::NotFound { entity: Entity::Journey, id: id.to_string() })
    }

    async fn list_journeys(&self) -> Result<Vec<JourneyId>, RepositoryError> {
        Ok(self.lock().journeys.keys().cloned().collect())
    }

    async fn load_contact(&self, id: &ContactId) -> Result<Versioned<Contact>, RepositoryError> {
        self.lock()
            .record(id)
            .cloned()
            .ok_or_else(|| RepositoryError::NotFound { entity: Entity::Contact, id: id.to_string() })
    }

    async fn contact_exists(&self, id: &ContactId) -> Result<bool, RepositoryError> {
        Ok(self.lock().record(id).is_some())
    }

    async fn load_history(
        &self,
        contact: &ContactId,
        journey: &JourneyId,
    ) -> Result<Vec<Transition>, RepositoryError> {
        Ok(self.lock().history(contact, journey).to_vec())
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
        Ok(read(self.lock().history(contact, journey)))
    }

    async fn commit(&self, commit: Commit) -> Result<(), RepositoryError> {
        self.lock().commit(commit)
    }

    /// Reads, decides and appends under one lock, so no other writer comes between:
    /// never `Conflict`. Vouches for a history whose last transition it appended this
    /// way ([`StoredHistory::decided_here`]); a `commit` to the membership withdraws
    /// that.
    async fn append_decided<T, E, F>(
        &self,
        contact: &ContactId,
        journey: &JourneyId,
        idempotency_key: Option<&IdempotencyKey>,
        decide: F,
    ) -> Result<Result<T, E>, RepositoryError>
    where
        T: Send,
        E: Send,
        F: FnOnce(StoredHistory<'_>) -> Result<(Transition, T), E> + Send,
    {
        let mut guard = self.lock();
        let State { contacts, entries, records, logs, idempotency, .. } = &mut *guard;
        let not_found = || RepositoryError::NotFound { entity: Entity::Contact, id: contact.to_string() };
        let number = contacts
            .find(contacts.key(contact.as_str()), is_contact(entries, contact))
            .ok_or_else(not_found)?;
        let (Some(entry), Some(record)) = (entries.get(number as usize), records.get(number as usize)) else {
            return Err(RepositoryError::backend("a contact's entry is missing"));
        };
        let found = entry.memberships.position(journey);
        let stored = found.and_then(|index| entry.memberships.at(index)).map_or(
            StoredHistory::unvouched(&[]),
            |membership| StoredHistory {
                transitions: &membership.history,
                decided_here: membership.decided_here,
            },
        );
        if stored.transitions.is_empty() && record.is_none() {
            return Err(not_found());
        }
        let (transition, value) = match decide(stored) {
            Ok(decided) => decided,
            Err(refused) => return Ok(Err(refused)),
        };
        if let Some(key) = idempotency_key {
            if idempotency.contains_key(key) {
                return Err(RepositoryError::AlreadyExists {
                    entity: Entity::IdempotencyKey,
                    id: key.to_string(),
                });
            }
            idempotency.insert(key.clone(), vec![transition.clone()]);
        }
        let log = match logs.get_mut(journey) {
            Some(log) => log,
            None => logs.entry(journey.clone()).or_default(),
        };
        let position =
            LogEntry { occurred_at: transition.occurred_at, contact: number, version: transition.version };
        log.push(position, entries);
        let Some(entry) = entries.get_mut(number as usize) else {
            return Err(RepositoryError::backend("a contact's entry is missing"));
        };
        let membership = match found {
            Some(index) => entry.memberships.at_mut(index),
            None => entry.memberships.insert(journey),
        };
        let Some(membership) = membership else {
            return Err(RepositoryError::backend("a membership is missing"));
        };
        membership.decided_here = true;
        // Grows as any vector does (room for four from the entry): growing it to fit
        // would copy it on every move.
        membership.history.push(transition);
        Ok(Ok(value))
    }

    async fn contact_journeys(&self, contact: &ContactId) -> Result<Vec<JourneyId>, RepositoryError> {
        let state = self.lock();
        Ok(state
            .number(contact)
            .and_then(|number| state.entries.get(number))
            .map(|entry| entry.memberships.journeys())
            .unwrap_or_default())
    }

    async fn journey_transitions(
        &self,
        journey: &JourneyId,
        after: Option<&LogPosition>,
        limit: usize,
    ) -> Result<Vec<Transition>, RepositoryError> {
        let mut guard = self.lock();
        let State { entries: contacts, logs, .. } = &mut *guard;
        let Some(log) = logs.get_mut(journey) else {
            return Ok(Vec::new());
        };
        let entries = log.ordered(contacts);
        let start = after.map_or(0, |pos| {
            entries.partition_point(|entry| {
                (entry.occurred_at, contact_id(contacts, entry.contact), entry.version)
                    <= (pos.occurred_at, Some(pos.contact.as_str()), pos.version)
            })
        });
        Ok(entries[start..]
            .iter()
            .take(limit)
            .filter_map(|entry| {
                let history = &contacts.get(entry.contact as usize)?.memberships.get(journey)?.history;
                history.get(usize::try_from(entry.version).ok()?.checked_sub(1)?).cloned()
            })
            .collect())
    }

    async fn find_idempotency_key(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<Vec<Transition>>, RepositoryError> {
        Ok(self.lock().idempotency.get(key).cloned())
    }
}

/// Touchpoints and referrals with the orders the [`InteractionRepository`] contract
/// streams them in.
#[derive(Clone, Debug, Default)]
struct Interactions {
    touchpoints: BTreeMap<TouchpointPosition, Touchpoint>,
    touchpoint_times: HashMap<TouchpointId, DateTime<Utc>>,
    by_contact: HashMap<ContactId, BTreeSet<TouchpointPosition>>,
    referrals: BTreeMap<ReferralKey, Referral>,
    by_advocate: HashMap<ContactId, BTreeSet<(DateTime<Utc>, ReferralKey)>>,
}

impl Interactions {
    fn stored_touchpoint(&self, id: &TouchpointId) -> Option<&Touchpoint> {
        let occurred_at = *self.touchpoint_times.get(id)?;
        self.touchpoints.get(&TouchpointPosition { occurred_at, id: id.clone() })
    }
}

impl InteractionRepository for InMemoryRepository {
    async fn append_touchpoints(&self, touchpoints: &[Touchpoint]) -> Result<(), RepositoryError> {
        let mut state = self.lock();
        let stored = &mut state.interactions;
        let mut batch: HashMap<&TouchpointId, &Touchpoint> = HashMap::with_capacity(touchpoints.len());
        for tp in touchpoints {
            let earlier = stored.stored_touchpoint(&tp.id).or_else(|| batch.get(&tp.id).copied());
            match earlier {
                Some(earlier) if earlier == tp => {}
                Some(_) => {
                    return Err(RepositoryError::AlreadyExists {
                        entity: Entity::Touchpoint,
                        id: tp.id.to_string(),
                    });
                }
                None => {
                    batch.insert(&tp.id, tp);
                }
            }
        }
        for tp in touchpoints {
            if batch.remove(&tp.id).is_some() {
                let position = tp.position();
                stored.touchpoint_times.insert(tp.id.clone(), tp.occurred_at);
                stored.by_contact.entry(tp.contact.clone()).or_default().insert(position.clone());
                stored.touchpoints.insert(position, tp.clone());
            }
        }
        Ok(())
    }

    async fn touchpoints(
        &self,
        after: Option<&TouchpointPosition>,
        limit: usize,
    ) -> Result<Vec<Touchpoint>, RepositoryError> {
        use std::ops::Bound;
        let state = self.lock();
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(state
            .interactions
            .touchpoints
            .range((start, Bound::Unbounded))
            .take(limit)
            .map(|(_, tp)| tp.clone())
            .collect())
    }

    async fn contact_touchpoints(&self, contact: &ContactId) -> Result<Vec<Touchpoint>, RepositoryError> {
        let state = self.lock();
        let stored = &state.interactions;
        Ok(stored
            .by_contact
            .get(contact)
            .map(|positions| positions.iter().filter_map(|p| stored.touchpoints.get(p).cloned()).collect())
            .unwrap_or_default())
    }

    async fn insert_referral(&self, referral: &Referral) -> Result<(), RepositoryError> {
        let mut state = self.lock();
        let stored = &mut state.interactions;
        let key = referral.key();
        match stored.referrals.get(&key) {
            Some(existing) if existing == referral => Ok(()),
            Some(_) => Err(RepositoryError::AlreadyExists { entity: Entity::Referral, id: key.to_string() }),
            None => {
                stored
                    .by_advocate
                    .entry(referral.advocate().clone())
                    .or_default()
                    .insert((referral.created_at(), key.clone()));
                stored.referrals.insert(key, referral.clone());
                Ok(())
            }
        }
    }

    async fn update_referral(
        &self,
        referral: &Referral,
        expected_version: u64,
    ) -> Result<(), RepositoryError> {
        let mut state = self.lock();
        let key = referral.key();
        let Some(existing) = state.interactions.referrals.get_mut(&key) else {
            return Err(RepositoryError::NotFound { entity: Entity::Referral, id: key.to_string() });
        };
        if existing.version() != expected_version {
            return Err(RepositoryError::Conflict {
                entity: Entity::Referral,
                id: key.to_string(),
                expected: expected_version,
                actual: existing.version(),
            });
        }
        if !referral.extends(existing) {
            return Err(RepositoryError::AlreadyExists { entity: Entity::Referral, id: key.to_string() });
        }
        *existing = referral.clone();
        Ok(())
    }

    async fn load_referral(&self, key: &ReferralKey) -> Result<Referral, RepositoryError> {
        self.lock()
            .interactions
            .referrals
            .get(key)
            .cloned()
            .ok_or_else(|| RepositoryError::NotFound { entity: Entity::Referral, id: key.to_string() })
    }

    async fn advocate_referrals(&self, advocate: &ContactId) -> Result<Vec<Referral>, RepositoryError> {
        let state = self.lock();
        let stored = &state.interactions;
        Ok(stored
            .by_advocate
            .get(advocate)
            .map(|keys| keys.iter().filter_map(|(_, key)| stored.referrals.get(key).cloned()).collect())
            .unwrap_or_default())
    }

    async fn referrals(
        &self,
        after: Option<&ReferralKey>,
        limit: usize,
    ) -> Result<Vec<Referral>, RepositoryError> {
        use std::ops::Bound;
        let state = self.lock();
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(state
            .interactions
            .referrals
            .range((start, Bound::Unbounded))
            .take(limit)
            .map(|(_, r)| r.clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journeys(ids: &[&str]) -> Vec<JourneyId> {
        ids.iter().map(|id| JourneyId::new(id).unwrap()).collect()
    }

    fn filled(ids: &[JourneyId]) -> Memberships {
        let mut memberships = Memberships::default();
        for id in ids {
            assert_eq!(memberships.position(id), None);
            assert!(memberships.insert(id).is_some());
        }
        memberships
    }

    #[test]
    fn memberships_are_found_in_and_beyond_the_entry_and_listed_by_id() {
        let ids = journeys(&["d", "b", "a", "c"]);
        let memberships = filled(&ids);
        for (index, id) in ids.iter().enumerate() {
            assert_eq!(memberships.position(id), Some(index));
            assert_eq!(memberships.get(id).map(|m| &m.journey), Some(id));
        }
        assert_eq!(memberships.position(&JourneyId::new("e").unwrap()), None);
        assert_eq!(memberships.journeys(), journeys(&["a", "b", "c", "d"]));
    }

    #[test]
    fn removing_a_membership_moves_the_later_ones_up() {
        let ids = journeys(&["a", "b", "c", "d"]);
        for removed in 0..ids.len() {
            let mut memberships = filled(&ids);
            memberships.remove(removed);
            let left: Vec<&JourneyId> = memberships.iter().map(|m| &m.journey).collect();
            let expected: Vec<&JourneyId> =
                ids.iter().enumerate().filter(|&(index, _)| index != removed).map(|(_, id)| id).collect();
            assert_eq!(left, expected, "removed {removed}");
            for (index, id) in expected.iter().enumerate() {
                assert_eq!(memberships.position(id), Some(index));
            }
        }
        let mut memberships = filled(&ids[..1]);
        memberships.remove(0);
        assert!(memberships.iter().next().is_none());
        assert!(memberships.inline.iter().all(Option::is_none));
    }
}
