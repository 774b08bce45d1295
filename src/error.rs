//! Errors: domain rule violations, storage failures, and the engine's union of both.
//!
//! Every variant has a stable [`code`](DomainError::code) string that bindings and
//! reports can match on; messages name the offending value.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::model::ids::{CampaignId, ContactId, JourneyId, RuleId, StageKey};

/// Why a sequenced journey refused a move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SequenceRule {
    /// A sequenced journey is entered at its first stage (or an exit stage).
    EnterAtFirstStage,
    /// The move skips one or more stages.
    NoSkipping,
    /// The move goes back to an earlier stage.
    NoMovingBack,
    /// The contact is in a terminal stage (an exit or the last stage).
    NothingAfterTerminal,
}

impl fmt::Display for SequenceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SequenceRule::EnterAtFirstStage => "a sequenced journey is entered at its first stage",
            SequenceRule::NoSkipping => "stages cannot be skipped",
            SequenceRule::NoMovingBack => "contacts cannot move back",
            SequenceRule::NothingAfterTerminal => "nothing follows a terminal stage",
        })
    }
}

fn stage_or_none(stage: &Option<StageKey>) -> &str {
    stage.as_ref().map_or("(not in the journey)", StageKey::as_str)
}

/// A domain rule was violated or a definition is invalid. Comparable data: tests and
/// bindings match on it, and [`code`](Self::code) is stable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// An id, key, name or note is empty, too long or has characters not allowed.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidId {
        /// Which kind of id (`contact`, `stage`, `journey`, …).
        field: &'static str,
        /// The text given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A value is out of range or malformed.
    #[error("invalid {field} {value}: {reason}")]
    InvalidValue {
        /// Which field.
        field: &'static str,
        /// The value given, as text.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A journey was defined without stages.
    #[error("journey {journey} has no stages")]
    EmptyJourney {
        /// The journey.
        journey: JourneyId,
    },
    /// Two stages of a journey share a key.
    #[error("journey {journey} defines stage \"{stage}\" twice")]
    DuplicateStage {
        /// The journey.
        journey: JourneyId,
        /// The repeated key.
        stage: StageKey,
    },
    /// A custom journey used the reserved id, or a system journey differs from the
    /// one the crate defines.
    #[error(
        "journey {journey} is not a valid Advocate Enrollment definition: the system journey is built by Journey::advocate_enrollment() only"
    )]
    InvalidSystemJourney {
        /// The journey.
        journey: JourneyId,
    },
    /// A journey id that is not defined.
    #[error("unknown journey {journey:?}")]
    UnknownJourney {
        /// The id asked for.
        journey: String,
    },
    /// A segment name that no given segment has.
    #[error("unknown segment {segment:?}")]
    UnknownSegment {
        /// The name asked for.
        segment: String,
    },
    /// A stage key that the journey does not define.
    #[error("journey {journey} has no stage {stage:?}")]
    UnknownStage {
        /// The journey.
        journey: JourneyId,
        /// The key asked for.
        stage: String,
    },
    /// A sequenced journey refused a move.
    #[error("contact {contact} cannot move from {from} to {to} in journey {journey}: {rule}", from = stage_or_none(.from))]
    SequenceViolation {
        /// The journey.
        journey: JourneyId,
        /// The contact.
        contact: ContactId,
        /// Where the contact is (`None`: not in the journey).
        from: Option<StageKey>,
        /// Where the move asked to go.
        to: StageKey,
        /// Which rule forbids it.
        rule: SequenceRule,
    },
    /// The contact is already in the stage the move asked for.
    #[error("contact {contact} is already in stage {stage} of journey {journey}")]
    AlreadyInStage {
        /// The journey.
        journey: JourneyId,
        /// The contact.
        contact: ContactId,
        /// The stage.
        stage: StageKey,
    },
    /// A move into the system journey other than by an enrollment status change.
    #[error("journey {journey} mirrors the enrollment status and moves only when the status changes")]
    SystemJourney {
        /// The system journey.
        journey: JourneyId,
    },
    /// An enrollment status change was applied to a custom journey.
    #[error(
        "journey {journey} is not the Advocate Enrollment journey; enrollment status moves only that one"
    )]
    NotSystemJourney {
        /// The journey.
        journey: JourneyId,
    },
    /// A move dated before the membership's last move (rule 6).
    #[error("contact {contact} cannot move in journey {journey} at {at}: its last move was at {last}", at = .at.to_rfc3339(), last = .last.to_rfc3339())]
    EarlierThanLastMove {
        /// The journey.
        journey: JourneyId,
        /// The contact.
        contact: ContactId,
        /// When the refused move was dated.
        at: DateTime<Utc>,
        /// When the last accepted move happened.
        last: DateTime<Utc>,
    },
    /// A stored transition does not continue the history before it (wrong contact,
    /// journey, version or `from`).
    #[error("stored transition has {field} {actual}, expected {expected}")]
    HistoryMismatch {
        /// Which field.
        field: &'static str,
        /// What replay expected.
        expected: String,
        /// What was stored.
        actual: String,
    },
    /// Replay found an illegal step in a stored history (rule 10).
    #[error(
        "stored history of contact {contact} in journey {journey} is invalid at version {version}: {cause}"
    )]
    InvalidHistory {
        /// The contact.
        contact: ContactId,
        /// The journey.
        journey: JourneyId,
        /// The version of the offending transition.
        version: u64,
        /// What is wrong with it.
        cause: Box<DomainError>,
    },
    /// A referral that is not valid, or a change to it that is refused.
    #[error("referral of {referred} for campaign {campaign}: {reason}")]
    InvalidReferral {
        /// The campaign.
        campaign: CampaignId,
        /// The referred contact.
        referred: ContactId,
        /// What is wrong.
        reason: &'static str,
    },
    // Automations: conditions and rules.
    /// A condition is not valid; `path` is the JSON pointer of the offending part
    /// within the condition (empty: the condition itself).
    #[error("invalid condition at {path:?}: {cause}")]
    InvalidCondition {
        /// The JSON pointer of the offending part.
        path: String,
        /// What is wrong with it.
        cause: Box<DomainError>,
    },
    /// An automation rule is not valid; `path` is the JSON pointer of the offending
    /// field within the rule (e.g. `/outcomes/0/stage`).
    #[error("rule {rule:?} is invalid at {path:?}: {cause}")]
    InvalidRule {
        /// The rule's id.
        rule: String,
        /// The JSON pointer of the offending field within the rule.
        path: String,
        /// What is wrong with it.
        cause: Box<DomainError>,
    },
    /// Two rules of a rule set share an id.
    #[error("rule id {rule} is used twice")]
    DuplicateRule {
        /// The repeated id.
        rule: RuleId,
    },
    /// An `all` or `any` group has no parts.
    #[error("an {group:?} group needs at least one part")]
    EmptyCondition {
        /// `all` or `any`.
        group: &'static str,
    },
    /// An operator was given no value, a value it does not take, or one of the wrong
    /// shape.
    #[error("operator {op:?} {reason}")]
    InvalidOperand {
        /// The operator.
        op: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A comparison's value does not have the type of the field it is compared with.
    #[error("operator {op:?} compares a {expected} field, not with a {found}")]
    TypeMismatch {
        /// The operator.
        op: &'static str,
        /// The field's type.
        expected: &'static str,
        /// The type of the value given.
        found: &'static str,
    },
}

