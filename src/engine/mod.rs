//! [`JourneyEngine`]: load → decide → append with the expected version, retrying a
//! bounded number of times when another writer got there first.

mod automation;
mod import;
mod shelf;

pub use automation::{Processed, RuleCounters};

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};

use crate::clock::{Clock, SystemClock};
use crate::error::{DomainError, Entity, Error, RepositoryError};
use crate::model::contact::{Contact, EnrollmentStatus};
use crate::model::ids::{ContactId, JourneyId, StageKey};
use crate::model::journey::Journey;
use crate::model::transition::{Source, Transition};
use crate::repository::{Append, Commit, ContactWrite, Repository};
use crate::sequencing::{MembershipState, Move, decide, decide_after, replay};

/// How many times a command is tried when its commit meets a `Conflict`, unless set
/// with [`JourneyEngine::with_max_attempts`].
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;

/// Runs commands against a [`Repository`]: every move is decided by
/// [`decide`] over the membership replayed from storage, then
/// appended with the version it was decided on. A history the repository vouches
/// was built by such moves ([`StoredHistory`](crate::StoredHistory)) is not replayed
/// again: the move continues from its last transition.
///
/// Journey definitions are immutable once stored, so the engine caches them.
///
/// ```
/// use journeys::{Contact, InMemoryRepository, Journey, JourneyEngine, SequencePolicy, Source, Stage};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let engine = JourneyEngine::new(InMemoryRepository::new());
/// engine.define_journey(Journey::new("onboarding", "Onboarding", SequencePolicy::RequiresSequence,
///     [Stage::new("enrolled", "Enrolled")?, Stage::new("first_order", "First order")?])?).await?;
/// let ada = "ada".parse()?;
/// engine.add_contact(Contact::new(ada)).await?;
/// let journey = "onboarding".parse()?;
/// let contact = "ada".parse()?;
/// let who = Source::manual("ops".parse()?);
/// engine.move_contact(&contact, &journey, &"enrolled".parse()?, who.clone()).await?;
/// let skip = engine.move_contact(&contact, &journey, &"enrolled".parse()?, who).await;
/// assert_eq!(skip.unwrap_err().code(), "already_in_stage");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct JourneyEngine<R, C = SystemClock> {
    repository: R,
    clock: C,
    max_attempts: u32,
    journeys: shelf::Shelf,
    /// The Advocate Enrollment journey, once stored.
    system: OnceLock<Arc<Journey>>,
    /// The automations it runs and their counters.
    automation: automation::AutomationSlot,
}

impl<R: Repository> JourneyEngine<R, SystemClock> {
    /// An engine over `repository` using the system clock.
    pub fn new(repository: R) -> Self {
        Self::with_clock(repository, SystemClock)
    }
}

impl<R: Repository, C: Clock> JourneyEngine<R, C> {
    /// An engine over `repository` that takes the time from `clock`.
    pub fn with_clock(repository: R, clock: C) -> Self {
        JourneyEngine {
            repository,
            clock,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            journeys: shelf::Shelf::default(),
            system: OnceLock::new(),
            automation: automation::AutomationSlot::default(),
        }
    }

