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

/// Where a member stands in a journey, with the current stage by its position there:
/// what sequencing needs to decide the next move. It is `Copy` and holds no ids, so a
/// loop that decides many moves keeps it without touching a reference count;
/// [`MembershipState`] says the same with the ids, for reading.
///
/// Made from a state by [`Standing::of`], which checks it against the journey, and
/// after each accepted move by [`Decision::standing`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Standing {
    stage: usize,
    version: u64,
    since: DateTime<Utc>,
}

impl Standing {
    /// Where `state` stands in `journey`.
    ///
    /// # Errors
    /// [`DomainError::UnknownStage`] if `journey` has no stage `state.stage`.
    #[inline]
    pub fn of(journey: &Journey, state: &MembershipState) -> Result<Self, DomainError> {
        let stage = journey.stage_index(state.stage.as_str()).ok_or_else(|| DomainError::UnknownStage {
            journey: journey.id().clone(),
            stage: state.stage.to_string(),
        })?;
        Ok(Standing { stage, version: state.version, since: state.since })
    }

    /// The position of the current stage in the journey (0 is the first stage).
    pub fn stage_index(self) -> usize {
        self.stage
    }

    /// The number of transitions so far; the next one gets `version + 1`.
    pub fn version(self) -> u64 {
        self.version
    }

    /// When the contact entered the current stage.
    pub fn since(self) -> DateTime<Utc> {
        self.since
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
/// [`decide_from`] decides the same from a [`Standing`] without building the
/// transition.
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
    let standing = current.map(|state| Standing::of(journey, state)).transpose()?;
    Ok(decide_from(journey, standing, request)?.to_transition())
}

/// Decides `request` as [`decide`] does, from where the contact `current`ly stands
/// (`None`: not a member yet), and returns the accepted move without building its
/// transition: the form for a loop that decides many moves, such as an import.
///
/// # Errors
/// As [`decide`]; [`DomainError::UnknownStage`] if `current` is a standing in another
/// journey, at a position `journey` does not have.
///
/// ```
/// use journeys::{decide_from, Journey, Move, SequencePolicy, Source, Stage};
/// let journey = Journey::new("referral", "Referral", SequencePolicy::RequiresSequence,
///     [Stage::new("lead", "Lead")?, Stage::new("demo", "Demo")?])?;
/// let at = "2026-01-05T13:04:11Z".parse().unwrap();
/// let who = Source::manual("ada".parse()?);
/// let entry = Move::to_stage("c1".parse()?, "lead".parse()?, at, who.clone());
/// let standing = decide_from(&journey, None, &entry)?.standing();
/// let demo = Move::to_stage("c1".parse()?, "demo".parse()?, at, who);
/// let decision = decide_from(&journey, Some(standing), &demo)?;
/// assert_eq!((decision.to().as_str(), decision.version()), ("demo", 2));
/// assert_eq!(decision.to_transition().from.unwrap(), "lead");
/// # Ok::<(), journeys::DomainError>(())
/// ```
#[inline]
pub fn decide_from<'a>(
    journey: &'a Journey,
    current: Option<Standing>,
    request: &'a Move,
) -> Result<Decision<'a>, DomainError> {
    if let Some(standing) = current {
        if journey.stage_at(standing.stage).is_none() {
            return Err(DomainError::UnknownStage {
                journey: journey.id().clone(),
                stage: format!("(position {})", standing.stage),
            });
        }
    }
    let to = resolve_target(journey, &request.target, &request.source)?;
    check_move(journey, current, &request.contact, to, request.occurred_at)?;
    Ok(Decision {
        journey,
        request,
        from: current.map(|standing| standing.stage),
        to,
        version: current.map_or(1, |standing| standing.version + 1),
    })
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
    let standing = replay_standing(journey, &request.contact, history)?;
    Ok(decide_from(journey, standing, request)?.to_transition())
}

