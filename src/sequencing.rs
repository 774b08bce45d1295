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
use crate::model::journey::{Journey, SequencePolicy};
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
/// 1. The Advocate Enrollment journey takes only [`Target::EnrollmentStatus`] with the
///    [`Source::enrollment_status`] source (`system_journey`), and only it takes that
///    target (`not_system_journey`).
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
    let position = current.map(|state| Position::of(journey, state)).transpose()?;
    decide_from(journey, position, current.map(|state| (&state.stage, state.version)), request)
}

/// Replays `history` (as [`replay`]) and decides `request` after it (as [`decide`]) in
/// one pass: what a host holding a membership's stored transitions calls to move it.
///
/// # Errors
/// [`DomainError::InvalidHistory`] for an illegal stored step, else as [`decide`].
pub fn decide_next(
    journey: &Journey,
    history: &[Transition],
    request: &Move,
) -> Result<Transition, DomainError> {
    let position = replay_position(journey, &request.contact, history)?;
    decide_from(journey, position, history.last().map(|last| (&last.to, last.version)), request)
}

/// [`decide`] from a checked position; `last` is the current stage and version.
fn decide_from(
    journey: &Journey,
    position: Option<Position>,
    last: Option<(&StageKey, u64)>,
    request: &Move,
) -> Result<Transition, DomainError> {
    let to = check_move(
        journey,
        position,
        &request.contact,
        &request.target,
        &request.source,
        request.occurred_at,
    )?;
    Ok(Transition {
        contact: request.contact.clone(),
        journey: journey.id().clone(),
        version: last.map_or(1, |(_, version)| version + 1),
        from: last.map(|(stage, _)| stage.clone()),
        to: stage_key(journey, to).clone(),
        occurred_at: request.occurred_at,
        recorded_at: request.recorded_at,
        source: request.source.clone(),
        touchpoint: request.touchpoint.clone(),
        idempotency_key: request.idempotency_key.clone(),
    })
}

/// Where a membership stands, by stage position: what the checks need, without
/// cloning ids on every replayed step.
#[derive(Clone, Copy)]
struct Position {
    stage: usize,
    since: DateTime<Utc>,
}

impl Position {
    fn of(journey: &Journey, state: &MembershipState) -> Result<Self, DomainError> {
        let stage = journey.stage_index(state.stage.as_str()).ok_or_else(|| DomainError::UnknownStage {
            journey: journey.id().clone(),
            stage: state.stage.to_string(),
        })?;
        Ok(Position { stage, since: state.since })
    }
}

/// The key of the stage at `index`, which the caller got from `journey` itself.
fn stage_key(journey: &Journey, index: usize) -> &StageKey {
    journey
        .stage_at(index)
        .map(|stage| stage.key())
        .unwrap_or_else(|| unreachable!("index from this journey"))
}

/// The rules of [`decide`]; returns the position of the target stage.
fn check_move(
    journey: &Journey,
    from: Option<Position>,
    contact: &ContactId,
    target: &Target,
    source: &Source,
    at: DateTime<Utc>,
) -> Result<usize, DomainError> {
    let to = resolve_target(journey, target, source)?;
    let Some(from) = from else {
        return match sequence_rule_broken(journey, None, to) {
            None => Ok(to),
            Some(rule) => Err(sequence_violation(journey, contact, None, to, rule)),
        };
    };
    if from.stage == to {
        return Err(DomainError::AlreadyInStage {
            journey: journey.id().clone(),
            contact: contact.clone(),
            stage: stage_key(journey, to).clone(),
        });
    }
    if at < from.since {
        return Err(DomainError::EarlierThanLastMove {
            journey: journey.id().clone(),
            contact: contact.clone(),
            at,
            last: from.since,
        });
    }
    match sequence_rule_broken(journey, Some(from.stage), to) {
        None => Ok(to),
        Some(rule) => Err(sequence_violation(journey, contact, Some(from.stage), to, rule)),
    }
}