    /// Sets how many times a command is tried on `Conflict` (at least once).
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The repository.
    pub fn repository(&self) -> &R {
        &self.repository
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Stores a journey definition (again storing an identical one is fine).
    ///
    /// # Errors
    /// `AlreadyExists` if a different journey has that id.
    pub async fn define_journey(&self, journey: Journey) -> Result<Arc<Journey>, Error> {
        self.repository.insert_journey(&journey).await?;
        // A journey stored with this id is identical, or the insert failed.
        Ok(Arc::clone(self.journeys.insert(Arc::new(journey))))
    }

    /// The journey with id `id`.
    ///
    /// # Errors
    /// `NotFound` if no such journey is stored.
    pub async fn journey(&self, id: &JourneyId) -> Result<Arc<Journey>, Error> {
        Ok(Arc::clone(self.shelved(id).await?))
    }

    /// The journey with id `id`, borrowed from the engine's shelf (loaded into it on
    /// first use).
    async fn shelved(&self, id: &JourneyId) -> Result<&Arc<Journey>, Error> {
        if let Some(journey) = self.journeys.get(id) {
            return Ok(journey);
        }
        let journey = self.repository.load_journey(id).await?;
        Ok(self.journeys.insert(Arc::new(journey)))
    }

    async fn system_journey(&self) -> Result<Arc<Journey>, Error> {
        if let Some(journey) = self.system.get() {
            return Ok(Arc::clone(journey));
        }
        let journey = self.define_journey(Journey::advocate_enrollment()).await?;
        Ok(Arc::clone(self.system.get_or_init(|| journey)))
    }

    /// Adds a contact and, in the same commit, enters it into the Advocate Enrollment
    /// journey at the stage of its enrollment status. Returns that entry.
    ///
    /// # Errors
    /// `AlreadyExists` if the contact is stored.
    pub async fn add_contact(&self, contact: Contact) -> Result<Transition, Error> {
        let system = self.system_journey().await?;
        let (write, append) = contact_entry(&system, contact, self.clock.now())?;
        let entry = append.transitions[0].clone();
        self.repository
            .commit(Commit { appends: vec![append], contacts: vec![write], idempotency_key: None })
            .await?;
        Ok(entry)
    }

    /// The contact with id `id`.
    ///
    /// # Errors
    /// `NotFound` if no such contact is stored.
    pub async fn contact(&self, id: &ContactId) -> Result<Contact, Error> {
        Ok(self.repository.load_contact(id).await?.value)
    }

    /// Enters `contact` into `journey` at its first stage, now.
    ///
    /// # Errors
    /// As [`apply_move`](Self::apply_move); `already_in_stage` or
    /// `sequence_violation` if the contact is already a member elsewhere.
    pub async fn enroll(
        &self,
        contact: &ContactId,
        journey: &JourneyId,
        source: Source,
    ) -> Result<Transition, Error> {
        let first = self.shelved(journey).await?.first_stage().key().clone();
        self.move_contact(contact, journey, &first, source).await
    }

    /// Moves `contact` into `stage` of `journey` now, on behalf of `source`. "Now" is
    /// read after the membership is loaded, on every attempt, so a move never lands
    /// before one that won a race against it.
    ///
    /// # Errors
    /// As [`apply_move`](Self::apply_move).
    pub async fn move_contact(
        &self,
        contact: &ContactId,
        journey: &JourneyId,
        stage: &StageKey,
        source: Source,
    ) -> Result<Transition, Error> {
        // The times are read from the clock on each attempt.
        let request = Move::to_stage(contact.clone(), stage.clone(), DateTime::<Utc>::MIN_UTC, source);
        self.run_move(journey, contact, request, When::Now).await
    }

    /// Applies a move in `journey` as of `request.occurred_at`, recorded now
    /// (`recorded_at` is set from the clock), so history can be back-filled in order.
    ///
    /// With an idempotency key that an earlier commit stored, returns that commit's
    /// transition for this membership and appends nothing.
    ///
    /// # Errors
    /// A [`DomainError`] from sequencing; `NotFound` for an unknown
    /// journey or contact; `Conflict` if every attempt lost a race; `AlreadyExists` if
    /// the idempotency key was used for another membership.
    pub async fn apply_move(&self, journey: &JourneyId, request: Move) -> Result<Transition, Error> {
        let contact = request.contact.clone();
        self.run_move(journey, &contact, request, When::AsRequested).await
    }

    /// Decides and appends `request`, which moves `contact`.
    async fn run_move(
        &self,
        journey: &JourneyId,
        contact: &ContactId,
        mut request: Move,
        when: When,
    ) -> Result<Transition, Error> {
        let journey = self.shelved(journey).await?;
        let key = request.idempotency_key.clone();
        let mut attempt = 1;
        loop {
            if let Some(done) = self.already_applied(journey, &request).await? {
                return Ok(done);
            }
            let decided = self
                .repository
                .append_decided(contact, journey.id(), key.as_ref(), |stored| {
                    request.recorded_at = self.clock.now();
                    if when == When::Now {
                        request.occurred_at = request.recorded_at;
                    }
                    let decision = decide_after(journey, stored.transitions, stored.decided_here, &request)?;
                    Ok::<_, DomainError>((decision.to_transition(), decision.decided()))
                })
                .await;
            match decided {
                // The stored transition's copy for the caller takes the request's ids.
                Ok(decided) => return Ok(decided?.into_transition(journey, request)),
                Err(e) if attempt < self.max_attempts && is_retryable(&e) => attempt += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn already_applied(&self, journey: &Journey, request: &Move) -> Result<Option<Transition>, Error> {
        let Some(key) = &request.idempotency_key else {
            return Ok(None);
        };
        let Some(stored) = self.repository.find_idempotency_key(key).await? else {
            return Ok(None);
        };
        stored
            .into_iter()
            .find(|t| t.contact == request.contact && &t.journey == journey.id())
            .map(Some)
            .ok_or_else(|| {
                RepositoryError::AlreadyExists { entity: Entity::IdempotencyKey, id: key.to_string() }.into()
            })
    }

    /// Changes a contact's enrollment status and moves the Advocate Enrollment journey
    /// to match, in one commit. The only way that journey moves.
    ///
    /// # Errors
    /// `already_in_stage` if the contact already has that status; `NotFound` for an
    /// unknown contact; `Conflict` if every attempt lost a race.
    pub async fn set_enrollment_status(
        &self,
        contact: &ContactId,
        status: EnrollmentStatus,
    ) -> Result<Transition, Error> {
        let system = self.system_journey().await?;
        let mut attempt = 1;
        loop {
            let stored = self.repository.load_contact(contact).await?;
            let history = self.repository.load_history(contact, system.id()).await?;
            let state = replay(&system, contact, &history)?;
            let transition =
                decide(&system, state.as_ref(), &Move::to_status(contact.clone(), status, self.clock.now()))?;
            let commit = Commit {
                appends: vec![Append {
                    contact: contact.clone(),
                    journey: system.id().clone(),
                    expected_version: history.len() as u64,
                    transitions: vec![transition.clone()],
                }],
                contacts: vec![ContactWrite::Update {
                    contact: stored.value.with_status(status),
                    expected_version: stored.version,
                }],
                idempotency_key: None,
            };
            match self.repository.commit(commit).await {
                Ok(()) => return Ok(transition),
                Err(e) if attempt < self.max_attempts && is_retryable(&e) => attempt += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Where `contact` stands in `journey` (`None`: not a member), replayed and checked
    /// from the stored history.
    ///
    /// # Errors
    /// `invalid_history` if the stored history breaks a rule; `NotFound` for an
    /// unknown journey.
    pub async fn membership(
        &self,
        contact: &ContactId,
        journey: &JourneyId,
    ) -> Result<Option<MembershipState>, Error> {
        let journey = self.shelved(journey).await?;
        let history = self.repository.load_history(contact, journey.id()).await?;
        Ok(replay(journey, contact, &history)?)
    }

    /// The stored history of `contact` in `journey`, checked step by step.
    ///
    /// # Errors
    /// As [`membership`](Self::membership).
    pub async fn history(&self, contact: &ContactId, journey: &JourneyId) -> Result<Vec<Transition>, Error> {
        let journey = self.shelved(journey).await?;
        let history = self.repository.load_history(contact, journey.id()).await?;
        replay(journey, contact, &history)?;
        Ok(history)
    }

    /// Where `contact` stands in every journey it is a member of, ordered by journey
    /// id.
    ///
    /// # Errors
    /// As [`membership`](Self::membership).
    pub async fn memberships(&self, contact: &ContactId) -> Result<Vec<MembershipState>, Error> {
        let mut states = Vec::new();
        for journey in self.repository.contact_journeys(contact).await? {
            states.extend(self.membership(contact, &journey).await?);
        }
        Ok(states)
    }
}

/// A new contact's insert and its entry into the Advocate Enrollment journey
/// (`system`) at the stage of its enrollment status, decided at `now`.
fn contact_entry(
    system: &Journey,
    contact: Contact,
    now: DateTime<Utc>,
) -> Result<(ContactWrite, Append), crate::error::DomainError> {
    let entry = decide(system, None, &Move::to_status(contact.id.clone(), contact.enrollment, now))?;
    Ok(contact_write(system, contact, entry))
}

/// The parts of a commit adding `contact` with `entry`, its transition into the
/// `system` journey.
fn contact_write(system: &Journey, contact: Contact, entry: Transition) -> (ContactWrite, Append) {
    let append = Append {
        contact: contact.id.clone(),
        journey: system.id().clone(),
        expected_version: 0,
        transitions: vec![entry],
    };
    (ContactWrite::Insert(contact), append)
}

/// When a move happens: now (read on each attempt) or at the time it names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum When {
    Now,
    AsRequested,
}

/// Whether a failed commit is worth deciding again: another writer got there first.
fn is_retryable(error: &RepositoryError) -> bool {
    matches!(
        error,
        RepositoryError::Conflict { .. }
            | RepositoryError::AlreadyExists { entity: Entity::IdempotencyKey, .. }
    )
}
