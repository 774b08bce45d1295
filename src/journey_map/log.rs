//! [`InteractionLog`]: one journey's transitions and touchpoints, interned and laid out
//! by contact so the reports read each contact's history in one sequential pass.

use std::collections::HashMap;
use std::hash::Hash;

use chrono::{DateTime, Utc};

use crate::analytics::{ContactRef, ContactTable, Scope};
use crate::error::DomainError;
use crate::model::ids::{
    ChannelKey, DepartmentKey, DeviceKey, InteractionKey, OutcomeKey, StageKey, TouchpointId,
};
use crate::model::journey::Journey;
use crate::model::touchpoint::{Sentiment, Touchpoint};
use crate::model::transition::Transition;

/// The index standing for "none" in an interned column (no device, no outcome, not in
/// the journey yet).
pub(super) const NONE: u16 = u16::MAX;

/// Distinct keys of one kind: each gets a small index, so the reports count in dense
/// arrays instead of hashing strings.
#[derive(Clone, Debug)]
pub(super) struct KeyTable<K> {
    keys: Vec<K>,
    index: HashMap<K, u16>,
}

impl<K> Default for KeyTable<K> {
    fn default() -> Self {
        KeyTable { keys: Vec::new(), index: HashMap::new() }
    }
}

impl<K: Clone + Eq + Hash + AsRef<str>> KeyTable<K> {
    fn intern(&mut self, field: &'static str, key: &K) -> Result<u16, DomainError> {
        if let Some(&i) = self.index.get(key) {
            return Ok(i);
        }
        let i = u16::try_from(self.keys.len()).ok().filter(|&i| i != NONE).ok_or_else(|| {
            DomainError::InvalidValue {
                field,
                value: key.as_ref().to_owned(),
                reason: "is one distinct key too many for a journey map (at most 65535)",
            }
        })?;
        self.keys.push(key.clone());
        self.index.insert(key.clone(), i);
        Ok(i)
    }

    fn intern_opt(&mut self, field: &'static str, key: Option<&K>) -> Result<u16, DomainError> {
        key.map_or(Ok(NONE), |k| self.intern(field, k))
    }

    /// The key at `index` (`None` for [`NONE`]).
    pub(super) fn get(&self, index: u16) -> Option<&K> {
        self.keys.get(usize::from(index))
    }

    /// How many distinct keys there are.
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// One journey's history as the journey-map reports read it: every contact's
/// transitions (in version order) and touchpoints (in time order) stored contiguously,
/// column by column, with contacts, stages, channels, devices, departments,
/// interaction types and outcomes interned to small integers.
///
/// Touchpoints linked to *another* journey are left out; unlinked ones are the
/// contact's, and count in whatever stage of this journey the contact was in at the
/// time. Building groups and orders the data once; every report is then a single
/// sequential pass over it.
///
/// ```
/// use journeys::journey_map::InteractionLog;
/// use journeys::{Journey, SequencePolicy, Stage, Touchpoint};
/// let journey = Journey::new("j", "J", SequencePolicy::AnyOrder, [Stage::new("lead", "Lead")?])?;
/// let at = "2026-01-05T09:00:00Z".parse()?;
/// let tp = Touchpoint::new("t1".parse()?, "ada".parse()?, at, "email".parse()?, "open".parse()?);
/// let log = InteractionLog::new(&journey, [], [&tp])?;
/// assert_eq!((log.contact_count(), log.touchpoint_count()), (1, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct InteractionLog {
    pub(super) journey: Journey,
    /// The contacts, interned as the dashboard analytics intern them, so a
    /// [`ContactSet`](crate::analytics::ContactSet) segment built for this table
    /// restricts the reports.
    pub(super) contacts: ContactTable,
    /// Contact `c`'s touchpoints are `tp_start[c]..tp_start[c + 1]`.
    pub(super) tp_start: Vec<u32>,
    /// Contact `c`'s transitions are `tr_start[c]..tr_start[c + 1]`.
    pub(super) tr_start: Vec<u32>,
    pub(super) tp: TouchpointColumns,
    pub(super) switches: Switches,
    pub(super) combinations: Combinations,
    /// When each transition happened, in milliseconds since the Unix epoch.
    pub(super) tr_at: Vec<i64>,
    /// The stage each transition entered.
    pub(super) tr_to: Vec<u16>,
    /// Where each transition splits its contact's touchpoints: those before index
    /// `tr_split[t]` came before it (a touchpoint at the same instant counts as
    /// before), so the reports find the touchpoints of each stay without comparing
    /// times.
    pub(super) tr_split: Vec<u32>,
    pub(super) channels: KeyTable<ChannelKey>,
    pub(super) devices: KeyTable<DeviceKey>,
    pub(super) departments: KeyTable<DepartmentKey>,
    pub(super) interactions: KeyTable<InteractionKey>,
    pub(super) outcomes: KeyTable<OutcomeKey>,
}

