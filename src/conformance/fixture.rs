//! What the checks share: comparisons that report instead of panicking, and test data
//! built through [`decide`] so every stored transition is one the crate would make.

use std::fmt::Debug;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::ConformanceFailure;
use crate::error::{DomainError, Entity, RepositoryError};
use crate::model::contact::Contact;
use crate::model::ids::{ActorId, ContactId, IdempotencyKey, JourneyId, StageKey};
use crate::model::journey::{Journey, SequencePolicy, Stage};
use crate::model::transition::{Source, Transition};
use crate::repository::{Append, Commit};
use crate::sequencing::{MembershipState, Move, decide};

/// One running check: every comparison reports under its name.
#[derive(Clone, Copy, Debug)]
pub(super) struct Check(pub(super) &'static str);

impl Check {
    pub(super) fn fail(self, detail: impl Into<String>) -> ConformanceFailure {
        ConformanceFailure { check: self.0, detail: detail.into() }
    }

    /// The value of a call that must succeed.
    pub(super) fn ok<T>(
        self,
        what: &str,
        result: Result<T, RepositoryError>,
    ) -> Result<T, ConformanceFailure> {
        result.map_err(|e| self.fail(format!("{what}: expected success, got `{}` error: {e}", e.code())))
    }

    pub(super) fn equal<T: Debug + PartialEq>(
        self,
        what: &str,
        actual: &T,
        expected: &T,
    ) -> Result<(), ConformanceFailure> {
        if actual == expected {
            Ok(())
        } else {
            Err(self.fail(format!("{what}: expected {expected:?}, got {actual:?}")))
        }
    }

    /// A fixture the suite builds was refused by the crate itself: a suite bug,
    /// reported rather than panicking.
    pub(super) fn fixture<T>(self, result: Result<T, DomainError>) -> Result<T, ConformanceFailure> {
        result.map_err(|e| self.fail(format!("building test data failed: {e}")))
    }

    pub(super) fn contact(self, id: &str) -> Result<ContactId, ConformanceFailure> {
        self.fixture(ContactId::new(id))
    }

    pub(super) fn key(self, key: &str) -> Result<IdempotencyKey, ConformanceFailure> {
        self.fixture(IdempotencyKey::new(key))
    }

    fn source(self) -> Result<Source, ConformanceFailure> {
        self.fixture(ActorId::new("conformance")).map(Source::manual)
    }

    /// An any-order journey with the given stage keys.
    pub(super) fn journey(self, id: &str, stages: &[&str]) -> Result<Journey, ConformanceFailure> {
        let stages = stages.iter().map(|key| Stage::new(key, key)).collect::<Result<Vec<_>, _>>();
        self.fixture(stages.and_then(|stages| Journey::new(id, id, SequencePolicy::AnyOrder, stages)))
    }

    /// Transitions that continue `history` (empty: entry) through `steps` of
    /// (stage, minutes after [`epoch`]), each decided by [`decide`].
    pub(super) fn moves(
        self,
        journey: &Journey,
        contact: &ContactId,
        history: &[Transition],
        steps: &[(&str, i64)],
    ) -> Result<Vec<Transition>, ConformanceFailure> {
        let mut state = history.last().map(MembershipState::after);
        let mut made = Vec::with_capacity(steps.len());
        for (stage, minutes) in steps {
            let stage = self.fixture(StageKey::new(stage))?;
            let request = Move::to_stage(contact.clone(), stage, at(*minutes), self.source()?);
            let transition = self.fixture(decide(journey, state.as_ref(), &request))?;
            state = Some(MembershipState::after(&transition));
            made.push(transition);
        }
        Ok(made)
    }

    /// A commit entering `contact` into `journey` through `steps`.
    pub(super) fn entry(
        self,
        journey: &Journey,
        contact: &ContactId,
        steps: &[(&str, i64)],
    ) -> Result<Commit, ConformanceFailure> {
        Ok(Commit::append(
            contact.clone(),
            journey.id().clone(),
            0,
            self.moves(journey, contact, &[], steps)?,
        ))
    }
}

/// An append continuing `history` with `transitions`.
pub(super) fn append_after(history: &[Transition], transitions: Vec<Transition>) -> Option<Append> {
    let first = transitions.first()?;
    Some(Append {
        contact: first.contact.clone(),
        journey: first.journey.clone(),
        expected_version: history.len() as u64,
        transitions,
    })
}

/// The suite's time origin: fixed, so runs are reproducible.
pub(super) fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).single().unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// `minutes` after [`epoch`].
pub(super) fn at(minutes: i64) -> DateTime<Utc> {
    epoch() + Duration::minutes(minutes)
}

/// A contact record with no attributes.
pub(super) fn contact_record(id: &ContactId) -> Contact {
    Contact::new(id.clone())
}

/// The ids of `journeys`, for comparing listings.
pub(super) fn ids<'a>(journeys: impl IntoIterator<Item = &'a Journey>) -> Vec<JourneyId> {
    journeys.into_iter().map(|j| j.id().clone()).collect()
}

/// A repository error reduced to what the contract specifies: the kind, the entity,
/// and the id or versions it names.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Kind {
    NotFound(Entity, String),
    AlreadyExists(Entity, String),
    Conflict { entity: Entity, expected: u64, actual: u64 },
    Other(&'static str),
}

impl Kind {
    pub(super) fn of(error: &RepositoryError) -> Kind {
        match error {
            RepositoryError::NotFound { entity, id } => Kind::NotFound(*entity, id.clone()),
            RepositoryError::AlreadyExists { entity, id } => Kind::AlreadyExists(*entity, id.clone()),
            RepositoryError::Conflict { entity, expected, actual, .. } => {
                Kind::Conflict { entity: *entity, expected: *expected, actual: *actual }
            }
            other => Kind::Other(other.code()),
        }
    }
}

impl Check {
    /// A call that must fail with exactly `expected`.
    pub(super) fn fails_with<T: Debug>(
        self,
        what: &str,
        result: Result<T, RepositoryError>,
        expected: Kind,
    ) -> Result<(), ConformanceFailure> {
        match result {
            Ok(value) => Err(self.fail(format!("{what}: expected {expected:?}, got success: {value:?}"))),
            Err(e) => self.equal(what, &Kind::of(&e), &expected),
        }
    }
}
