//! The state of one import batch: every membership the file touches, loaded once and
//! moved row by row through [`decide`], with the transitions waiting to be committed.
//!
//! Pure: the engine loads what a row needs from the repository and hands it in.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use foldhash::fast::RandomState;

use super::error::ImportError;
use super::format::Row;
use crate::error::DomainError;
use crate::id_index::IdIndex;
use crate::model::ids::{BatchId, ContactId, StageKey};
use crate::model::journey::Journey;
use crate::model::transition::{Source, Transition};
use crate::repository::Append;
use crate::sequencing::{Move, Standing, Target, decide_from, replay_standing};
use crate::warm::{WARM_GROUP, warm_ids};

/// At most this many journey ids written in a file are remembered.
const MAX_JOURNEY_NAMES: usize = 64;

/// Whether a contact is stored, as far as the batch knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Existence {
    /// Not yet asked.
    Unknown,
    /// Stored, or a member of some journey.
    Stored,
    /// Not stored; created with the commit of its first applied row.
    Absent,
    /// Not stored, and created by this batch.
    Created,
    /// Not stored, and the import refuses unknown contacts.
    Missing,
}

/// No membership: the end of a contact's chain.
const NONE: u32 = u32::MAX;

/// A contact's entry: whether it exists and its memberships in the batch.
#[derive(Debug)]
struct ContactSlot {
    id: ContactId,
    existence: Existence,
    /// The contact's last membership added ([`NONE`]: none); each links to the one
    /// before. A contact is in a few journeys: a chain costs no allocation per contact.
    memberships: u32,
}

/// One membership as the batch has moved it.
#[derive(Debug)]
struct Membership {
    slot: u32,
    journey: u32,
    /// The contact's membership added before this one ([`NONE`]: none).
    next: u32,
    /// Where it stands as the batch moved it; `None`: not a member yet.
    state: Option<Standing>,
    /// The version stored in the repository.
    committed: u64,
    /// Where its decided, not yet committed transitions are in `touched` ([`NONE`]:
    /// there are none).
    pending: u32,
}

/// A membership with decided transitions not yet committed.
#[derive(Debug)]
struct Touched {
    membership: u32,
    /// How many of its transitions are staged.
    staged: u32,
    /// Its transitions grouped so far, in row order.
    transitions: Vec<Transition>,
}

/// What became of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Decided: a transition is pending.
    Decided,
    /// Stored by an earlier run of the same batch.
    AlreadyStored,
}

/// The batch's state.
#[derive(Debug)]
pub(crate) struct Batch {
    batch: BatchId,
    /// When the import runs: `recorded_at` of every transition, and `at` of rows
    /// without one.
    now: DateTime<Utc>,
    journeys: Vec<Arc<Journey>>,
    /// Journey ids as written in the file → index in `journeys` (`None`: unknown).
    journey_names: Vec<(Box<str>, Option<u32>)>,
    /// The contacts' slots by id.
    contacts: IdIndex,
    slots: Vec<ContactSlot>,
    memberships: Vec<Membership>,
    /// Memberships with pending transitions, in the order first touched, with them.
    /// Kept beside the memberships, which are many and mostly idle, so that each of
    /// them stays small.
    touched: Vec<Touched>,
    /// Decided transitions in row order, each with its membership, until they are
    /// grouped by membership: then each membership's vector is allocated once, at its
    /// size, and the repository may keep it as the history.
    staged: Vec<(u32, Transition)>,
    /// Transitions staged at most before they are grouped.
    stage_rows: usize,
    /// By membership, the lines of this batch its stored history already holds: a
    /// re-run of an interrupted import counts them as applied and appends them again
    /// never. Empty but on a re-run.
    stored_lines: HashMap<u32, Vec<u64>, RandomState>,
    /// Contacts created since the last commit.
    created: Vec<u32>,
    pending_rows: usize,
}

/// Where a row's membership is, or what must be loaded first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The membership is in the batch.
    Found(u32),
    /// The journey id was not resolved yet.
    NewJourney,
    /// The journey is not defined.
    UnknownJourney,
    /// The membership's history must be loaded (the contact's slot, if known).
    NewMembership(u32, Option<u32>),
}

impl Batch {
    /// A batch that groups its decided transitions by membership every `stage_rows`
    /// rows (a best-effort import commits them then).
    pub(crate) fn new(batch: BatchId, now: DateTime<Utc>, stage_rows: usize) -> Self {
        Batch {
            batch,
            now,
            journeys: Vec::new(),
            journey_names: Vec::new(),
            contacts: IdIndex::default(),
            slots: Vec::new(),
            memberships: Vec::new(),
            touched: Vec::new(),
            staged: Vec::new(),
            stage_rows: stage_rows.max(1),
            stored_lines: HashMap::default(),
            created: Vec::new(),
            pending_rows: 0,
        }
    }

    /// When the import runs.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// How many rows have transitions waiting to be committed.
    pub(crate) fn pending_rows(&self) -> usize {
        self.pending_rows
    }