/// Touchpoints column by column.
#[derive(Clone, Debug, Default)]
pub(super) struct TouchpointColumns {
    pub(super) id: Vec<TouchpointId>,
    /// Milliseconds since the Unix epoch.
    pub(super) at: Vec<i64>,
    pub(super) channel: Vec<u16>,
    pub(super) device: Vec<u16>,
    pub(super) department: Vec<u16>,
    pub(super) interaction: Vec<u16>,
    pub(super) outcome: Vec<u16>,
    /// 0 when not measured ([`MEASURED`] tells), so sums need no branch.
    pub(super) sentiment: Vec<f64>,
    /// Whether the sentiment was measured ([`MEASURED`]), and per
    /// [`GapDimension`](super::GapDimension) whether the touchpoint has a key
    /// ([`KEYED`]) and whether it switched from the key of the contact's previous
    /// touchpoint with one ([`SWITCHED`]): a stage visit's stayers are then told
    /// by or-ing its touchpoints' flags.
    pub(super) flags: Vec<u8>,
}

/// Every change of key between a contact's consecutive touchpoints with one, along
/// each [`GapDimension`](super::GapDimension): contact by contact in time order, so
/// the gap report visits the switches rather than every touchpoint.
#[derive(Clone, Debug, Default)]
pub(super) struct Switches {
    /// Contact `c`'s switches are `start[c]..start[c + 1]`.
    pub(super) start: Vec<usize>,
    /// The touchpoint that switched (its key is the one switched to).
    pub(super) touchpoint: Vec<u32>,
    /// The dimension's index in [`GapDimension::ALL`](super::GapDimension::ALL).
    pub(super) dimension: Vec<u8>,
    /// The key switched from and the key switched to, as `from × keys + to` for the
    /// dimension's number of keys: the gap report adds it to its stage's offset.
    pub(super) pair: Vec<u32>,
}

/// The distinct (channel, interaction type, outcome, sentiment measured) combinations
/// of the touchpoints, so the journey map counts one cell per touchpoint and expands
/// the combinations' counts into its per-key counts once at the end.
#[derive(Clone, Debug, Default)]
pub(super) struct Combinations {
    /// Per touchpoint, its combination's index, or [`UNLISTED`] when its combination
    /// is not listed (the map then counts the touchpoint key by key).
    pub(super) of: Vec<u16>,
    /// Per combination, the channel.
    pub(super) channel: Vec<u16>,
    /// Per combination, the interaction type.
    pub(super) interaction: Vec<u16>,
    /// Per combination, the outcome ([`NONE`] for none).
    pub(super) outcome: Vec<u16>,
    /// Per combination, whether the sentiment was measured.
    pub(super) measured: Vec<bool>,
}

/// [`Combinations::of`]: the combination is not listed. At most this many are, which
/// bounds the map's counts at this many cells per stage.
pub(super) const UNLISTED: u16 = 4096;

/// Combinations are only looked for when a table indexed by every possible one has at
/// most this many cells; beyond, no combination is listed.
const COMBINATION_SPACE: usize = 1 << 20;

