//! Where contacts are: current stage counts, the reached funnel and stalled contacts.

use chrono::{DateTime, TimeDelta, Utc};

use super::contacts::{ContactRef, ContactSet};
use super::log::JourneyLog;
use super::{Scope, add_into, same_stages};
use crate::error::DomainError;
use crate::model::ids::StageKey;
use crate::model::journey::Journey;

/// Contacts per current stage, every stage listed (zeros included), in journey order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageCounts {
    /// The journey's stages in order.
    pub stages: Vec<StageKey>,
    /// `contacts[i]`: contacts whose current stage is `stages[i]`.
    pub contacts: Vec<u64>,
}

impl StageCounts {
    /// The count of stage `key`.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.stages.iter().position(|s| s == key).map(|i| self.contacts[i])
    }

    /// All contacts counted (each is in exactly one stage).
    pub fn total(&self) -> u64 {
        self.contacts.iter().sum()
    }

    /// Adds the counts of a disjoint set of contacts.
    ///
    /// # Errors
    /// [`DomainError::InvalidValue`] when `other` is about other stages.
    pub fn merge(&mut self, other: &StageCounts) -> Result<(), DomainError> {
        same_stages(&self.stages, &other.stages)?;
        add_into(&mut self.contacts, &other.contacts);
        Ok(())
    }
}

/// Distinct contacts that ever entered each stage (as of the scope's instant).
///
/// Funnel steps are the non-exit stages in order; exit stages are counted too but
/// have no conversion from a previous step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reach {
    /// The journey's stages in order.
    pub stages: Vec<StageKey>,
    /// Whether each stage is an exit (not a funnel step).
    pub exit: Vec<bool>,
    /// `reached[i]`: distinct contacts with a transition into `stages[i]`.
    pub reached: Vec<u64>,
}

/// One stage of a [`Reach`] as a dashboard row.
#[derive(Clone, Debug, PartialEq)]
pub struct ReachRow {
    /// The stage.
    pub stage: StageKey,
    /// Distinct contacts that entered it.
    pub contacts: u64,
    /// 100 × contacts / contacts of the previous funnel step: 100 for the first
    /// step, `None` for an exit stage or when the previous step has no contact.
    pub pct_from_prev: Option<f64>,
    /// 100 × contacts / contacts of the first funnel step (`None` when that is 0).
    pub pct_from_first: Option<f64>,
}

fn pct(n: u64, of: u64) -> Option<f64> {
    (of > 0).then(|| 100.0 * n as f64 / of as f64)
}

impl Reach {
    /// The rows in stage order, with conversions.
    pub fn rows(&self) -> Vec<ReachRow> {
        let first = self.exit.iter().position(|e| !e).map_or(0, |i| self.reached[i]);
        let mut prev: Option<u64> = None;
        let mut rows = Vec::with_capacity(self.stages.len());
        for ((stage, &exit), &n) in self.stages.iter().zip(&self.exit).zip(&self.reached) {
            let pct_from_prev = if exit {
                None
            } else {
                let p = match prev {
                    None => Some(100.0),
                    Some(p) => pct(n, p),
                };
                prev = Some(n);
                p
            };
            rows.push(ReachRow {
                stage: stage.clone(),
                contacts: n,
                pct_from_prev,
                pct_from_first: pct(n, first),
            });
        }
        rows
    }

    /// Adds the reach of a disjoint set of contacts.
    ///
    /// # Errors
    /// [`DomainError::InvalidValue`] when `other` is about other stages.
    pub fn merge(&mut self, other: &Reach) -> Result<(), DomainError> {
        same_stages(&self.stages, &other.stages)?;
        add_into(&mut self.reached, &other.reached);
        Ok(())
    }
}

