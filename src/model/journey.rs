//! Journeys and their stages.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::contact::EnrollmentStatus;
use super::ids::{JourneyId, Name, StageKey};
use crate::error::DomainError;

/// Whether contacts must walk a journey's stages in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SequencePolicy {
    /// Enter at the first stage, advance exactly one stage at a time, never move back;
    /// exit stages are reachable from anywhere; nothing follows an exit or the last
    /// stage.
    RequiresSequence,
    /// Any stage at any time, back and forth.
    AnyOrder,
}

/// Whether a journey is the host's own or the system journey.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JourneyKind {
    /// Defined by the host.
    Custom,
    /// The system journey that mirrors a contact's [`EnrollmentStatus`]; built by
    /// [`Journey::advocate_enrollment`] and moved only by a status change.
    AdvocateEnrollment,
}

/// What reaching a stage means for analytics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageOutcome {
    /// The contact converted (e.g. made a purchase).
    Converted,
    /// The contact was lost.
    Lost,
}

/// One step of a journey.
///
/// ```
/// use journeys::{Stage, StageOutcome};
/// let lost = Stage::new("closed_lost", "Closed/Lost")?.exit().with_outcome(StageOutcome::Lost);
/// assert!(lost.is_exit());
/// # Ok::<(), journeys::DomainError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    key: StageKey,
    name: Name,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    exit: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<StageOutcome>,
}

impl Stage {
    /// A stage with a key (a slug) and a display name.
    ///
    /// # Errors
    /// [`DomainError::InvalidId`] naming the key or name that is not valid.
    pub fn new(key: &str, name: &str) -> Result<Self, DomainError> {
        Ok(Stage { key: StageKey::new(key)?, name: Name::new(name)?, exit: false, outcome: None })
    }

    /// Marks the stage as an exit: reachable from any stage even in a sequenced
    /// journey, and terminal there.
    #[must_use]
    pub fn exit(mut self) -> Self {
        self.exit = true;
        self
    }

    /// Sets what reaching the stage means for analytics.
    #[must_use]
    pub fn with_outcome(mut self, outcome: StageOutcome) -> Self {
        self.outcome = Some(outcome);
        self
    }

    /// The stage's key.
    pub fn key(&self) -> &StageKey {
        &self.key
    }

    /// The stage's display name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// Whether the stage is an exit.
    pub fn is_exit(&self) -> bool {
        self.exit
    }

    /// What reaching the stage means, if anything.
    pub fn outcome(&self) -> Option<StageOutcome> {
        self.outcome
    }
}

/// A named, ordered list of stages with a sequence policy.
///
/// Always valid: at least one stage, unique stage keys, and a system journey is
/// exactly the one [`Journey::advocate_enrollment`] builds. Deserializing checks the
/// same.
///
/// ```
/// use journeys::{Journey, SequencePolicy, Stage};
/// let referral = Journey::new(
///     "referral",
///     "Referral",
///     SequencePolicy::RequiresSequence,
///     [Stage::new("lead", "Lead")?, Stage::new("trial", "Trial")?],
/// )?;
/// assert_eq!(referral.first_stage().key(), "lead");
/// let dup = Journey::new("x", "X", SequencePolicy::AnyOrder,
///     [Stage::new("a", "A")?, Stage::new("a", "Again")?]);
/// assert_eq!(dup.unwrap_err().code(), "duplicate_stage");
/// # Ok::<(), journeys::DomainError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "JourneyDefinition", into = "JourneyDefinition")]
pub struct Journey {
    id: JourneyId,
    name: Name,
    kind: JourneyKind,
    policy: SequencePolicy,
    stages: IndexMap<StageKey, Stage>,
}

/// The serialized form of a [`Journey`], validated on the way in.
#[derive(Serialize, Deserialize)]
struct JourneyDefinition {
    id: JourneyId,
    name: Name,
    #[serde(default = "custom")]
    kind: JourneyKind,
    policy: SequencePolicy,
    stages: Vec<Stage>,
}

fn custom() -> JourneyKind {
    JourneyKind::Custom
}

impl TryFrom<JourneyDefinition> for Journey {
    type Error = DomainError;
    fn try_from(def: JourneyDefinition) -> Result<Self, DomainError> {
        let journey = Journey::build(def.id, def.name, def.kind, def.policy, def.stages)?;
        if journey.kind == JourneyKind::AdvocateEnrollment && journey != Journey::advocate_enrollment() {
            return Err(DomainError::InvalidSystemJourney { journey: journey.id });
        }
        Ok(journey)
    }
}