impl DomainError {
    /// A stable, machine-readable code for the variant, e.g. `"sequence_violation"`.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::InvalidId { .. } => "invalid_id",
            DomainError::InvalidValue { .. } => "invalid_value",
            DomainError::EmptyJourney { .. } => "empty_journey",
            DomainError::DuplicateStage { .. } => "duplicate_stage",
            DomainError::InvalidSystemJourney { .. } => "invalid_system_journey",
            DomainError::UnknownJourney { .. } => "unknown_journey",
            DomainError::UnknownSegment { .. } => "unknown_segment",
            DomainError::UnknownStage { .. } => "unknown_stage",
            DomainError::SequenceViolation { .. } => "sequence_violation",
            DomainError::AlreadyInStage { .. } => "already_in_stage",
            DomainError::SystemJourney { .. } => "system_journey",
            DomainError::NotSystemJourney { .. } => "not_system_journey",
            DomainError::EarlierThanLastMove { .. } => "earlier_than_last_move",
            DomainError::HistoryMismatch { .. } => "history_mismatch",
            DomainError::InvalidHistory { .. } => "invalid_history",
            DomainError::InvalidReferral { .. } => "invalid_referral",
            DomainError::InvalidCondition { .. } => "invalid_condition",
            DomainError::InvalidRule { .. } => "invalid_rule",
            DomainError::DuplicateRule { .. } => "duplicate_rule",
            DomainError::EmptyCondition { .. } => "empty_condition",
            DomainError::InvalidOperand { .. } => "invalid_operand",
            DomainError::TypeMismatch { .. } => "type_mismatch",
        }
    }
}