impl Combinations {
    /// Lists the combinations of `tp` in order of first appearance, up to
    /// [`UNLISTED`]; `interactions` and `outcomes` are the numbers of keys.
    fn find(tp: &TouchpointColumns, interactions: usize, outcomes: usize) -> Combinations {
        let mut found = Combinations { of: vec![UNLISTED; tp.channel.len()], ..Combinations::default() };
        // Outcome "none" takes the index `outcomes`.
        let space = tp.channel.iter().map(|&c| usize::from(c) + 1).max().unwrap_or(0)
            * interactions
            * (outcomes + 1)
            * 2;
        if space > COMBINATION_SPACE {
            return found;
        }
        let mut index = vec![UNLISTED; space];
        for (i, of) in found.of.iter_mut().enumerate() {
            let measured = tp.flags[i] & MEASURED != 0;
            let outcome = usize::from(tp.outcome[i]).min(outcomes);
            let cell = ((usize::from(tp.channel[i]) * interactions + usize::from(tp.interaction[i]))
                * (outcomes + 1)
                + outcome)
                * 2
                + usize::from(measured);
            if index[cell] == UNLISTED && found.channel.len() < usize::from(UNLISTED) {
                index[cell] = found.channel.len() as u16;
                found.channel.push(tp.channel[i]);
                found.interaction.push(tp.interaction[i]);
                found.outcome.push(tp.outcome[i]);
                found.measured.push(measured);
            }
            *of = index[cell];
        }
        found
    }

    /// How many combinations are listed.
    pub(super) fn len(&self) -> usize {
        self.channel.len()
    }
}

/// [`TouchpointColumns::flags`]: the sentiment was measured.
pub(super) const MEASURED: u8 = 64;

/// [`TouchpointColumns::flags`]: the touchpoint has a channel, device, department.
pub(super) const KEYED: [u8; 3] = [1, 2, 4];
/// [`TouchpointColumns::flags`]: the touchpoint switched channel, device, department.
pub(super) const SWITCHED: [u8; 3] = [8, 16, 32];
/// Every [`KEYED`] bit.
pub(super) const ALL_KEYED: u8 = 7;
/// [`SWITCHED`]`[d]` is [`KEYED`]`[d]` shifted by this.
pub(super) const SWITCHED_SHIFT: u32 = 3;

impl TouchpointColumns {
    fn gather(&self, order: &[u32]) -> TouchpointColumns {
        fn pick<T: Clone>(column: &[T], order: &[u32]) -> Vec<T> {
            order.iter().map(|&i| column[i as usize].clone()).collect()
        }
        TouchpointColumns {
            id: pick(&self.id, order),
            at: pick(&self.at, order),
            channel: pick(&self.channel, order),
            device: pick(&self.device, order),
            department: pick(&self.department, order),
            interaction: pick(&self.interaction, order),
            outcome: pick(&self.outcome, order),
            sentiment: pick(&self.sentiment, order),
            flags: pick(&self.flags, order),
        }
    }

    /// Touchpoint `i`'s sentiment, if measured.
    pub(super) fn sentiment(&self, i: usize) -> Option<f64> {
        (self.flags[i] & MEASURED != 0).then(|| self.sentiment[i])
    }

    /// The key columns in [`GapDimension`](super::GapDimension) order.
    pub(super) fn keys(&self) -> [&[u16]; 3] {
        [&self.channel, &self.device, &self.department]
    }

    /// Sets the keys' [`flags`](Self::flags) and lists the switches, walking each
    /// contact's touchpoints (`starts` holds where each contact's begin, plus the
    /// end) in time order; `key_counts` are the dimensions' numbers of keys.
    fn find_switches(&mut self, starts: &[u32], key_counts: [usize; 3]) -> Switches {
        let mut flags = std::mem::take(&mut self.flags);
        let mut switches = Switches { start: Vec::with_capacity(starts.len()), ..Switches::default() };
        switches.start.push(0);
        let keys = self.keys();
        for contact in starts.windows(2) {
            let mut previous = [NONE; 3];
            for i in contact[0]..contact[1] {
                for (d, column) in keys.iter().enumerate() {
                    let key = column[i as usize];
                    if key == NONE {
                        continue;
                    }
                    flags[i as usize] |= KEYED[d];
                    if previous[d] != NONE && previous[d] != key {
                        flags[i as usize] |= SWITCHED[d];
                        switches.touchpoint.push(i);
                        switches.dimension.push(d as u8);
                        // Keys are below 2^16, so the pair fits.
                        switches
                            .pair
                            .push((usize::from(previous[d]) * key_counts[d] + usize::from(key)) as u32);
                    }
                    previous[d] = key;
                }
            }
            switches.start.push(switches.touchpoint.len());
        }
        self.flags = flags;
        switches
    }
}