/// [`decide_next`] for a history whose every step sequencing decided when it was
/// appended, as a repository vouched (`decided`): where the contact stands is read off
/// the last transition instead of replaying every step. A last transition that does
/// not fit the membership (another contact, journey or version, an unknown stage)
/// falls back to the replay, which names it.
#[inline]
pub(crate) fn decide_after<'a>(
    journey: &'a Journey,
    history: &[Transition],
    decided: bool,
    request: &'a Move,
) -> Result<Decision<'a>, DomainError> {
    let standing = match decided.then(|| standing_after_decided(journey, &request.contact, history)) {
        Some(Some(standing)) => Some(standing),
        _ => replay_standing(journey, &request.contact, history)?,
    };
    decide_from(journey, standing, request)
}

/// Where a membership stands after `history`, read off its last transition if that
/// fits the membership.
#[inline]
fn standing_after_decided(
    journey: &Journey,
    contact: &ContactId,
    history: &[Transition],
) -> Option<Standing> {
    let last = history.last()?;
    let fits =
        last.version == history.len() as u64 && last.contact == *contact && last.journey == *journey.id();
    let stage = journey.stage_index(last.to.as_str()).filter(|_| fits)?;
    Some(Standing { stage, version: last.version, since: last.occurred_at })
}

/// A move that sequencing accepted, borrowing the journey and the request it answers.
/// The [`Transition`] it makes — which owns its ids — is built only when asked for, by
/// [`to_transition`](Self::to_transition); [`standing`](Self::standing) says where the
/// contact stands after it at no cost.
#[must_use]
#[derive(Clone, Copy, Debug)]
pub struct Decision<'a> {
    journey: &'a Journey,
    request: &'a Move,
    from: Option<usize>,
    to: usize,
    version: u64,
}

impl<'a> Decision<'a> {
    /// Where the contact stands after the move.
    pub fn standing(&self) -> Standing {
        Standing { stage: self.to, version: self.version, since: self.request.occurred_at }
    }

    /// The membership's version after the move: 1 for the entry.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The stage left; `None` for the entry.
    #[inline]
    pub fn from(&self) -> Option<&'a StageKey> {
        self.from.map(|index| stage_key(self.journey, index))
    }

    /// The stage entered.
    #[inline]
    pub fn to(&self) -> &'a StageKey {
        stage_key(self.journey, self.to)
    }

    /// The transition to store.
    #[inline]
    pub fn to_transition(&self) -> Transition {
        let request = self.request;
        Transition {
            contact: request.contact.clone(),
            journey: self.journey.id().clone(),
            version: self.version,
            from: self.from().cloned(),
            to: self.to().clone(),
            occurred_at: request.occurred_at,
            recorded_at: request.recorded_at,
            source: request.source.clone(),
            touchpoint: request.touchpoint.clone().map(Box::new),
            idempotency_key: request.idempotency_key.clone(),
        }
    }
}

/// A [`Decision`] without its borrows, so the caller can give up the request it
/// answers to the transition: [`into_transition`](Self::into_transition) moves the
/// request's ids instead of cloning them (each clone and drop of an id is an atomic
/// reference-count update).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Decided {
    from: Option<usize>,
    to: usize,
    version: u64,
}

impl Decision<'_> {
    /// The decision without its borrows.
    pub(crate) fn decided(&self) -> Decided {
        Decided { from: self.from, to: self.to, version: self.version }
    }
}

impl Decided {
    /// The transition [`Decision::to_transition`] builds, taking the ids `request`
    /// owns: `request` is the one decided on in `journey`.
    #[inline]
    pub(crate) fn into_transition(self, journey: &Journey, request: Move) -> Transition {
        let to = match request.target {
            // The target resolved to this stage by its key, so the key is the same.
            Target::Stage(key) => key,
            Target::EnrollmentStatus(_) => stage_key(journey, self.to).clone(),
        };
        Transition {
            contact: request.contact,
            journey: journey.id().clone(),
            version: self.version,
            from: self.from.map(|index| stage_key(journey, index).clone()),
            to,
            occurred_at: request.occurred_at,
            recorded_at: request.recorded_at,
            source: request.source,
            touchpoint: request.touchpoint.map(Box::new),
            idempotency_key: request.idempotency_key,
        }
    }
}