    /// Records what a journey id written in the file resolves to. Names that resolve
    /// to nothing are remembered up to a bound, so a file of many made-up journey ids
    /// costs a lookup per row rather than a scan of every name seen.
    pub(crate) fn add_journey(&mut self, name: &str, journey: Option<Arc<Journey>>) {
        let index = match journey {
            Some(journey) => {
                self.journeys.push(journey);
                Some((self.journeys.len() - 1) as u32)
            }
            None if self.journey_names.len() >= MAX_JOURNEY_NAMES => return,
            None => None,
        };
        self.journey_names.push((name.into(), index));
    }

    /// Finds the membership a row moves.
    pub(crate) fn lookup(&self, row: &Row<'_>) -> Lookup {
        let Some(journey) = self.journey_named(row.journey.as_bytes()) else {
            return Lookup::NewJourney;
        };
        let Some(journey) = journey else {
            return Lookup::UnknownJourney;
        };
        let Some(slot) = self.slot_of(row.contact.as_bytes()) else {
            return Lookup::NewMembership(journey, None);
        };
        match self.membership_of(slot, journey) {
            Some(index) => Lookup::Found(index),
            None => Lookup::NewMembership(journey, Some(slot)),
        }
    }

    /// Reads, and only reads, what deciding a row of `contact` in `journey` reads from
    /// memory: the contact's place in the index, its slot, its memberships and its id.
    /// An import warms a group of rows before it decides them, so that the reads of
    /// different rows wait for memory together rather than each behind the row
    /// before it (each row's own reads depend on one another).
    pub(crate) fn warm(&self, contact: &[u8], journey: &[u8]) {
        let Some(Some(journey)) = self.journey_named(journey) else {
            return;
        };
        if let Some(slot) = self.slot_of(contact) {
            let membership = self.membership_of(slot, journey);
            std::hint::black_box((self.slots[slot as usize].id.as_str().len(), membership));
        }
    }

    /// The index in `journeys` of the journey id `name` as written in the file:
    /// `None` if not resolved yet, `Some(None)` if it names no journey.
    fn journey_named(&self, name: &[u8]) -> Option<Option<u32>> {
        self.journey_names.iter().find(|(known, _)| known.as_bytes() == name).map(|&(_, journey)| journey)
    }

    /// The slot of contact `id`, if the batch has one.
    #[inline]
    fn slot_of(&self, id: &[u8]) -> Option<u32> {
        let is_contact =
            |slot: u32| self.slots.get(slot as usize).is_some_and(|s| s.id.as_str().as_bytes() == id);
        self.contacts.find(self.contacts.key(id), is_contact)
    }

    /// The membership of the contact in slot `slot` in journey `journey`, if the batch
    /// has it.
    #[inline]
    fn membership_of(&self, slot: u32, journey: u32) -> Option<u32> {
        let mut index = self.slots[slot as usize].memberships;
        while index != NONE {
            let membership = &self.memberships[index as usize];
            if membership.journey == journey {
                return Some(index);
            }
            index = membership.next;
        }
        None
    }

    /// The journey at `index`.
    pub(crate) fn journey(&self, index: u32) -> &Arc<Journey> {
        &self.journeys[index as usize]
    }

    /// The contact in slot `slot` and whether it is stored.
    pub(crate) fn contact(&self, slot: u32) -> (&ContactId, Existence) {
        let slot = &self.slots[slot as usize];
        (&slot.id, slot.existence)
    }

    /// Adds a contact the batch had not seen.
    pub(crate) fn add_contact(&mut self, id: ContactId) -> u32 {
        let slot = self.slots.len() as u32;
        self.contacts.insert(id.as_str(), slot);
        self.slots.push(ContactSlot { id, existence: Existence::Unknown, memberships: NONE });
        slot
    }

    /// Records whether the contact in `slot` is stored.
    pub(crate) fn set_existence(&mut self, slot: u32, existence: Existence) {
        self.slots[slot as usize].existence = existence;
    }

    /// Adds a membership from its stored `history`, replayed through sequencing.
    ///
    /// # Errors
    /// `invalid_history` if the stored history breaks a rule.
    pub(crate) fn add_membership(
        &mut self,
        slot: u32,
        journey: u32,
        history: &[Transition],
    ) -> Result<u32, DomainError> {
        let contact = &self.slots[slot as usize].id;
        let state = replay_standing(&self.journeys[journey as usize], contact, history)?;
        let stored_lines: Vec<u64> = history
            .iter()
            .filter_map(|t| match &t.source {
                Source::Import { batch, line, .. } if *batch == self.batch => Some(*line),
                _ => None,
            })
            .collect();
        let index = self.memberships.len() as u32;
        if !stored_lines.is_empty() {
            self.stored_lines.insert(index, stored_lines);
        }
        let contact = &mut self.slots[slot as usize];
        self.memberships.push(Membership {
            slot,
            journey,
            next: contact.memberships,
            state,
            committed: history.len() as u64,
            pending: NONE,
        });
        if !history.is_empty() {
            contact.existence = Existence::Stored;
        }
        contact.memberships = index;
        Ok(index)
    }