/// Builds an [`InteractionLog`] from transitions and touchpoints in any order.
#[derive(Debug)]
pub struct InteractionLogBuilder {
    log: InteractionLog,
    tp_contact: Vec<u32>,
    tr_contact: Vec<u32>,
    tr_version: Vec<u64>,
}

impl InteractionLog {
    /// A log of `journey` from its `transitions` and the contacts' `touchpoints`.
    ///
    /// # Errors
    /// As [`InteractionLogBuilder::transition`] and
    /// [`InteractionLogBuilder::touchpoint`].
    pub fn new<'a>(
        journey: &Journey,
        transitions: impl IntoIterator<Item = &'a Transition>,
        touchpoints: impl IntoIterator<Item = &'a Touchpoint>,
    ) -> Result<Self, DomainError> {
        let mut builder = InteractionLog::builder(journey);
        for t in transitions {
            builder.transition(t)?;
        }
        for tp in touchpoints {
            builder.touchpoint(tp)?;
        }
        Ok(builder.build())
    }

    /// A builder for a log of `journey`.
    pub fn builder(journey: &Journey) -> InteractionLogBuilder {
        InteractionLogBuilder {
            log: InteractionLog {
                journey: journey.clone(),
                contacts: ContactTable::default(),
                tp_start: Vec::new(),
                tr_start: Vec::new(),
                tp: TouchpointColumns::default(),
                switches: Switches::default(),
                combinations: Combinations::default(),
                tr_at: Vec::new(),
                tr_to: Vec::new(),
                tr_split: Vec::new(),
                channels: KeyTable::default(),
                devices: KeyTable::default(),
                departments: KeyTable::default(),
                interactions: KeyTable::default(),
                outcomes: KeyTable::default(),
            },
            tp_contact: Vec::new(),
            tr_contact: Vec::new(),
            tr_version: Vec::new(),
        }
    }

    /// The journey.
    pub fn journey(&self) -> &Journey {
        &self.journey
    }

    /// How many contacts have a transition or a touchpoint in the log.
    pub fn contact_count(&self) -> usize {
        self.contacts.len()
    }

    /// How many touchpoints the log holds.
    pub fn touchpoint_count(&self) -> usize {
        self.tp.at.len()
    }

    /// How many transitions the log holds.
    pub fn transition_count(&self) -> usize {
        self.tr_at.len()
    }

    /// The contacts, in the log's order: build a segment's
    /// [`ContactSet`](crate::analytics::ContactSet) over this table to restrict a
    /// report to it.
    pub fn contacts(&self) -> &ContactTable {
        &self.contacts
    }

    /// What a report in `scope` reads of contact `c`: its touchpoints and a cursor over
    /// its transitions, both cut at the as-of instant; `None` when the scope's segment
    /// leaves the contact out.
    #[inline]
    pub(super) fn visible(
        &self,
        c: usize,
        scope: &Scope<'_>,
    ) -> Option<(std::ops::Range<usize>, StageCursor<'_>)> {
        let (touchpoints, transitions) = self.visible_ranges(c, scope)?;
        Some((touchpoints, StageCursor::over(self, transitions)))
    }

    /// What a report in `scope` reads of contact `c`, stay by stay: the part before
    /// the journey, then one stay per move, each with its touchpoints, up to the
    /// as-of instant; `None` when the scope's segment leaves the contact out.
    #[inline]
    pub(super) fn stays(&self, c: usize, scope: &Scope<'_>) -> Option<Stays<'_>> {
        let (touchpoints, transitions) = self.visible_ranges(c, scope)?;
        Some(Stays {
            log: self,
            visible: touchpoints.clone(),
            touchpoints,
            transitions,
            stage: NONE,
            done: false,
        })
    }

    /// Contact `c`'s touchpoint and transition indices in `scope`.
    #[inline]
    fn visible_ranges(
        &self,
        c: usize,
        scope: &Scope<'_>,
    ) -> Option<(std::ops::Range<usize>, std::ops::Range<usize>)> {
        if scope.contacts().is_some_and(|set| !set.contains(ContactRef(c as u32))) {
            return None;
        }
        let touchpoints = self.touchpoints_of(c);
        let transitions = self.transitions_of(c);
        let (touchpoints, transitions) = match scope.instant().map(millis) {
            None => (touchpoints, transitions),
            Some(limit) => (
                touchpoints.start
                    ..touchpoints.start + self.tp.at[touchpoints].partition_point(|&t| t <= limit),
                transitions.start
                    ..transitions.start + self.tr_at[transitions].partition_point(|&t| t <= limit),
            ),
        };
        Some((touchpoints, transitions))
    }

    /// Contact `c`'s touchpoint indices.
    pub(super) fn touchpoints_of(&self, c: usize) -> std::ops::Range<usize> {
        self.tp_start[c] as usize..self.tp_start[c + 1] as usize
    }

    /// Contact `c`'s transition indices.
    pub(super) fn transitions_of(&self, c: usize) -> std::ops::Range<usize> {
        self.tr_start[c] as usize..self.tr_start[c + 1] as usize
    }

    /// The stage at interned index `s`.
    pub(super) fn stage_key(&self, s: u16) -> Option<&StageKey> {
        self.journey.stage_at(usize::from(s)).map(|stage| stage.key())
    }
}

