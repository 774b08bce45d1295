//! The storage seam: a small async trait, its contract, and the in-memory backend.
//!
//! The crate owns the rules; the host owns storage. A backend implements
//! [`Repository`] and proves it honours the contract by running the public
//! conformance suite (`journeys::conformance`, feature `conformance`).

mod interactions;
mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use interactions::InteractionRepository;
pub use memory::InMemoryRepository;
#[cfg(feature = "sqlite")]
pub use sqlite::{DEFAULT_BUSY_TIMEOUT, SqliteRepository};

use crate::error::{Entity, RepositoryError};
use crate::model::contact::Contact;
use crate::model::ids::{ContactId, IdempotencyKey, JourneyId};
use crate::model::journey::Journey;
use crate::model::transition::Transition;

/// A value with the version a repository stores it at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// Its version: 1 when inserted, +1 per update.
    pub version: u64,
}

/// New transitions for one membership, written only if the membership is still at
/// `expected_version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Append {
    /// The contact.
    pub contact: ContactId,
    /// The journey.
    pub journey: JourneyId,
    /// The version the writer read (0: not a member yet).
    pub expected_version: u64,
    /// The transitions, numbered `expected_version + 1`, `+ 2`, ….
    pub transitions: Vec<Transition>,
}

/// A write of a contact record.
#[derive(Clone, Debug, PartialEq)]
pub enum ContactWrite {
    /// A new contact; `AlreadyExists` if its id is taken.
    Insert(Contact),
    /// A new value for a stored contact, written only at `expected_version`.
    Update {
        /// The new value.
        contact: Contact,
        /// The version the writer read.
        expected_version: u64,
    },
}

/// One atomic write: every part is applied, or none is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Commit {
    /// Membership appends, each checked against its expected version.
    pub appends: Vec<Append>,
    /// Contact inserts and updates.
    pub contacts: Vec<ContactWrite>,
    /// The key of the command this commit answers; stored with the commit's
    /// transitions so a retry finds them.
    pub idempotency_key: Option<IdempotencyKey>,
}

impl Commit {
    /// A commit of one membership append.
    pub fn append(
        contact: ContactId,
        journey: JourneyId,
        expected_version: u64,
        transitions: Vec<Transition>,
    ) -> Self {
        Commit {
            appends: vec![Append { contact, journey, expected_version, transitions }],
            ..Commit::default()
        }
    }

    /// Every transition of the commit, in order.
    pub fn transitions(&self) -> impl Iterator<Item = &Transition> {
        self.appends.iter().flat_map(|a| a.transitions.iter())
    }
}

/// A membership's stored history as [`Repository::append_decided`] shows it to the
/// decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredHistory<'a> {
    /// The transitions in version order.
    pub transitions: &'a [Transition],
    /// The backend vouches that the last transition was appended by
    /// [`append_decided`](Repository::append_decided), whose decision was shown every
    /// transition before it, and that nothing was appended since. A decision that
    /// checks every history it is shown (the engine's does, through sequencing) need
    /// then check only that the last step continues where it stands. `false` when the
    /// backend cannot vouch (the default implementation never does).
    pub decided_here: bool,
}

impl<'a> StoredHistory<'a> {
    /// `transitions` with no voucher.
    pub fn unvouched(transitions: &'a [Transition]) -> Self {
        StoredHistory { transitions, decided_here: false }
    }
}

/// A position in a journey's time-ordered transition log: transitions are ordered by
/// `(occurred_at, contact, version)`, which is unique within a journey.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LogPosition {
    /// When the transition happened.
    pub occurred_at: DateTime<Utc>,
    /// Whose it is.
    pub contact: ContactId,
    /// Its version in its membership.
    pub version: u64,
}

impl LogPosition {
    /// The position of `transition`.
    pub fn of(transition: &Transition) -> Self {
        LogPosition {
            occurred_at: transition.occurred_at,
            contact: transition.contact.clone(),
            version: transition.version,
        }
    }
}

