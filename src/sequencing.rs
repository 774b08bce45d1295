//! The one place that decides whether a move is legal.
//!
//! [`decide`] serves every path — manual moves, automations, bulk import and the
//! replay of stored history — so no path can bypass the journey's policy. It is pure:
//! time comes in with the request, and the result is a [`Transition`] to store or a
//! [`DomainError`] saying why not.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{DomainError, SequenceRule};
use crate::model::contact::EnrollmentStatus;
use crate::model::ids::{ContactId, IdempotencyKey, JourneyId, StageKey};
use crate::model::journey::{Journey, SequencePolicy, status_stage_key};
use crate::model::transition::{Source, TouchpointInfo, Transition};

/// Where a contact stands in one journey: what sequencing needs to decide the next
/// move.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MembershipState {
    /// The contact.
    pub contact: ContactId,
    /// The journey.
    pub journey: JourneyId,
    /// The current stage.
    pub stage: StageKey,
    /// The number of transitions so far; the next one gets `version + 1`.
    pub version: u64,
    /// When the contact entered the current stage.
    pub since: DateTime<Utc>,
}

impl MembershipState {
    /// The state after `transition`, which must be the membership's next one.
    pub fn after(transition: &Transition) -> Self {
        MembershipState {
            contact: transition.contact.clone(),
            journey: transition.journey.clone(),
            stage: transition.to.clone(),
            version: transition.version,
            since: transition.occurred_at,
        }
    }
}

/// Where a move asks to go.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// A stage of a custom journey.
    Stage(StageKey),
    /// The stage of the Advocate Enrollment journey that mirrors this status: the
    /// only way that journey moves.
    EnrollmentStatus(EnrollmentStatus),
}

/// A requested move of one contact in one journey.
///
/// ```
/// use journeys::{Move, Source};
/// let at = "2026-01-05T13:04:11Z".parse()?;
/// let request = Move::to_stage("c1".parse()?, "lead".parse()?, at, Source::manual("ada".parse()?));
/// assert_eq!(request.recorded_at, at);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    /// Who moves.
    pub contact: ContactId,
    /// Where to.
    pub target: Target,
    /// When the move happened in the world.
    pub occurred_at: DateTime<Utc>,
    /// When it is recorded.
    pub recorded_at: DateTime<Utc>,
    /// Who or what asks for it.
    pub source: Source,
    /// The interaction behind it, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub touchpoint: Option<TouchpointInfo>,
    /// A key that makes the command safe to retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<IdempotencyKey>,
}

impl Move {
    /// A move into `stage` at `at`, recorded at the same instant.
    pub fn to_stage(contact: ContactId, stage: StageKey, at: DateTime<Utc>, source: Source) -> Self {
        Move {
            contact,
            target: Target::Stage(stage),
            occurred_at: at,
            recorded_at: at,
            source,
            touchpoint: None,
            idempotency_key: None,
        }
    }

    /// A move of the Advocate Enrollment journey to mirror `status`.
    pub fn to_status(contact: ContactId, status: EnrollmentStatus, at: DateTime<Utc>) -> Self {
        Move {
            contact,
            target: Target::EnrollmentStatus(status),
            occurred_at: at,
            recorded_at: at,
            source: Source::enrollment_status(),
            touchpoint: None,
            idempotency_key: None,
        }
    }
}

/// Decides `request` against the contact's `current` state in `journey` (`None`: not
/// a member yet). Returns the transition to append, or why the move is refused.
///
/// The rules, in the order they are checked:
/// 1. The Advocate Enrollment journey takes only [`Target::EnrollmentStatus`]
///    (`system_journey`), and only it takes that target (`not_system_journey`).
/// 2. The target stage exists (`unknown_stage`).
/// 3. The contact is not already there (`already_in_stage`).
/// 4. The move is not dated before the last one (`earlier_than_last_move`).
/// 5. In a sequenced journey (`sequence_violation`): entry is at the first stage;
///    from a non-terminal stage a contact advances to the next non-exit stage or
///    leaves through any exit stage; nothing follows a terminal stage.
///
/// # Errors
/// The [`DomainError`] named above, carrying the contact, journey and stages.
///
/// ```
/// use journeys::{decide, Journey, Move, SequencePolicy, Source, Stage};
/// let journey = Journey::new("referral", "Referral", SequencePolicy::RequiresSequence,
///     [Stage::new("lead", "Lead")?, Stage::new("demo", "Demo")?, Stage::new("trial", "Trial")?])?;
/// let at = "2026-01-05T13:04:11Z".parse().unwrap();
/// let who = Source::manual("ada".parse()?);
/// let entry = decide(&journey, None, &Move::to_stage("c1".parse()?, "lead".parse()?, at, who.clone()))?;
/// let state = journeys::MembershipState::after(&entry);
/// let skip = decide(&journey, Some(&state), &Move::to_stage("c1".parse()?, "trial".parse()?, at, who));
/// assert_eq!(skip.unwrap_err().code(), "sequence_violation");
/// # Ok::<(), journeys::DomainError>(())
/// ```
pub fn decide(
    journey: &Journey,
    current: Option<&MembershipState>,
    request: &Move,
) -> Result<Transition, DomainError> {
    let to = resolve_target(journey, &request.target)?;
    let to_index = journey
        .stage_index(to.as_str())
        .ok_or_else(|| DomainError::UnknownStage { journey: journey.id().clone(), stage: to.to_string() })?;
    if let Some(state) = current {
        if state.stage == to {
            return Err(DomainError::AlreadyInStage {
                journey: journey.id().clone(),
                contact: request.contact.clone(),
                stage: to,
            });
        }
        if request.occurred_at < state.since {
            return Err(DomainError::EarlierThanLastMove {
                journey: journey.id().clone(),
                contact: request.contact.clone(),
                at: request.occurred_at,
                last: state.since,
            });
        }
    }
    if journey.policy() == SequencePolicy::RequiresSequence {
        let from_index = current.and_then(|state| journey.stage_index(state.stage.as_str()));
        if let Some(rule) = sequence_rule_broken(journey, from_index, to_index) {
            return Err(DomainError::SequenceViolation {
                journey: journey.id().clone(),
                contact: request.contact.clone(),
                from: current.map(|state| state.stage.clone()),
                to,
                rule,
            });
        }
    }
    Ok(Transition {
        contact: request.contact.clone(),
        journey: journey.id().clone(),
        version: current.map_or(1, |state| state.version + 1),
        from: current.map(|state| state.stage.clone()),
        to,
        occurred_at: request.occurred_at,
        recorded_at: request.recorded_at,
        source: request.source.clone(),
        touchpoint: request.touchpoint.clone(),
        idempotency_key: request.idempotency_key.clone(),
    })
}