/// The key of the stage at `index`, which the caller got from `journey` itself.
#[inline]
fn stage_key(journey: &Journey, index: usize) -> &StageKey {
    journey
        .stage_at(index)
        .map(|stage| stage.key())
        .unwrap_or_else(|| unreachable!("index from this journey"))
}

/// The rules of [`decide`] after the first two, for a move into the stage at `to`.
#[inline]
fn check_move(
    journey: &Journey,
    from: Option<Standing>,
    contact: &ContactId,
    to: usize,
    at: DateTime<Utc>,
) -> Result<(), DomainError> {
    let Some(from) = from else {
        return match sequence_rule_broken(journey, None, to) {
            None => Ok(()),
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
        None => Ok(()),
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
#[inline]
fn resolve_target(journey: &Journey, target: &Target, source: &Source) -> Result<usize, DomainError> {
    let key = match (journey.is_system(), target) {
        (false, Target::Stage(stage)) => stage.as_str(),
        (true, Target::EnrollmentStatus(status)) if source.is_enrollment_status() => status.as_str(),
        (true, _) => return Err(DomainError::SystemJourney { journey: journey.id().clone() }),
        (false, Target::EnrollmentStatus(_)) => {
            return Err(DomainError::NotSystemJourney { journey: journey.id().clone() });
        }
    };
    stage_position(journey, key)
}

/// The position of the stage with key `key` in `journey`.
#[inline]
fn stage_position(journey: &Journey, key: &str) -> Result<usize, DomainError> {
    journey
        .stage_index(key)
        .ok_or_else(|| DomainError::UnknownStage { journey: journey.id().clone(), stage: key.to_owned() })
}

/// The sequencing rule a move from `from` (`None`: entry) to `to` breaks, if any.
#[inline]
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
    replay_standing(journey, contact, history)?;
    Ok(history.last().map(MembershipState::after))
}

/// The checks of [`replay`]; returns where the membership stands after the last
/// transition.
pub(crate) fn replay_standing(
    journey: &Journey,
    contact: &ContactId,
    history: &[Transition],
) -> Result<Option<Standing>, DomainError> {
    let mut position: Option<Standing> = None;
    for (index, stored) in history.iter().enumerate() {
        let version = index as u64 + 1;
        let step = check_stored(journey, contact, position, version, stored).and_then(|()| {
            let to = stored_target(journey, stored)?;
            check_move(journey, position, contact, to, stored.occurred_at).map(|()| to)
        });
        let stage = step.map_err(|cause| DomainError::InvalidHistory {
            contact: contact.clone(),
            journey: journey.id().clone(),
            version: stored.version,
            cause: Box::new(cause),
        })?;
        position = Some(Standing { stage, version, since: stored.occurred_at });
    }
    Ok(position)
}

/// Checks that `stored` continues the history: same contact and journey, the next
/// version, leaving the current stage.
fn check_stored(
    journey: &Journey,
    contact: &ContactId,
    position: Option<Standing>,
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

/// The position of the stage a stored transition entered, resolved as the target it
/// answered: its stage, or for the system journey the status that stage mirrors.
fn stored_target(journey: &Journey, stored: &Transition) -> Result<usize, DomainError> {
    if !journey.is_system() {
        return stage_position(journey, stored.to.as_str());
    }
    let status = EnrollmentStatus::from_key(stored.to.as_str()).ok_or_else(|| DomainError::UnknownStage {
        journey: journey.id().clone(),
        stage: stored.to.to_string(),
    })?;
    resolve_target(journey, &Target::EnrollmentStatus(status), &stored.source)
}