/// How long a contact may stay in a stage before it counts as stalled: one
/// threshold for every stage, overridden per stage.
///
/// ```
/// use journeys::analytics::StallThresholds;
/// use chrono::TimeDelta;
/// let thresholds = StallThresholds::after(TimeDelta::days(14)).stage("trial", TimeDelta::days(30));
/// assert_eq!(thresholds.threshold_for("trial"), Some(TimeDelta::days(30)));
/// assert_eq!(thresholds.threshold_for("lead"), Some(TimeDelta::days(14)));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StallThresholds {
    global: Option<TimeDelta>,
    per_stage: Vec<(String, TimeDelta)>,
}

impl StallThresholds {
    /// The same threshold for every stage.
    pub fn after(threshold: TimeDelta) -> Self {
        StallThresholds { global: Some(threshold), per_stage: Vec::new() }
    }

    /// No global threshold: only stages given by [`stage`](Self::stage) stall.
    pub fn per_stage_only() -> Self {
        StallThresholds::default()
    }

    /// A threshold for stage `key`, in place of the global one.
    #[must_use]
    pub fn stage(mut self, key: &str, threshold: TimeDelta) -> Self {
        self.per_stage.retain(|(k, _)| k != key);
        self.per_stage.push((key.to_owned(), threshold));
        self
    }

    /// The threshold that applies to stage `key`.
    pub fn threshold_for(&self, key: &str) -> Option<TimeDelta> {
        self.per_stage.iter().find(|(k, _)| k == key).map(|(_, t)| *t).or(self.global)
    }

    /// Per stage of `journey`, the threshold in seconds, or `None` for a stage that
    /// never stalls (terminal, or no threshold).
    pub(crate) fn resolve(&self, journey: &Journey) -> Result<Vec<Option<i64>>, DomainError> {
        if let Some((key, _)) = self.per_stage.iter().find(|(k, _)| journey.stage(k).is_none()) {
            return Err(DomainError::UnknownStage { journey: journey.id().clone(), stage: key.clone() });
        }
        Ok(journey
            .stages()
            .enumerate()
            .map(|(i, stage)| {
                if is_terminal(journey, i) {
                    None
                } else {
                    self.threshold_for(stage.key().as_str()).map(|t| t.num_seconds())
                }
            })
            .collect())
    }
}

/// Whether the stage at `index` ends a contact's way through `journey` for analytics:
/// an exit, a stage with an outcome, or terminal under the journey's policy.
pub(crate) fn is_terminal(journey: &Journey, index: usize) -> bool {
    journey.is_terminal(index)
        || journey.stage_at(index).is_some_and(|s| s.is_exit() || s.outcome().is_some())
}

/// Stalled contacts per stage as of an instant (zeros included; terminal stages are
/// always 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StalledCounts {
    /// The journey's stages in order.
    pub stages: Vec<StageKey>,
    /// `contacts[i]`: stalled contacts whose current stage is `stages[i]`.
    pub contacts: Vec<u64>,
    /// The instant the stall was measured at.
    pub as_of: DateTime<Utc>,
}

impl StalledCounts {
    /// The count of stage `key`.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.stages.iter().position(|s| s == key).map(|i| self.contacts[i])
    }

    /// Adds the counts of a disjoint set of contacts measured at the same instant.
    ///
    /// # Errors
    /// [`DomainError::InvalidValue`] when `other` is about other stages or another
    /// instant.
    pub fn merge(&mut self, other: &StalledCounts) -> Result<(), DomainError> {
        same_stages(&self.stages, &other.stages)?;
        if self.as_of != other.as_of {
            return Err(DomainError::InvalidValue {
                field: "as_of",
                value: other.as_of.to_rfc3339(),
                reason: "stall counts measured at different instants cannot be merged",
            });
        }
        add_into(&mut self.contacts, &other.contacts);
        Ok(())
    }
}

/// A contact stalled in a stage.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StalledContact {
    /// The contact.
    pub contact: ContactRef,
    /// The index of its current stage in the journey.
    pub stage: usize,
    /// When it entered that stage.
    pub since: DateTime<Utc>,
}