/// What a repository error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Entity {
    /// A journey definition.
    Journey,
    /// A contact record.
    Contact,
    /// A contact's membership in a journey (its history).
    Membership,
    /// An idempotency key.
    IdempotencyKey,
    /// A touchpoint or other record a backend stores.
    Record,
    /// A touchpoint.
    Touchpoint,
    /// A referral.
    Referral,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::Journey => "journey",
            Entity::Contact => "contact",
            Entity::Membership => "membership",
            Entity::IdempotencyKey => "idempotency key",
            Entity::Record => "record",
            Entity::Touchpoint => "touchpoint",
            Entity::Referral => "referral",
        })
    }
}

/// A storage failure, in backend-neutral kinds. The driver's own error, if any, is
/// the boxed `source`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepositoryError {
    /// Nothing is stored under that id.
    #[error("{entity} {id} not found")]
    NotFound {
        /// What was looked for.
        entity: Entity,
        /// Its id.
        id: String,
    },
    /// An optimistic-concurrency check failed: someone else wrote first. Nothing was
    /// written.
    #[error("{entity} {id} is at version {actual}, not the expected {expected}")]
    Conflict {
        /// What was written to.
        entity: Entity,
        /// Its id.
        id: String,
        /// The version the writer expected.
        expected: u64,
        /// The version stored.
        actual: u64,
    },
    /// A record with that id exists (and differs from the one written).
    #[error("{entity} {id} already exists")]
    AlreadyExists {
        /// What was written.
        entity: Entity,
        /// Its id.
        id: String,
    },
    /// The backend cannot be reached or refused for now; retrying later may work.
    #[error("repository unavailable: {message}")]
    Unavailable {
        /// What the backend said.
        message: String,
    },
    /// Any other backend failure.
    #[error("repository backend failed: {source}")]
    Backend {
        /// The driver's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl RepositoryError {
    /// A stable, machine-readable code for the variant, e.g. `"conflict"`.
    pub fn code(&self) -> &'static str {
        match self {
            RepositoryError::NotFound { .. } => "not_found",
            RepositoryError::Conflict { .. } => "conflict",
            RepositoryError::AlreadyExists { .. } => "already_exists",
            RepositoryError::Unavailable { .. } => "unavailable",
            RepositoryError::Backend { .. } => "backend",
        }
    }

    /// Wraps a driver error.
    pub fn backend(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        RepositoryError::Backend { source: source.into() }
    }
}

/// What the engine reports: a domain refusal or a storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A domain rule refused the command; nothing was written.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The repository failed.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    /// An import could not run: its header is refused or its input unreadable.
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
}

impl Error {
    /// The stable code of the underlying error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Domain(e) => e.code(),
            Error::Repository(e) => e.code(),
            Error::Import(e) => e.code(),
        }
    }

    /// The domain error, if this is one.
    pub fn as_domain(&self) -> Option<&DomainError> {
        match self {
            Error::Domain(e) => Some(e),
            Error::Repository(_) | Error::Import(_) => None,
        }
    }
}