/// `part / whole`, 0 when `whole` is 0.
pub(super) fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// Milliseconds since the Unix epoch: the log's time unit.
pub(super) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// The instant `ms` milliseconds after the Unix epoch.
pub(super) fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

impl InteractionLogBuilder {
    fn contact(&mut self, id: &str) -> Result<u32, DomainError> {
        let c = self.log.contacts.intern(id)?.index();
        u32::try_from(c).map_err(|_| DomainError::InvalidValue {
            field: "contacts",
            value: id.to_owned(),
            reason: "more than 2^32 - 2 contacts",
        })
    }

    /// Adds a transition of the journey.
    ///
    /// # Errors
    /// [`DomainError::UnknownJourney`] when it belongs to another journey,
    /// [`DomainError::UnknownStage`] when the journey has no such stage,
    /// [`DomainError::InvalidValue`] past 2³² − 2 transitions or contacts, or for a
    /// contact id that is not valid.
    pub fn transition(&mut self, t: &Transition) -> Result<(), DomainError> {
        let journey = &self.log.journey;
        if &t.journey != journey.id() {
            return Err(DomainError::UnknownJourney { journey: t.journey.to_string() });
        }
        let stage = journey
            .stage_index(t.to.as_str())
            .and_then(|s| u16::try_from(s).ok())
            .filter(|&s| s != NONE)
            .ok_or_else(|| DomainError::UnknownStage {
                journey: journey.id().clone(),
                stage: t.to.to_string(),
            })?;
        full("transitions", self.tr_contact.len())?;
        let c = self.contact(t.contact.as_str())?;
        self.tr_contact.push(c);
        self.tr_version.push(t.version);
        self.log.tr_at.push(millis(t.occurred_at));
        self.log.tr_to.push(stage);
        Ok(())
    }