impl JourneyLog {
    /// Contacts per current stage (see the [module](super) for "current").
    pub fn current_stage_counts(&self, scope: Scope<'_>) -> StageCounts {
        let mut contacts = vec![0u64; self.journey.stage_count()];
        for g in self.visible(scope) {
            contacts[usize::from(self.stage[g.end - 1])] += 1;
        }
        StageCounts { stages: self.stage_keys(), contacts }
    }

    /// Distinct contacts that ever entered each stage.
    pub fn reached(&self, scope: Scope<'_>) -> Reach {
        let n = self.journey.stage_count();
        let mut reached = vec![0u64; n];
        if n <= 64 {
            // One flat loop: a transition counts when its member has not entered its
            // stage before; the stages seen are forgotten where a group opens.
            for run in self.runs(scope) {
                let mut seen = 0u64;
                for (&s, &opens) in self.stage[run.clone()].iter().zip(&self.opens[run]) {
                    seen &= u64::from(opens).wrapping_sub(1);
                    let bit = 1u64 << s;
                    reached[usize::from(s)] += u64::from(seen & bit == 0);
                    seen |= bit;
                }
            }
        } else {
            let mut seen = vec![false; n];
            for g in self.visible(scope) {
                seen.fill(false);
                for &s in &self.stage[g.start..g.end] {
                    seen[usize::from(s)] = true;
                }
                add_into(&mut reached, &seen.iter().map(|&b| u64::from(b)).collect::<Vec<_>>());
            }
        }
        Reach {
            stages: self.stage_keys(),
            exit: self.journey.stages().map(|s| s.is_exit()).collect(),
            reached,
        }
    }

    /// Stalled contacts per stage as of `as_of`: current stage not terminal, and
    /// entered strictly more than the stage's threshold before `as_of`.
    ///
    /// # Errors
    /// [`DomainError::UnknownStage`] for a threshold naming a stage the journey lacks.
    pub fn stalled_counts(
        &self,
        thresholds: &StallThresholds,
        as_of: DateTime<Utc>,
        segment: Option<&ContactSet>,
    ) -> Result<StalledCounts, DomainError> {
        let mut contacts = vec![0u64; self.journey.stage_count()];
        self.for_each_current(thresholds, as_of, segment, |_, stage, _, stalled| {
            contacts[stage] += u64::from(stalled);
        })?;
        Ok(StalledCounts { stages: self.stage_keys(), contacts, as_of })
    }

    /// The stalled contacts themselves, in contact order (see
    /// [`stalled_counts`](Self::stalled_counts)).
    ///
    /// # Errors
    /// As [`stalled_counts`](Self::stalled_counts).
    pub fn stalled_contacts(
        &self,
        thresholds: &StallThresholds,
        as_of: DateTime<Utc>,
        segment: Option<&ContactSet>,
    ) -> Result<Vec<StalledContact>, DomainError> {
        let mut list = Vec::new();
        self.for_each_current(thresholds, as_of, segment, |contact, stage, since, stalled| {
            if stalled {
                list.push(StalledContact { contact, stage, since: self.instant(since) });
            }
        })?;
        Ok(list)
    }

    /// Calls `f(contact, stage, since, stalled)` for each member in the segment as
    /// of `as_of`: its current stage, since when, and whether it is stalled there
    /// (told without a branch, so that counting is one).
    fn for_each_current(
        &self,
        thresholds: &StallThresholds,
        as_of: DateTime<Utc>,
        segment: Option<&ContactSet>,
        mut f: impl FnMut(ContactRef, usize, i64, bool),
    ) -> Result<(), DomainError> {
        // Stages that never stall get a limit no stay exceeds.
        let limits: Vec<i64> =
            thresholds.resolve(&self.journey)?.into_iter().map(|l| l.unwrap_or(i64::MAX)).collect();
        let now = self.rel(as_of);
        let mut scope = Scope::all().as_of(as_of);
        scope.segment = segment;
        for g in self.visible(scope) {
            let last = g.end - 1;
            let stage = usize::from(self.stage[last]);
            let since = i64::from(self.at[last]);
            f(g.contact(self), stage, since, now - since > limits[stage]);
        }
        Ok(())
    }
}