    /// Decides the row at `line` for membership `index` against the state as the
    /// batch's earlier rows left it, through [`decide`].
    ///
    /// # Errors
    /// `unknown_contact` for a contact the import refuses, `precondition_mismatch`
    /// when `from_stage` is not the current stage, else what [`decide`] refuses.
    pub(crate) fn decide(&mut self, index: u32, line: u64, row: Row<'_>) -> Result<Outcome, ImportError> {
        let membership = &mut self.memberships[index as usize];
        if !self.stored_lines.is_empty()
            && self.stored_lines.get(&index).is_some_and(|lines| lines.contains(&line))
        {
            return Ok(Outcome::AlreadyStored);
        }
        let journey = &self.journeys[membership.journey as usize];
        let slot = &mut self.slots[membership.slot as usize];
        if slot.existence == Existence::Missing {
            return Err(ImportError::UnknownContact { contact: slot.id.clone() });
        }
        let current =
            membership.state.and_then(|s| journey.stage_at(s.stage_index())).map(|s| s.key().as_str());
        if let Some(expected) = row.from_stage {
            let expected = (!expected.is_empty()).then_some(expected);
            if expected != current {
                return Err(ImportError::PreconditionMismatch {
                    contact: slot.id.clone(),
                    journey: journey.id().clone(),
                    expected: expected.map(str::to_owned),
                    actual: current.map(str::to_owned),
                });
            }
        }
        // A stage of the journey is cloned from it (cheap, and compared by address);
        // any other text goes to sequencing, which names it.
        let stage = match journey.stage_index(row.stage).and_then(|i| journey.stage_at(i)) {
            Some(stage) => stage.key().clone(),
            None => StageKey::new(row.stage)?,
        };
        let request = Move {
            contact: slot.id.clone(),
            target: Target::Stage(stage),
            occurred_at: row.at.unwrap_or(self.now),
            recorded_at: self.now,
            source: Source::Import { batch: self.batch.clone(), line, origin: row.origin },
            touchpoint: row.touchpoint,
            idempotency_key: None,
        };
        let decision = decide_from(journey, membership.state, &request)?;
        let (standing, decided) = (decision.standing(), decision.decided());
        membership.state = Some(standing);
        let transition = decided.into_transition(journey, request);
        if membership.pending == NONE {
            membership.pending = self.touched.len() as u32;
            self.touched.push(Touched { membership: index, staged: 0, transitions: Vec::new() });
        }
        self.touched[membership.pending as usize].staged += 1;
        self.staged.push((index, transition));
        self.pending_rows += 1;
        if slot.existence == Existence::Absent {
            slot.existence = Existence::Created;
            self.created.push(membership.slot);
        }
        if self.staged.len() >= self.stage_rows {
            self.group();
        }
        Ok(Outcome::Decided)
    }

    /// Moves the staged transitions to their memberships' vectors, each grown once.
    fn group(&mut self) {
        for touched in &mut self.touched {
            touched.transitions.reserve_exact(touched.staged as usize);
            touched.staged = 0;
        }
        for (index, transition) in self.staged.drain(..) {
            let pending = self.memberships[index as usize].pending;
            self.touched[pending as usize].transitions.push(transition);
        }
    }

    /// The contacts created since the last commit, to insert with it.
    pub(crate) fn created_contacts(&self) -> Vec<ContactId> {
        let mut created = Vec::with_capacity(self.created.len());
        for group in self.created.chunks(WARM_GROUP) {
            let ids = || group.iter().filter_map(|&slot| self.slots.get(slot as usize)).map(|s| &s.id);
            warm_ids(ids());
            created.extend(ids().cloned());
        }
        created
    }

    /// Takes every pending transition as appends, each expecting the version stored
    /// before this batch's pending moves, and marks them committed. The caller commits
    /// them (or, for a dry run, drops them).
    pub(crate) fn take_appends(&mut self) -> Vec<Append> {
        self.group();
        self.created.clear();
        self.pending_rows = 0;
        let mut touched = std::mem::take(&mut self.touched);
        let mut appends = Vec::with_capacity(touched.len());
        for group in touched.chunks_mut(WARM_GROUP) {
            for Touched { membership, .. } in group.iter() {
                std::hint::black_box(self.memberships.get(*membership as usize).map(|m| m.committed));
            }
            warm_ids(group.iter().filter_map(|t| t.transitions.first()).map(|t| &t.contact));
            for Touched { membership: index, transitions, .. } in group {
                let transitions = std::mem::take(transitions);
                let membership = &mut self.memberships[*index as usize];
                membership.pending = NONE;
                let Some(first) = transitions.first() else { continue };
                let expected_version = membership.committed;
                membership.committed += transitions.len() as u64;
                appends.push(Append {
                    contact: first.contact.clone(),
                    journey: first.journey.clone(),
                    expected_version,
                    transitions,
                });
            }
        }
        touched.clear();
        self.touched = touched;
        appends
    }
}