fn resolve_target(journey: &Journey, target: &Target) -> Result<StageKey, DomainError> {
    match (journey.is_system(), target) {
        (false, Target::Stage(stage)) => Ok(stage.clone()),
        (true, Target::EnrollmentStatus(status)) => Ok(status_stage_key(*status)),
        (true, Target::Stage(_)) => Err(DomainError::SystemJourney { journey: journey.id().clone() }),
        (false, Target::EnrollmentStatus(_)) => {
            Err(DomainError::NotSystemJourney { journey: journey.id().clone() })
        }
    }
}

/// The sequencing rule a move from `from` (`None`: entry) to `to` breaks, if any.
fn sequence_rule_broken(journey: &Journey, from: Option<usize>, to: usize) -> Option<SequenceRule> {
    let Some(from) = from else {
        return (to != 0).then_some(SequenceRule::EnterAtFirstStage);
    };
    if journey.is_terminal(from) {
        Some(SequenceRule::NothingAfterTerminal)
    } else if journey.stage_at(to).is_some_and(|stage| stage.is_exit())
        || journey.next_stage_index(from) == Some(to)
    {
        None
    } else if to < from {
        Some(SequenceRule::NoMovingBack)
    } else {
        Some(SequenceRule::NoSkipping)
    }
}

/// Rebuilds a membership from its stored history, re-checking every step through
/// [`decide`] (rule 10). Returns the state after the last transition (`None` for an
/// empty history).
///
/// # Errors
/// [`DomainError::InvalidHistory`] naming the first offending transition's version,
/// with the rule it breaks as `cause`.
pub fn replay(
    journey: &Journey,
    contact: &ContactId,
    history: &[Transition],
) -> Result<Option<MembershipState>, DomainError> {
    let mut state: Option<MembershipState> = None;
    for (position, stored) in history.iter().enumerate() {
        let expected_version = position as u64 + 1;
        check_stored(journey, contact, state.as_ref(), expected_version, stored)
            .and_then(|()| decide(journey, state.as_ref(), &as_request(journey, stored)?))
            .map_err(|cause| DomainError::InvalidHistory {
                contact: contact.clone(),
                journey: journey.id().clone(),
                version: stored.version,
                cause: Box::new(cause),
            })?;
        state = Some(MembershipState::after(stored));
    }
    Ok(state)
}

/// Checks that `stored` continues the history: same contact and journey, the next
/// version, leaving the current stage.
fn check_stored(
    journey: &Journey,
    contact: &ContactId,
    state: Option<&MembershipState>,
    expected_version: u64,
    stored: &Transition,
) -> Result<(), DomainError> {
    let mismatch =
        |field, expected: String, actual: String| DomainError::HistoryMismatch { field, expected, actual };
    if &stored.contact != contact {
        return Err(mismatch("contact", contact.to_string(), stored.contact.to_string()));
    }
    if &stored.journey != journey.id() {
        return Err(mismatch("journey", journey.id().to_string(), stored.journey.to_string()));
    }
    if stored.version != expected_version {
        return Err(mismatch("version", expected_version.to_string(), stored.version.to_string()));
    }
    let current = state.map(|s| &s.stage);
    if stored.from.as_ref() != current {
        let show = |s: Option<&StageKey>| s.map_or_else(|| "(entry)".to_owned(), |k| k.to_string());
        return Err(mismatch("from", show(current), show(stored.from.as_ref())));
    }
    Ok(())
}

/// The request a stored transition answered.
fn as_request(journey: &Journey, stored: &Transition) -> Result<Move, DomainError> {
    let target = if journey.is_system() {
        let status = EnrollmentStatus::from_key(stored.to.as_str()).ok_or_else(|| {
            DomainError::UnknownStage { journey: journey.id().clone(), stage: stored.to.to_string() }
        })?;
        Target::EnrollmentStatus(status)
    } else {
        Target::Stage(stored.to.clone())
    };
    Ok(Move {
        contact: stored.contact.clone(),
        target,
        occurred_at: stored.occurred_at,
        recorded_at: stored.recorded_at,
        source: stored.source.clone(),
        touchpoint: None,
        idempotency_key: None,
    })
}