/// Where journeys, contacts and histories are stored.
///
/// # Contract
///
/// Every backend gives these guarantees; `journeys::conformance` checks each of them.
///
/// - **Journeys** are immutable once stored. [`insert_journey`](Self::insert_journey)
///   of an id that exists succeeds if the definition is identical and fails with
///   `AlreadyExists` otherwise. [`load_journey`](Self::load_journey) of an unknown id
///   fails with `NotFound`.
/// - **Contacts** carry a version: 1 on insert, +1 per update. Loading an unknown
///   contact fails with `NotFound`; [`contact_exists`](Self::contact_exists) answers
///   `true` exactly when loading it succeeds.
/// - **Histories** are append-only. A membership's version is the number of its
///   transitions (0 before the first). [`load_history`](Self::load_history) returns
///   them in version order, and an empty list for a contact that is not a member;
///   [`read_history`](Self::read_history) shows `read` exactly that list.
/// - [`commit`](Self::commit) is **atomic**: either every append and contact write is
///   stored, or nothing is. It fails, writing nothing, with
///   - `AlreadyExists` when the commit's idempotency key was stored by an earlier
///     commit, or a contact insert names a stored contact;
///   - `NotFound` when a contact update names an unknown contact;
///   - `Conflict { expected, actual }` when a contact or membership is not at the
///     expected version.
///
///   Checks run in that order — idempotency key, contact writes, then appends — and
///   the first failure is reported (so adding a contact that exists is
///   `AlreadyExists`, not a conflict on its first membership).
///
///   Concurrent commits behave as if applied one after another.
/// - [`append_decided`](Self::append_decided) behaves as
///   [`read_history`](Self::read_history) followed, when `decide` returns a
///   transition, by a [`commit`](Self::commit) of that one transition at the version
///   read, with the given idempotency key (so the same errors, and `Conflict` if
///   another writer appended in between). A membership with no history of a contact
///   that is not stored fails with `NotFound`, whatever `decide` returned. A backend
///   may run it as one atomic step. It shows `decide` a history as
///   [`decided_here`](StoredHistory::decided_here) only when the last transition was
///   appended by `append_decided` and nothing since — never after a `commit` appended
///   to the membership.
/// - [`journey_transitions`](Self::journey_transitions) returns a journey's
///   transitions in [`LogPosition`] order, at most `limit` after the given position,
///   including those back-filled with an early `occurred_at`.
/// - [`find_idempotency_key`](Self::find_idempotency_key) returns the transitions of
///   the commit stored with that key (possibly none), or `None` if no commit was.
/// - [`contact_journeys`](Self::contact_journeys) lists the journeys a contact has at
///   least one transition in, ordered by id.
/// - Failures to reach the store are `Unavailable` (worth retrying later) or
///   `Backend` (carrying the driver's error); a backend never panics on stored data.
///
/// The methods return `Send` futures so an engine over any backend can run on a
/// multi-threaded executor.
pub trait Repository: Send + Sync {
    /// Stores a journey definition.
    fn insert_journey(&self, journey: &Journey) -> impl Future<Output = Result<(), RepositoryError>> + Send;

    /// Loads a journey definition.
    fn load_journey(&self, id: &JourneyId) -> impl Future<Output = Result<Journey, RepositoryError>> + Send;

    /// The ids of every stored journey, ordered.
    fn list_journeys(&self) -> impl Future<Output = Result<Vec<JourneyId>, RepositoryError>> + Send;

    /// Loads a contact with its version.
    fn load_contact(
        &self,
        id: &ContactId,
    ) -> impl Future<Output = Result<Versioned<Contact>, RepositoryError>> + Send;

    /// Whether a contact record is stored: what a caller that needs no more than that
    /// asks instead of [`load_contact`](Self::load_contact), sparing a backend the copy
    /// of the record and the `NotFound` error. The default loads the contact.
    fn contact_exists(&self, id: &ContactId) -> impl Future<Output = Result<bool, RepositoryError>> + Send {
        let loaded = self.load_contact(id);
        async move {
            match loaded.await {
                Ok(_) => Ok(true),
                Err(RepositoryError::NotFound { entity: Entity::Contact, .. }) => Ok(false),
                Err(e) => Err(e),
            }
        }
    }