fn sequence_violation(
    journey: &Journey,
    contact: &ContactId,
    from: Option<usize>,
    to: usize,
    rule: SequenceRule,
) -> DomainError {
    DomainError::SequenceViolation {
        journey: journey.id().clone(),
        contact: contact.clone(),
        from: from.map(|i| stage_key(journey, i).clone()),
        to: stage_key(journey, to).clone(),
        rule,
    }
}

/// The position of the stage `target` names in `journey`.
fn resolve_target(journey: &Journey, target: &Target, source: &Source) -> Result<usize, DomainError> {
    let key = match (journey.is_system(), target) {
        (false, Target::Stage(stage)) => stage.as_str(),
        (true, Target::EnrollmentStatus(status)) if source.is_enrollment_status() => status.as_str(),
        (true, _) => return Err(DomainError::SystemJourney { journey: journey.id().clone() }),
        (false, Target::EnrollmentStatus(_)) => {
            return Err(DomainError::NotSystemJourney { journey: journey.id().clone() });
        }
    };
    journey
        .stage_index(key)
        .ok_or_else(|| DomainError::UnknownStage { journey: journey.id().clone(), stage: key.to_owned() })
}

/// The sequencing rule a move from `from` (`None`: entry) to `to` breaks, if any.
fn sequence_rule_broken(journey: &Journey, from: Option<usize>, to: usize) -> Option<SequenceRule> {
    if journey.policy() == SequencePolicy::AnyOrder {
        return None;
    }
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

/// Rebuilds a membership from its stored history, re-checking every step with the
/// rules of [`decide`] (rule 10). Returns the state after the last transition (`None`
/// for an empty history).
///
/// # Errors
/// [`DomainError::InvalidHistory`] naming the first offending transition's version,
/// with the rule it breaks as `cause`.
pub fn replay(
    journey: &Journey,
    contact: &ContactId,
    history: &[Transition],
) -> Result<Option<MembershipState>, DomainError> {
    replay_position(journey, contact, history)?;
    Ok(history.last().map(MembershipState::after))
}

/// The checks of [`replay`]; returns the position after the last transition.
fn replay_position(
    journey: &Journey,
    contact: &ContactId,
    history: &[Transition],
) -> Result<Option<Position>, DomainError> {
    let mut position: Option<Position> = None;
    for (index, stored) in history.iter().enumerate() {
        let version = index as u64 + 1;
        let step = check_stored(journey, contact, position, version, stored).and_then(|()| {
            let target = stored_target(journey, stored)?;
            check_move(journey, position, contact, &target, &stored.source, stored.occurred_at)
        });
        let stage = step.map_err(|cause| DomainError::InvalidHistory {
            contact: contact.clone(),
            journey: journey.id().clone(),
            version: stored.version,
            cause: Box::new(cause),
        })?;
        position = Some(Position { stage, since: stored.occurred_at });
    }
    Ok(position)
}

/// Checks that `stored` continues the history: same contact and journey, the next
/// version, leaving the current stage.
fn check_stored(
    journey: &Journey,
    contact: &ContactId,
    position: Option<Position>,
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
    let current = position.map(|p| stage_key(journey, p.stage));
    if stored.from.as_ref() != current {
        let show = |s: Option<&StageKey>| s.map_or_else(|| "(entry)".to_owned(), |k| k.to_string());
        return Err(mismatch("from", show(current), show(stored.from.as_ref())));
    }
    Ok(())
}

/// The target a stored transition answered: its stage, or for the system journey
/// the status that stage mirrors.
fn stored_target(journey: &Journey, stored: &Transition) -> Result<Target, DomainError> {
    if !journey.is_system() {
        return Ok(Target::Stage(stored.to.clone()));
    }
    EnrollmentStatus::from_key(stored.to.as_str()).map(Target::EnrollmentStatus).ok_or_else(|| {
        DomainError::UnknownStage { journey: journey.id().clone(), stage: stored.to.to_string() }
    })
}