impl From<Journey> for JourneyDefinition {
    fn from(j: Journey) -> Self {
        JourneyDefinition {
            id: j.id,
            name: j.name,
            kind: j.kind,
            policy: j.policy,
            stages: j.stages.into_values().collect(),
        }
    }
}

/// Up to this many stages, a stage is looked up by scanning the keys.
const LINEAR_LOOKUP_MAX: usize = 16;

/// The id of the system journey.
pub const ADVOCATE_ENROLLMENT: &str = "advocate_enrollment";

impl Journey {
    /// A custom journey.
    ///
    /// # Errors
    /// [`DomainError::InvalidId`] for a bad id or name, [`DomainError::EmptyJourney`]
    /// with no stages, [`DomainError::DuplicateStage`] naming a repeated key, and
    /// [`DomainError::InvalidSystemJourney`] for the reserved id
    /// `advocate_enrollment`.
    pub fn new(
        id: &str,
        name: &str,
        policy: SequencePolicy,
        stages: impl IntoIterator<Item = Stage>,
    ) -> Result<Self, DomainError> {
        let id = JourneyId::new(id)?;
        if id == ADVOCATE_ENROLLMENT {
            return Err(DomainError::InvalidSystemJourney { journey: id });
        }
        Journey::build(id, Name::new(name)?, JourneyKind::Custom, policy, stages)
    }

    fn build(
        id: JourneyId,
        name: Name,
        kind: JourneyKind,
        policy: SequencePolicy,
        stages: impl IntoIterator<Item = Stage>,
    ) -> Result<Self, DomainError> {
        if kind == JourneyKind::Custom && id == ADVOCATE_ENROLLMENT {
            return Err(DomainError::InvalidSystemJourney { journey: id });
        }
        let mut by_key = IndexMap::new();
        for stage in stages {
            if by_key.contains_key(&stage.key) {
                return Err(DomainError::DuplicateStage { journey: id, stage: stage.key });
            }
            by_key.insert(stage.key.clone(), stage);
        }
        if by_key.is_empty() {
            return Err(DomainError::EmptyJourney { journey: id });
        }
        Ok(Journey { id, name, kind, policy, stages: by_key })
    }

    /// The system journey *Advocate Enrollment*: one stage per [`EnrollmentStatus`],
    /// any order, moved only by changing a contact's status.
    pub fn advocate_enrollment() -> Self {
        let stages = EnrollmentStatus::ALL.into_iter().map(|status| Stage {
            key: status_stage_key(status),
            name: status_stage_name(status),
            exit: false,
            outcome: None,
        });
        Journey {
            id: system_id(),
            name: system_name(),
            kind: JourneyKind::AdvocateEnrollment,
            policy: SequencePolicy::AnyOrder,
            stages: stages.map(|s| (s.key.clone(), s)).collect(),
        }
    }

    /// The journey's id.
    pub fn id(&self) -> &JourneyId {
        &self.id
    }

    /// The journey's display name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// Custom or system.
    pub fn kind(&self) -> JourneyKind {
        self.kind
    }

    /// Whether this is the Advocate Enrollment system journey.
    pub fn is_system(&self) -> bool {
        self.kind == JourneyKind::AdvocateEnrollment
    }

    /// The sequence policy.
    pub fn policy(&self) -> SequencePolicy {
        self.policy
    }

    /// The stages in order.
    pub fn stages(&self) -> impl ExactSizeIterator<Item = &Stage> + '_ {
        self.stages.values()
    }

    /// How many stages there are.
    pub fn stage_count(&self) -> usize {
        self.stages.len()
    }

    /// The stage with key `key`.
    pub fn stage(&self, key: &str) -> Option<&Stage> {
        self.stages.get(key)
    }

    /// The stage at position `index` (0 is the first stage).
    #[inline]
    pub fn stage_at(&self, index: usize) -> Option<&Stage> {
        self.stages.get_index(index).map(|(_, s)| s)
    }

    /// The position of the stage with key `key`.
    #[inline]
    pub fn stage_index(&self, key: &str) -> Option<usize> {
        // Journeys are short: comparing a few short keys beats hashing one. One pass:
        // a key of another length is passed over without reading its text, and a key
        // cloned from this journey (as every transition's is) matches by address.
        if self.stages.len() <= LINEAR_LOOKUP_MAX {
            self.stages
                .keys()
                .map(StageKey::as_str)
                .position(|k| k.len() == key.len() && (std::ptr::eq(k.as_ptr(), key.as_ptr()) || k == key))
        } else {
            self.stages.get_index_of(key)
        }
    }

    /// The first stage, where a sequenced journey is entered.
    pub fn first_stage(&self) -> &Stage {
        // A journey always has a stage: construction and deserialization refuse
        // an empty one.
        &self.stages[0]
    }

    /// The stage a sequenced journey advances to from the stage at `index`: the next
    /// stage in order that is not an exit. `None` after the last such stage.
    #[inline]
    pub fn next_stage_index(&self, index: usize) -> Option<usize> {
        (index + 1..self.stages.len()).find(|&i| !self.stages[i].exit)
    }

    /// Whether nothing may follow the stage at `index` under this journey's policy:
    /// in a sequenced journey an exit, or a stage with no later non-exit stage (the
    /// last step); in an any-order journey no stage is terminal.
    #[inline]
    pub fn is_terminal(&self, index: usize) -> bool {
        match self.policy {
            SequencePolicy::AnyOrder => false,
            SequencePolicy::RequiresSequence => {
                self.stage_at(index).is_none_or(Stage::is_exit) || self.next_stage_index(index).is_none()
            }
        }
    }
}