    /// Loads a membership's transitions in version order (empty: not a member).
    fn load_history(
        &self,
        contact: &ContactId,
        journey: &JourneyId,
    ) -> impl Future<Output = Result<Vec<Transition>, RepositoryError>> + Send;

    /// Runs `read` over a membership's transitions in version order (as
    /// [`load_history`](Self::load_history)) and returns what it returns: how the
    /// engine decides a move without copying the history out of a backend that holds
    /// it in memory. The default loads a copy; `read` must not block.
    fn read_history<T, F>(
        &self,
        contact: &ContactId,
        journey: &JourneyId,
        read: F,
    ) -> impl Future<Output = Result<T, RepositoryError>> + Send
    where
        F: FnOnce(&[Transition]) -> T + Send,
    {
        let history = self.load_history(contact, journey);
        async move { Ok(read(&history.await?)) }
    }

    /// Applies a commit atomically, checking every expected version.
    fn commit(&self, commit: Commit) -> impl Future<Output = Result<(), RepositoryError>> + Send;

    /// Runs `decide` over a membership's history and, if it returns a transition (the
    /// membership's next one, decided against the whole history shown) and a value,
    /// appends the transition with `idempotency_key` and returns the value; returns a
    /// refusal as `decide` returned it. The transition is stored, not copied back: a
    /// caller that needs it again returns what it needs as the value. How the engine moves a
    /// contact: a backend that holds the histories in memory does it under one lock,
    /// and may vouch for histories built this way ([`StoredHistory`]). The default
    /// reads the history with [`read_history`](Self::read_history), vouching for
    /// nothing, and commits with [`commit`](Self::commit) at the version read;
    /// `decide` must not block.
    ///
    /// # Errors
    /// `NotFound` for a contact that is not stored and has no history here; else as
    /// [`commit`](Self::commit) (`Conflict` when another writer appended first).
    fn append_decided<T, E, F>(
        &self,
        contact: &ContactId,
        journey: &JourneyId,
        idempotency_key: Option<&IdempotencyKey>,
        decide: F,
    ) -> impl Future<Output = Result<Result<T, E>, RepositoryError>> + Send
    where
        T: Send,
        E: Send,
        F: FnOnce(StoredHistory<'_>) -> Result<(Transition, T), E> + Send,
    {
        async move {
            let read =
                |history: &[Transition]| (history.len() as u64, decide(StoredHistory::unvouched(history)));
            let (version, decided) = self.read_history(contact, journey, read).await?;
            if version == 0 && !self.contact_exists(contact).await? {
                return Err(RepositoryError::NotFound { entity: Entity::Contact, id: contact.to_string() });
            }
            let (transition, value) = match decided {
                Ok(decided) => decided,
                Err(refused) => return Ok(Err(refused)),
            };
            let mut commit = Commit::append(contact.clone(), journey.clone(), version, vec![transition]);
            commit.idempotency_key = idempotency_key.cloned();
            self.commit(commit).await?;
            Ok(Ok(value))
        }
    }

    /// The journeys a contact is a member of, ordered by id.
    fn contact_journeys(
        &self,
        contact: &ContactId,
    ) -> impl Future<Output = Result<Vec<JourneyId>, RepositoryError>> + Send;

    /// Up to `limit` of a journey's transitions after `after` (from the start when
    /// `None`), in time order.
    fn journey_transitions(
        &self,
        journey: &JourneyId,
        after: Option<&LogPosition>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Transition>, RepositoryError>> + Send;

    /// The transitions stored by the commit that carried `key`, if any did.
    fn find_idempotency_key(
        &self,
        key: &IdempotencyKey,
    ) -> impl Future<Output = Result<Option<Vec<Transition>>, RepositoryError>> + Send;
}
