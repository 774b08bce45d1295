//! An index kept up to date per appended transition, for what a dashboard polls.

use std::fmt;

use chrono::{DateTime, Utc};

use super::contacts::{ContactRef, ContactTable};
use super::stage_index;
use super::stages::{StageCounts, StallThresholds, StalledContact, StalledCounts};
use crate::error::DomainError;
use crate::model::ids::StageKey;
use crate::model::journey::Journey;
use crate::model::transition::Transition;

const NIL: u32 = u32::MAX;

/// Current stage counts and stalled contacts of one journey, maintained per appended
/// transition: an append costs a hash lookup and a few array writes (O(1) when
/// transitions come in time order), and neither answer rescans the history.
///
/// Each stage keeps its contacts in a list ordered by when they entered, so the
/// stalled contacts of a stage are a prefix of its list.
///
/// ```
/// use journeys::analytics::{LiveIndex, StallThresholds};
/// use journeys::{decide, Journey, Move, SequencePolicy, Source, Stage};
/// use chrono::TimeDelta;
/// let journey = Journey::new("referral", "Referral", SequencePolicy::RequiresSequence,
///     [Stage::new("lead", "Lead")?, Stage::new("trial", "Trial")?])?;
/// let mut index = LiveIndex::new(journey.clone());
/// let at = "2026-01-05T13:04:11Z".parse().unwrap();
/// let entry = decide(&journey, None,
///     &Move::to_stage("c1".parse()?, "lead".parse()?, at, Source::manual("ada".parse()?)))?;
/// index.append(&entry)?;
/// assert_eq!(index.current_stage_counts().get("lead"), Some(1));
/// let stalled = index.stalled_counts(&StallThresholds::after(TimeDelta::days(14)), at + TimeDelta::days(15))?;
/// assert_eq!(stalled.get("lead"), Some(1));
/// # Ok::<(), journeys::DomainError>(())
/// ```
#[derive(Clone)]
pub struct LiveIndex {
    journey: Journey,
    stages: Vec<StageKey>,
    contacts: ContactTable,
    /// Per contact: its stage index.
    stage: Vec<u32>,
    /// Per contact: when it entered its stage (Unix seconds).
    since: Vec<i64>,
    counts: Vec<u64>,
    /// Per stage: the first and last contact of its list.
    head: Vec<u32>,
    tail: Vec<u32>,
    /// Per contact: its neighbours in its stage's list.
    prev: Vec<u32>,
    next: Vec<u32>,
}

impl fmt::Debug for LiveIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveIndex")
            .field("journey", self.journey.id())
            .field("contacts", &self.contacts.len())
            .field("counts", &self.counts)
            .finish()
    }
}

impl LiveIndex {
    /// An empty index for `journey`.
    pub fn new(journey: Journey) -> Self {
        let n = journey.stage_count();
        LiveIndex {
            stages: journey.stages().map(|s| s.key().clone()).collect(),
            journey,
            contacts: ContactTable::default(),
            stage: Vec::new(),
            since: Vec::new(),
            counts: vec![0; n],
            head: vec![NIL; n],
            tail: vec![NIL; n],
            prev: Vec::new(),
            next: Vec::new(),
        }
    }

    /// The contacts seen, whose refs the stalled lists use.
    pub fn contacts(&self) -> &ContactTable {
        &self.contacts
    }