    /// Adds a touchpoint; one linked to another journey is left out (returns `false`).
    ///
    /// # Errors
    /// [`DomainError::InvalidValue`] when a kind of key has more distinct values than a
    /// journey map counts (65535), or past 2³² − 2 touchpoints or contacts.
    pub fn touchpoint(&mut self, tp: &Touchpoint) -> Result<bool, DomainError> {
        if tp.stage.as_ref().is_some_and(|link| &link.journey != self.log.journey.id()) {
            return Ok(false);
        }
        let log = &mut self.log;
        let channel = log.channels.intern("channel", &tp.channel)?;
        let device = log.devices.intern_opt("device", tp.device.as_ref())?;
        let department = log.departments.intern_opt("department", tp.department.as_ref())?;
        let interaction = log.interactions.intern("interaction", &tp.interaction)?;
        let outcome = log.outcomes.intern_opt("outcome", tp.outcome.as_ref())?;
        full("touchpoints", self.tp_contact.len())?;
        let c = self.contact(tp.contact.as_str())?;
        let columns = &mut self.log.tp;
        columns.id.push(tp.id.clone());
        columns.at.push(millis(tp.occurred_at));
        columns.channel.push(channel);
        columns.device.push(device);
        columns.department.push(department);
        columns.interaction.push(interaction);
        columns.outcome.push(outcome);
        columns.sentiment.push(tp.sentiment.map_or(0.0, Sentiment::get));
        columns.flags.push(if tp.sentiment.is_some() { MEASURED } else { 0 });
        self.tp_contact.push(c);
        Ok(true)
    }

    /// Groups the data by contact and orders each contact's history.
    pub fn build(self) -> InteractionLog {
        let InteractionLogBuilder { mut log, tp_contact, tr_contact, tr_version } = self;
        let n = log.contacts.len();
        let (tp_start, tp_order) = group_by_contact(n, &tp_contact, |slice| {
            let (at, id) = (&log.tp.at, &log.tp.id);
            if !slice.is_sorted_by_key(|&i| (at[i as usize], &id[i as usize])) {
                slice.sort_unstable_by(|&a, &b| {
                    (at[a as usize], &id[a as usize]).cmp(&(at[b as usize], &id[b as usize]))
                });
            }
        });
        let (tr_start, tr_order) = group_by_contact(n, &tr_contact, |slice| {
            if !slice.is_sorted_by_key(|&i| tr_version[i as usize]) {
                slice.sort_unstable_by_key(|&i| tr_version[i as usize]);
            }
        });
        log.tp = log.tp.gather(&tp_order);
        log.tr_at = tr_order.iter().map(|&i| log.tr_at[i as usize]).collect();
        log.tr_to = tr_order.iter().map(|&i| log.tr_to[i as usize]).collect();
        let key_counts = [log.channels.len(), log.devices.len(), log.departments.len()];
        log.switches = log.tp.find_switches(&tp_start, key_counts);
        log.combinations = Combinations::find(&log.tp, log.interactions.len(), log.outcomes.len());
        log.tr_split = split_touchpoints(&log.tp.at, &tp_start, &log.tr_at, &tr_start);
        log.tp_start = tp_start;
        log.tr_start = tr_start;
        log
    }
}

/// Refuses a row beyond what `u32` offsets address.
fn full(field: &'static str, rows: usize) -> Result<(), DomainError> {
    if rows < u32::MAX as usize {
        Ok(())
    } else {
        Err(DomainError::InvalidValue {
            field,
            value: rows.to_string(),
            reason: "a journey map holds fewer than 2^32 - 1",
        })
    }
}

/// A stable counting sort of row indices by contact: the start offset of every
/// contact's rows (plus the end), and the rows in contact order, each contact's slice
/// put in order by `order_slice`.
fn group_by_contact(
    contacts: usize,
    row_contact: &[u32],
    mut order_slice: impl FnMut(&mut [u32]),
) -> (Vec<u32>, Vec<u32>) {
    let mut start = vec![0u32; contacts + 1];
    for &c in row_contact {
        start[c as usize + 1] += 1;
    }
    for c in 0..contacts {
        start[c + 1] += start[c];
    }
    let mut next = start.clone();
    let mut order = vec![0u32; row_contact.len()];
    for (row, &c) in row_contact.iter().enumerate() {
        let slot = &mut next[c as usize];
        order[*slot as usize] = row as u32;
        *slot += 1;
    }
    for c in 0..contacts {
        order_slice(&mut order[start[c] as usize..start[c + 1] as usize]);
    }
    (start, order)
}