/// The stage of the system journey that mirrors `status`.
fn status_stage_key(status: EnrollmentStatus) -> StageKey {
    // The statuses' keys are fixed slugs, valid by construction.
    StageKey::new(status.as_str()).unwrap_or_else(|_| unreachable!("status keys are slugs"))
}

fn status_stage_name(status: EnrollmentStatus) -> Name {
    let key = status.as_str();
    let mut name = key[..1].to_ascii_uppercase();
    name.push_str(&key[1..]);
    Name::new(name).unwrap_or_else(|_| unreachable!("status names are printable"))
}

fn system_id() -> JourneyId {
    JourneyId::new(ADVOCATE_ENROLLMENT).unwrap_or_else(|_| unreachable!("the system id is a slug"))
}

fn system_name() -> Name {
    Name::new("Advocate Enrollment").unwrap_or_else(|_| unreachable!("the system name is printable"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn referral() -> Journey {
        Journey::new(
            "referral",
            "Referral",
            SequencePolicy::RequiresSequence,
            [
                Stage::new("lead", "Lead").unwrap(),
                Stage::new("trial", "Trial").unwrap(),
                Stage::new("closed_lost", "Closed/Lost").unwrap().exit(),
            ],
        )
        .unwrap()
    }

    #[test]
    fn journeys_round_trip_through_json_keeping_stage_order() {
        let j = referral();
        let json = serde_json::to_string(&j).unwrap();
        let back: Journey = serde_json::from_str(&json).unwrap();
        assert_eq!(back, j);
        let keys: Vec<_> = back.stages().map(|s| s.key().as_str()).collect();
        assert_eq!(keys, ["lead", "trial", "closed_lost"]);
    }

    #[test]
    fn deserializing_an_invalid_journey_names_the_problem() {
        let empty = r#"{"id":"x","name":"X","policy":"any_order","stages":[]}"#;
        let err = serde_json::from_str::<Journey>(empty).unwrap_err();
        assert!(err.to_string().contains("has no stages"), "{err}");
        let dup = r#"{"id":"x","name":"X","policy":"any_order",
            "stages":[{"key":"a","name":"A"},{"key":"a","name":"B"}]}"#;
        let err = serde_json::from_str::<Journey>(dup).unwrap_err();
        assert!(err.to_string().contains("\"a\""), "{err}");
    }

    #[test]
    fn the_system_journey_cannot_be_forged() {
        assert_eq!(
            Journey::new(
                ADVOCATE_ENROLLMENT,
                "Mine",
                SequencePolicy::AnyOrder,
                [Stage::new("a", "A").unwrap()]
            )
            .unwrap_err()
            .code(),
            "invalid_system_journey"
        );
        let forged = r#"{"id":"advocate_enrollment","name":"Advocate Enrollment",
            "kind":"advocate_enrollment","policy":"any_order","stages":[{"key":"enrolled","name":"Enrolled"}]}"#;
        assert!(serde_json::from_str::<Journey>(forged).is_err());
        let real = serde_json::to_string(&Journey::advocate_enrollment()).unwrap();
        assert_eq!(serde_json::from_str::<Journey>(&real).unwrap(), Journey::advocate_enrollment());
    }

    #[test]
    fn terminal_stages_follow_the_policy() {
        let j = referral();
        assert!(!j.is_terminal(0));
        assert!(j.is_terminal(1), "the last step before the exit is terminal");
        assert!(j.is_terminal(2), "exit is terminal");
        assert_eq!(j.next_stage_index(0), Some(1));
        assert_eq!(j.next_stage_index(1), None);
        assert!(!Journey::advocate_enrollment().is_terminal(5));
    }
}