    /// Applies the next transition of one of the journey's memberships.
    ///
    /// # Errors
    /// [`DomainError::HistoryMismatch`] for a transition of another journey or whose
    /// `from` is not the contact's current stage, [`DomainError::EarlierThanLastMove`]
    /// for one dated before the contact's last, [`DomainError::UnknownStage`],
    /// [`DomainError::InvalidId`]. A refused transition changes nothing.
    pub fn append(&mut self, t: &Transition) -> Result<(), DomainError> {
        if t.journey != *self.journey.id() {
            return Err(DomainError::HistoryMismatch {
                field: "journey",
                expected: self.journey.id().to_string(),
                actual: t.journey.to_string(),
            });
        }
        let to = stage_index(&self.journey, t.to.as_str())? as u32;
        let at = t.occurred_at.timestamp();
        let known = self.contacts.get(t.contact.as_str());
        let current = known.map(|c| self.stage[c.index()]).filter(|&s| s != NIL);
        let current_key = current.map(|s| &self.stages[s as usize]);
        if current_key != t.from.as_ref() {
            return Err(DomainError::HistoryMismatch {
                field: "from",
                expected: current_key.map_or("(none)".to_owned(), StageKey::to_string),
                actual: t.from.as_ref().map_or("(none)".to_owned(), StageKey::to_string),
            });
        }
        if let Some(c) = known.filter(|_| current.is_some()) {
            let last = self.since[c.index()];
            if at < last {
                return Err(DomainError::EarlierThanLastMove {
                    journey: self.journey.id().clone(),
                    contact: t.contact.clone(),
                    at: t.occurred_at,
                    last: DateTime::from_timestamp(last, 0).unwrap_or_default(),
                });
            }
        }
        let c = match known {
            Some(c) => c,
            None => {
                let c = self.contacts.intern(t.contact.as_str())?;
                self.stage.push(NIL);
                self.since.push(at);
                self.prev.push(NIL);
                self.next.push(NIL);
                c
            }
        };
        if let Some(old) = current {
            self.unlink(c.0, old as usize);
            self.counts[old as usize] -= 1;
        }
        self.stage[c.index()] = to;
        self.since[c.index()] = at;
        self.counts[to as usize] += 1;
        self.link(c.0, to as usize, at);
        Ok(())
    }

    fn unlink(&mut self, c: u32, stage: usize) {
        let (p, n) = (self.prev[c as usize], self.next[c as usize]);
        if p == NIL {
            self.head[stage] = n
        } else {
            self.next[p as usize] = n
        }
        if n == NIL { self.tail[stage] = p } else { self.prev[n as usize] = p }
    }

    /// Inserts `c` in `stage`'s list after the last contact that entered no later.
    fn link(&mut self, c: u32, stage: usize, at: i64) {
        let mut after = self.tail[stage];
        while after != NIL && self.since[after as usize] > at {
            after = self.prev[after as usize];
        }
        let before = if after == NIL { self.head[stage] } else { self.next[after as usize] };
        self.prev[c as usize] = after;
        self.next[c as usize] = before;
        if after == NIL {
            self.head[stage] = c
        } else {
            self.next[after as usize] = c
        }
        if before == NIL { self.tail[stage] = c } else { self.prev[before as usize] = c }
    }

    /// Contacts per current stage.
    pub fn current_stage_counts(&self) -> StageCounts {
        StageCounts { stages: self.stages.clone(), contacts: self.counts.clone() }
    }

    /// The contacts stalled at `as_of` (as
    /// [`JourneyLog::stalled_contacts`](super::JourneyLog::stalled_contacts), for the
    /// transitions appended so far), by stage and then by when they entered it.
    ///
    /// # Errors
    /// [`DomainError::UnknownStage`] for a threshold naming a stage the journey lacks.
    pub fn stalled_contacts(
        &self,
        thresholds: &StallThresholds,
        as_of: DateTime<Utc>,
    ) -> Result<Vec<StalledContact>, DomainError> {
        let mut list = Vec::new();
        self.walk_stalled(thresholds, as_of, |contact, stage, since| {
            list.push(StalledContact {
                contact,
                stage,
                since: DateTime::from_timestamp(since, 0).unwrap_or_default(),
            });
        })?;
        Ok(list)
    }

    /// Stalled contacts per stage at `as_of`.
    ///
    /// # Errors
    /// As [`stalled_contacts`](Self::stalled_contacts).
    pub fn stalled_counts(
        &self,
        thresholds: &StallThresholds,
        as_of: DateTime<Utc>,
    ) -> Result<StalledCounts, DomainError> {
        let mut contacts = vec![0u64; self.stages.len()];
        self.walk_stalled(thresholds, as_of, |_, stage, _| contacts[stage] += 1)?;
        Ok(StalledCounts { stages: self.stages.clone(), contacts, as_of })
    }

    fn walk_stalled(
        &self,
        thresholds: &StallThresholds,
        as_of: DateTime<Utc>,
        mut f: impl FnMut(ContactRef, usize, i64),
    ) -> Result<(), DomainError> {
        let now = as_of.timestamp();
        for (stage, limit) in thresholds.resolve(&self.journey)?.into_iter().enumerate() {
            let Some(limit) = limit else { continue };
            let mut c = self.head[stage];
            while c != NIL && now - self.since[c as usize] > limit {
                f(ContactRef(c), stage, self.since[c as usize]);
                c = self.next[c as usize];
            }
        }
        Ok(())
    }
}