/// [`InteractionLog::tr_split`]: walks each contact's transitions (in version order)
/// alongside its touchpoints as [`StageCursor`] does.
fn split_touchpoints(tp_at: &[i64], tp_start: &[u32], tr_at: &[i64], tr_start: &[u32]) -> Vec<u32> {
    let mut split = vec![0u32; tr_at.len()];
    for (touchpoints, transitions) in tp_start.windows(2).zip(tr_start.windows(2)) {
        let mut t = transitions[0] as usize;
        for i in touchpoints[0]..touchpoints[1] {
            while t < transitions[1] as usize && tr_at[t] < tp_at[i as usize] {
                split[t] = i;
                t += 1;
            }
        }
        split[t..transitions[1] as usize].fill(touchpoints[1]);
    }
    split
}

/// One stay of a contact in a stage (or before the journey), as
/// [`InteractionLog::stays`] walks them.
pub(super) struct Stay {
    /// The stage ([`NONE`] before the contact entered the journey).
    pub(super) stage: u16,
    /// The touchpoints during the stay.
    pub(super) touchpoints: std::ops::Range<usize>,
    /// The move that ended it, when and to which stage; `None` for the open stay.
    pub(super) ended_by: Option<(i64, u16)>,
}

/// The iterator of [`InteractionLog::stays`].
pub(super) struct Stays<'a> {
    log: &'a InteractionLog,
    /// All the touchpoints the stays hold.
    pub(super) visible: std::ops::Range<usize>,
    /// Those of the stays not walked yet.
    touchpoints: std::ops::Range<usize>,
    transitions: std::ops::Range<usize>,
    stage: u16,
    done: bool,
}

impl Stays<'_> {
    /// Whether the contact has neither a touchpoint nor a move to walk.
    pub(super) fn is_empty(&self) -> bool {
        self.touchpoints.is_empty() && self.transitions.is_empty()
    }
}

impl Iterator for Stays<'_> {
    type Item = Stay;

    #[inline]
    fn next(&mut self) -> Option<Stay> {
        if self.done {
            return None;
        }
        let log = self.log;
        let start = self.touchpoints.start;
        let stage = self.stage;
        let Some(t) = self.transitions.next() else {
            self.done = true;
            return Some(Stay { stage, touchpoints: self.touchpoints.clone(), ended_by: None });
        };
        let end = (log.tr_split[t] as usize).max(start).min(self.touchpoints.end);
        self.touchpoints.start = end;
        self.stage = log.tr_to[t];
        Some(Stay { stage, touchpoints: start..end, ended_by: Some((log.tr_at[t], log.tr_to[t])) })
    }
}

/// Walks one contact's transitions alongside their touchpoints: the stage the contact
/// is in at each touchpoint, and the move that comes next.
pub(super) struct StageCursor<'a> {
    at: &'a [i64],
    to: &'a [u16],
    next: usize,
    /// The current stage ([`NONE`] before the first move).
    pub(super) stage: u16,
}

impl<'a> StageCursor<'a> {
    /// At the start of contact `c`'s history.
    pub(super) fn new(log: &'a InteractionLog, c: usize) -> Self {
        Self::over(log, log.transitions_of(c))
    }

    /// At the start of the transitions `range` (one contact's).
    fn over(log: &'a InteractionLog, range: std::ops::Range<usize>) -> Self {
        StageCursor { at: &log.tr_at[range.clone()], to: &log.tr_to[range], next: 0, stage: NONE }
    }

    /// Takes the next move if it happened before `at` (a move at the same instant as a
    /// touchpoint counts as after it: the touchpoint may have caused it), returning the
    /// stage it entered.
    #[inline]
    pub(super) fn move_before(&mut self, at: i64) -> Option<u16> {
        if self.next < self.at.len() && self.at[self.next] < at { self.take() } else { None }
    }

    /// Takes the next move, whenever it happened.
    #[inline]
    pub(super) fn take(&mut self) -> Option<u16> {
        let to = *self.to.get(self.next)?;
        self.next += 1;
        self.stage = to;
        Some(to)
    }

    /// When the next move happens and the stage it enters.
    #[inline]
    pub(super) fn upcoming(&self) -> Option<(i64, u16)> {
        Some((*self.at.get(self.next)?, *self.to.get(self.next)?))
    }
}
