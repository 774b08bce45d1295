//! The compact columnar log the analytics run over.
//!
//! A [`TransitionLog`] keeps, per journey, every member's transitions together and in
//! time order (one *group* per contact), in columns: 4 bytes of time (seconds from the
//! log's epoch), 1 byte of stage, 1 of source kind, 1 of channel and 1 saying whether
//! it opens its group per transition, plus 9 bytes per member (contact ref, group
//! start, and the stage its first transition left). The flag lets the queries over
//! the whole log run one flat loop over the columns rather than a loop per group,
//! whose varying length the CPU cannot predict. On the benchmark data that is 11.8
//! bytes per transition
//! ([`JourneyLog::heap_bytes`] says exactly; the contact ids' text is apart).
//! The `from` stage is not stored: within a group it is the previous transition's
//! stage, and building the log checks that it is.

use std::fmt;

use chrono::{DateTime, Utc};

use super::contacts::{ContactKeys, ContactRef, ContactTable};
use super::names::Names;
use crate::error::DomainError;
use crate::model::ids::{ChannelKey, ContactId, JourneyId, StageKey};
use crate::model::journey::Journey;
use crate::model::transition::{Source, SourceKind, Transition};

/// The kind a transition's [`Source`] is reported as in breakdowns (an import's
/// origin when it named one), as in [`Source::reported_kind`].
pub(crate) fn source_kind(source: &Source) -> SourceKind {
    source.reported()
}

/// The kind with code `code` (its position in [`SourceKind::ALL`]).
pub(crate) fn source_from_code(code: u8) -> SourceKind {
    SourceKind::ALL.get(usize::from(code)).copied().unwrap_or(SourceKind::System)
}

/// Stage code meaning "no stage" (a transition's `from` when it enters the journey).
pub(crate) const NO_STAGE: u8 = u8::MAX;
/// Channel code meaning "no touchpoint".
pub(crate) const NO_CHANNEL: u8 = 0;
/// At most this many stages per journey, journeys per log and channels per log.
const MAX_CODES: usize = 254;
/// The epoch is this many seconds before the first transition, so `u32` times reach
/// about 68 years either side of it.
const EPOCH_BEFORE_FIRST: i64 = 1 << 31;

/// One journey's part of a [`TransitionLog`]: its definition and its members'
/// transitions, grouped per contact and in time order.
#[derive(Clone)]
pub struct JourneyLog {
    pub(crate) journey: Journey,
    pub(crate) epoch: i64,
    /// Per member: the contact.
    pub(crate) contact: Vec<u32>,
    /// Per member: where its transitions start; one more entry closes the last.
    pub(crate) starts: Vec<u32>,
    /// Per member: the stage its first transition left ([`NO_STAGE`] for an entry
    /// into the journey; a log may start in the middle of a history).
    pub(crate) entered_from: Vec<u8>,
    /// The latest time of any transition (0 when empty).
    pub(crate) last: u32,
    /// The earliest time of any transition (0 when empty): no stay is longer than
    /// `last - earliest`.
    pub(crate) earliest: u32,
    /// Per transition: seconds since `epoch`.
    pub(crate) at: Vec<u32>,
    /// Per transition: the stage entered, as the journey's stage index.
    pub(crate) stage: Vec<u8>,
    /// Per transition: the [`SourceKind`] code.
    pub(crate) source: Vec<u8>,
    /// Per transition: the channel code ([`NO_CHANNEL`] or index + 1).
    pub(crate) channel: Vec<u8>,
    /// Per transition: whether it is its member's first (opens a group).
    pub(crate) opens: Vec<bool>,
}

impl fmt::Debug for JourneyLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JourneyLog")
            .field("journey", self.journey.id())
            .field("members", &self.members())
            .field("transitions", &self.len())
            .finish()
    }
}

/// One member's transitions: positions `start..end` of the log's columns.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Group {
    /// The member's index in the per-member columns.
    pub(crate) member: usize,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Group {
    /// The member's contact (read only when a query needs it: most do not).
    #[inline]
    pub(crate) fn contact(&self, log: &JourneyLog) -> ContactRef {
        ContactRef(log.contact[self.member])
    }
}

impl JourneyLog {
    /// The journey definition the log was built for.
    pub fn journey(&self) -> &Journey {
        &self.journey
    }

    /// How many transitions it holds.
    pub fn len(&self) -> usize {
        self.at.len()
    }

    /// Whether it holds no transition.
    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    /// How many contacts have at least one transition.
    pub fn members(&self) -> usize {
        self.contact.len()
    }

    /// Bytes of heap the columns use.
    pub fn heap_bytes(&self) -> usize {
        4 * (self.contact.capacity() + self.starts.capacity() + self.at.capacity())
            + self.entered_from.capacity()
            + self.stage.capacity()
            + self.source.capacity()
            + self.channel.capacity()
            + self.opens.capacity()
    }

    /// Seconds since the epoch for an instant, unclamped.
    pub(crate) fn rel(&self, at: DateTime<Utc>) -> i64 {
        at.timestamp() - self.epoch
    }

    /// The instant of a log time.
    pub(crate) fn instant(&self, rel: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(self.epoch + rel, 0).unwrap_or_default()
    }

    /// The members, in contact order.
    #[inline]
    pub(crate) fn groups(&self) -> impl Iterator<Item = Group> + '_ {
        self.starts.windows(2).enumerate().map(|(member, w)| Group {
            member,
            start: w[0] as usize,
            end: w[1] as usize,
        })
    }
}

/// Transitions of any number of journeys in compact columns, with their contacts
/// interned once for all journeys.
///
/// Built by [`LogBuilder`] from [`Transition`]s or read from the benchmark CSV format
/// by [`TransitionLog::read_csv`](crate::analytics::TransitionLog::read_csv). The
/// queries are methods of each [`JourneyLog`].
#[derive(Clone)]
pub struct TransitionLog {
    pub(crate) contacts: ContactTable,
    pub(crate) channels: Vec<ChannelKey>,
    pub(crate) journeys: Vec<JourneyLog>,
    pub(crate) epoch: i64,
    pub(crate) last_at: Option<u32>,
}

impl fmt::Debug for TransitionLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransitionLog")
            .field("contacts", &self.contacts.len())
            .field("journeys", &self.journeys)
            .finish()
    }
}

impl TransitionLog {
    /// The log of `transitions` in `journeys` (see [`LogBuilder::push`]).
    ///
    /// # Errors
    /// As [`LogBuilder::push`] and [`LogBuilder::finish`].
    pub fn from_transitions<'t>(
        journeys: impl IntoIterator<Item = Journey>,
        transitions: impl IntoIterator<Item = &'t Transition>,
    ) -> Result<Self, DomainError> {
        let mut builder = LogBuilder::new(journeys)?;
        for transition in transitions {
            builder.push(transition)?;
        }
        builder.finish()
    }

    /// The contacts of every journey.
    pub fn contacts(&self) -> &ContactTable {
        &self.contacts
    }

    /// The channels seen, in order of first sight.
    pub fn channels(&self) -> &[ChannelKey] {
        &self.channels
    }

    /// The log of journey `id`.
    pub fn journey(&self, id: &str) -> Option<&JourneyLog> {
        self.journeys.iter().find(|j| j.journey.id() == id)
    }

    /// The log of every journey, in the order they were given.
    pub fn journeys(&self) -> &[JourneyLog] {
        &self.journeys
    }

    /// How many transitions it holds, all journeys together.
    pub fn len(&self) -> usize {
        self.journeys.iter().map(JourneyLog::len).sum()
    }

    /// Whether it holds no transition.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The time of the latest transition of any journey.
    pub fn last_at(&self) -> Option<DateTime<Utc>> {
        self.last_at.and_then(|t| DateTime::from_timestamp(self.epoch + i64::from(t), 0))
    }

    /// Bytes of heap the log uses: columns, contact table and channels.
    pub fn heap_bytes(&self) -> usize {
        self.journeys.iter().map(JourneyLog::heap_bytes).sum::<usize>()
            + self.contacts.heap_bytes()
            + self.channels.capacity() * std::mem::size_of::<ChannelKey>()
    }
}

/// Rows as pushed, before grouping.
#[derive(Default)]
struct Rows {
    contact: Vec<u32>,
    at: Vec<u32>,
    journey: Vec<u8>,
    /// The stages, source and channel, packed by [`Meta`], so that grouping moves
    /// each row by two writes to random places rather than five.
    meta: Vec<u32>,
}

/// A row's stage entered, stage left, source kind and channel codes in one `u32`.
#[derive(Clone, Copy)]
struct Meta(u32);

impl Meta {
    fn new(to: u8, from: u8, source: u8, channel: u8) -> Self {
        Meta(u32::from_le_bytes([to, from, source, channel]))
    }

    fn to(self) -> u8 {
        self.0.to_le_bytes()[0]
    }

    fn from(self) -> u8 {
        self.0.to_le_bytes()[1]
    }

    fn source(self) -> u8 {
        self.0.to_le_bytes()[2]
    }

    fn channel(self) -> u8 {
        self.0.to_le_bytes()[3]
    }
}

/// Collects transitions, then groups them into a [`TransitionLog`].
///
/// ```
/// use journeys::analytics::LogBuilder;
/// use journeys::{Journey, SequencePolicy, SourceKind, Stage};
/// let referral = Journey::new("referral", "Referral", SequencePolicy::AnyOrder,
///     [Stage::new("lead", "Lead")?, Stage::new("won", "Won")?])?;
/// let mut builder = LogBuilder::new([referral])?;
/// let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap().timestamp();
/// builder.push_row("ada", "referral", None, "lead", at("2026-01-05T10:00:00Z"), SourceKind::Manual, None)?;
/// builder.push_row("ada", "referral", Some("lead"), "won", at("2026-01-07T10:00:00Z"), SourceKind::Manual, None)?;
/// let log = builder.finish()?;
/// assert_eq!(log.journey("referral").unwrap().len(), 2);
/// # Ok::<(), journeys::DomainError>(())
/// ```
pub struct LogBuilder {
    journeys: Vec<Journey>,
    /// The journeys' ids, and per journey its stage keys, that rows are matched
    /// against.
    ids: Names,
    stages: Vec<Names>,
    contacts: ContactKeys,
    channels: Vec<ChannelKey>,
    epoch: Option<i64>,
    rows: Rows,
    last_journey: usize,
}

impl fmt::Debug for LogBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogBuilder").field("rows", &self.rows.at.len()).finish()
    }
}

fn invalid(field: &'static str, value: impl Into<String>, reason: &'static str) -> DomainError {
    DomainError::InvalidValue { field, value: value.into(), reason }
}

/// The code of stage `key` of `journey`, by its position in `stages`.
#[inline]
fn stage_code(journey: &Journey, stages: &Names, key: &[u8]) -> Result<u8, DomainError> {
    stages.position(key).map(|i| i as u8).ok_or_else(|| DomainError::UnknownStage {
        journey: journey.id().clone(),
        stage: String::from_utf8_lossy(key).into_owned(),
    })
}

impl LogBuilder {
    /// A builder for transitions of `journeys`.
    ///
    /// # Errors
    /// [`DomainError::InvalidValue`] for more than 254 journeys or a journey of more
    /// than 254 stages.
    pub fn new(journeys: impl IntoIterator<Item = Journey>) -> Result<Self, DomainError> {
        let journeys: Vec<Journey> = journeys.into_iter().collect();
        if journeys.len() > MAX_CODES {
            return Err(invalid("journeys", journeys.len().to_string(), "at most 254 journeys per log"));
        }
        if let Some(big) = journeys.iter().find(|j| j.stage_count() > MAX_CODES) {
            return Err(invalid("stages", big.id().to_string(), "at most 254 stages per journey"));
        }
        let ids = Names::new(journeys.iter().map(|j| j.id().as_str()));
        let stages = journeys.iter().map(|j| Names::new(j.stages().map(|s| s.key().as_str()))).collect();
        Ok(LogBuilder {
            journeys,
            ids,
            stages,
            contacts: ContactKeys::default(),
            channels: Vec::new(),
            epoch: None,
            rows: Rows::default(),
            last_journey: 0,
        })
    }

    /// Reserves room for about `rows` more transitions.
    pub fn reserve(&mut self, rows: usize) {
        let r = &mut self.rows;
        r.contact.reserve(rows);
        r.at.reserve(rows);
        r.journey.reserve(rows);
        r.meta.reserve(rows);
    }

    /// Adds a crate [`Transition`].
    ///
    /// # Errors
    /// As [`push_row`](Self::push_row).
    pub fn push(&mut self, t: &Transition) -> Result<(), DomainError> {
        self.push_row(
            t.contact.as_str(),
            t.journey.as_str(),
            t.from.as_ref().map(StageKey::as_str),
            t.to.as_str(),
            t.occurred_at.timestamp(),
            source_kind(&t.source),
            t.touchpoint.as_deref().map(|tp| tp.channel.as_str()),
        )
    }

    /// Adds one transition given by its fields; `at` is in seconds since the Unix
    /// epoch. Rows may come in any order.
    ///
    /// # Errors
    /// [`DomainError::UnknownJourney`] or [`DomainError::UnknownStage`] for a journey
    /// or stage not defined, [`DomainError::InvalidId`] for a bad contact id or
    /// channel, [`DomainError::InvalidValue`] for a time more than 68 years from the
    /// first row's or past 254 channels.
    #[allow(clippy::too_many_arguments, reason = "one argument per column of the row")]
    pub fn push_row(
        &mut self,
        contact: &str,
        journey: &str,
        from: Option<&str>,
        to: &str,
        at: i64,
        source: SourceKind,
        channel: Option<&str>,
    ) -> Result<(), DomainError> {
        self.push_bytes(
            contact.as_bytes(),
            journey.as_bytes(),
            from.map(str::as_bytes),
            to.as_bytes(),
            at,
            source,
            channel.map(str::as_bytes),
        )
    }

    /// [`push_row`](Self::push_row) on the bytes of the fields, as a reader has them.
    #[allow(clippy::too_many_arguments, reason = "one argument per column of the row")]
    #[inline]
    pub(crate) fn push_bytes(
        &mut self,
        contact: &[u8],
        journey: &[u8],
        from: Option<&[u8]>,
        to: &[u8],
        at: i64,
        source: SourceKind,
        channel: Option<&[u8]>,
    ) -> Result<(), DomainError> {
        let j = if self.ids.is_at(self.last_journey, journey) {
            self.last_journey
        } else {
            self.last_journey = self.ids.position(journey).ok_or_else(|| DomainError::UnknownJourney {
                journey: String::from_utf8_lossy(journey).into_owned(),
            })?;
            self.last_journey
        };
        let (def, stages) = (&self.journeys[j], &self.stages[j]);
        let to = stage_code(def, stages, to)?;
        let from = from.map_or(Ok(NO_STAGE), |f| stage_code(def, stages, f))?;
        let epoch = *self.epoch.get_or_insert(at - EPOCH_BEFORE_FIRST);
        let rel = u32::try_from(at - epoch).map_err(|_| {
            invalid("at", at.to_string(), "more than 68 years from the log's first transition")
        })?;
        let channel = match channel {
            None => NO_CHANNEL,
            Some(key) => self.channel_code(key)?,
        };
        let contact = self.contacts.key(contact)?;
        let r = &mut self.rows;
        r.contact.push(contact);
        r.at.push(rel);
        r.journey.push(j as u8);
        r.meta.push(Meta::new(to, from, source as u8, channel).0);
        Ok(())
    }

    fn channel_code(&mut self, key: &[u8]) -> Result<u8, DomainError> {
        if let Some(i) = self.channels.iter().position(|c| c.as_str().as_bytes() == key) {
            return Ok(i as u8 + 1);
        }
        let text = String::from_utf8_lossy(key);
        if self.channels.len() >= MAX_CODES {
            return Err(invalid("channel", text, "at most 254 channels per log"));
        }
        self.channels.push(ChannelKey::new(text)?);
        Ok(self.channels.len() as u8)
    }

    /// Groups the rows per journey and contact, in time order (rows of one contact at
    /// the same time keep the order they were pushed in).
    ///
    /// # Errors
    /// [`DomainError::InvalidHistory`] when a transition's `from` is not the stage the
    /// contact's previous transition in the journey entered.
    pub fn finish(self) -> Result<TransitionLog, DomainError> {
        let LogBuilder { journeys, contacts, channels, epoch, mut rows, .. } = self;
        let (contacts, final_ref) = contacts.finish(&rows.contact)?;
        for key in &mut rows.contact {
            *key = final_ref(*key);
        }
        let epoch = epoch.unwrap_or(0);
        let last_at = rows.at.iter().copied().max();
        let mut grouped = Grouped::new(rows, journeys.len(), contacts.len());
        // Each journey's times are split off the end of the grouped column, so the
        // first journey keeps that column rather than a copy.
        let mut times: Vec<Vec<u32>> =
            (1..journeys.len()).rev().map(|j| grouped.at.split_off(grouped.first(j))).collect();
        times.push(std::mem::take(&mut grouped.at));
        let mut logs = Vec::with_capacity(journeys.len());
        for ((j, journey), at) in journeys.into_iter().enumerate().zip(times.into_iter().rev()) {
            logs.push(grouped.journey(j, journey, at, epoch, &contacts)?);
        }
        Ok(TransitionLog { contacts, channels, journeys: logs, epoch, last_at })
    }
}

/// The rows of every journey grouped per journey and contact by one counting sort
/// (stable, so rows pushed in time order stay in time order): one pass counts each
/// (journey, contact), one moves each row with two writes to random places (its
/// time, and the packed rest). Neither branches on the journey, which the CPU could
/// not predict.
struct Grouped {
    contacts: usize,
    /// Per (journey, contact), journey-major: where its rows end in `at` and `meta`.
    ends: Vec<u32>,
    at: Vec<u32>,
    meta: Vec<u32>,
}

impl Grouped {
    fn new(rows: Rows, journeys: usize, contacts: usize) -> Self {
        let n = rows.at.len();
        let slot = |i: usize| usize::from(rows.journey[i]) * contacts + rows.contact[i] as usize;
        // First the rows are split by the top bits of their slot into 64 runs of
        // nearby slots (64 write streams, which the caches take well), then each
        // run is counted and moved with the part of `cursor` it touches in cache:
        // moving every row straight to its place would wait on a cache miss each.
        let slots = journeys * contacts;
        let shift = (usize::BITS - slots.leading_zeros()).saturating_sub(6).min(32);
        let mut part_ends = vec![0usize; (slots >> shift) + 1];
        for i in 0..n {
            part_ends[slot(i) >> shift] += 1;
        }
        let mut next = 0;
        for end in &mut part_ends {
            next += *end;
            *end = next;
        }
        let mut parts = Rows::default();
        let mut offset = vec![0u32; n];
        (parts.at, parts.meta) = (vec![0u32; n], vec![0u32; n]);
        let mut fill: Vec<usize> =
            std::iter::once(0).chain(part_ends.iter().copied()).take(part_ends.len()).collect();
        for i in 0..n {
            let s = slot(i);
            let q = &mut fill[s >> shift];
            offset[*q] = (s & ((1 << shift) - 1)) as u32;
            parts.at[*q] = rows.at[i];
            parts.meta[*q] = rows.meta[i];
            *q += 1;
        }
        // Each run's rows move within the run's own range, so the pushed columns,
        // read already, take the result (no fresh pages to fault in).
        let Rows { mut at, mut meta, contact, journey } = rows;
        drop((contact, journey));
        let mut cursor = vec![0u32; slots];
        let mut start = 0;
        for (part, &end) in part_ends.iter().enumerate() {
            let base = part << shift;
            let run = start..end;
            for &o in &offset[run.clone()] {
                cursor[base + o as usize] += 1;
            }
            let mut next = start as u32;
            for k in &mut cursor[base..(base + (1 << shift)).min(slots)] {
                let count = *k;
                *k = next;
                next += count;
            }
            for q in run {
                let k = &mut cursor[base + offset[q] as usize];
                let p = *k as usize;
                *k += 1;
                at[p] = parts.at[q];
                meta[p] = parts.meta[q];
            }
            start = end;
        }
        // Each slot now holds where its rows end.
        Grouped { contacts, ends: cursor, at, meta }
    }

    /// Where journey `j`'s rows start in `at` and `meta`.
    fn first(&self, j: usize) -> usize {
        j.checked_sub(1).map_or(0, |_| self.ends[j * self.contacts - 1] as usize)
    }

    /// Journey `j`'s log, with `at` its part of the grouped times, its groups put in
    /// time order and checked.
    fn journey(
        &self,
        j: usize,
        journey: Journey,
        mut at: Vec<u32>,
        epoch: i64,
        contacts: &ContactTable,
    ) -> Result<JourneyLog, DomainError> {
        let ends = &self.ends[j * self.contacts..(j + 1) * self.contacts];
        let first = self.first(j) as u32;
        let last = ends.last().copied().unwrap_or(first);
        let n = (last - first) as usize;
        at.shrink_to_fit();
        let mut log = JourneyLog {
            journey,
            epoch,
            contact: Vec::new(),
            starts: Vec::new(),
            entered_from: Vec::new(),
            last: 0,
            earliest: 0,
            at,
            stage: Vec::new(),
            source: Vec::new(),
            channel: Vec::new(),
            opens: vec![false; n],
        };
        // One column at a time: each loop is a simple map the compiler vectorises.
        let meta = &self.meta[first as usize..last as usize];
        let column = |code: fn(Meta) -> u8| meta.iter().map(|&m| code(Meta(m))).collect::<Vec<u8>>();
        (log.stage, log.source, log.channel) =
            (column(Meta::to), column(Meta::source), column(Meta::channel));
        let mut start = 0u32;
        for (c, &end) in ends.iter().enumerate() {
            let end = end - first;
            if end > start {
                log.contact.push(c as u32);
                log.starts.push(start);
            }
            start = end;
        }
        log.starts.push(n as u32);
        log.contact.shrink_to_fit();
        log.starts.shrink_to_fit();
        for &s in &log.starts[..log.contact.len()] {
            log.opens[s as usize] = true;
        }
        // Rows pushed in time order (a file written in time order) leave every group
        // sorted, and the `from` stages are read from the packed column; only a log
        // with a group out of order gets a `from` column to sort along.
        let in_order = log
            .at
            .windows(2)
            .zip(log.opens.iter().skip(1))
            .fold(true, |ok, (w, &open)| ok & (open | (w[0] <= w[1])));
        if in_order {
            check_from(log, meta, |m| Meta(m).from(), contacts)
        } else {
            let mut from = column(Meta::from);
            sort_groups(&mut log, &mut from);
            check_from(log, &from, |f| f, contacts)
        }
    }
}

/// Puts each group of `log` in time order, keeping push order among equal times.
fn sort_groups(log: &mut JourneyLog, from: &mut [u8]) {
    for g in 0..log.contact.len() {
        let (start, end) = (log.starts[g] as usize, log.starts[g + 1] as usize);
        if log.at[start..end].windows(2).any(|w| w[0] > w[1]) {
            sort_group(log, from, start, end);
        }
    }
}

/// Checks that each transition's `from` (`code` of its entry in `from`) is the stage
/// before it in its group, by one flat pass over the columns, and notes each
/// member's first `from` and the log's time span.
fn check_from<T: Copy>(
    mut log: JourneyLog,
    from: &[T],
    code: impl Fn(T) -> u8,
    contacts: &ContactTable,
) -> Result<JourneyLog, DomainError> {
    let members = log.contact.len();
    log.entered_from = log.starts[..members].iter().map(|&s| code(from[s as usize])).collect();
    log.last = log.at.iter().copied().max().unwrap_or(0);
    log.earliest = log.at.iter().copied().min().unwrap_or(0);
    // Row i (but the first) against the stage before it: a flat pass the compiler
    // vectorises; the failing row is looked for only when there is one.
    let rows = || from.iter().zip(&log.opens).skip(1).zip(&log.stage);
    let follows = |((&f, &open), &before): ((&T, &bool), &u8)| open | (code(f) == before);
    if rows().fold(true, |ok, row| ok & follows(row)) {
        return Ok(log);
    }
    let Some(i) = rows().position(|row| !follows(row)).map(|p| p + 1) else {
        return Ok(log);
    };
    let g = log.starts.partition_point(|&s| s as usize <= i) - 1;
    let start = log.starts[g] as usize;
    let name = |code: u8| {
        log.journey.stage_at(usize::from(code)).map_or("(none)".to_owned(), |s| s.key().to_string())
    };
    let contact = ContactId::new(contacts.name(ContactRef(log.contact[g])))?;
    Err(DomainError::InvalidHistory {
        contact,
        journey: JourneyId::clone(log.journey.id()),
        version: (i - start + 1) as u64,
        cause: Box::new(DomainError::HistoryMismatch {
            field: "from",
            expected: name(log.stage[i - 1]),
            actual: name(code(from[i])),
        }),
    })
}

/// Puts one group in time order, keeping push order among equal times.
fn sort_group(log: &mut JourneyLog, from: &mut [u8], start: usize, end: usize) {
    let mut order: Vec<usize> = (start..end).collect();
    order.sort_by_key(|&i| log.at[i]);
    let take = |col: &[u8]| order.iter().map(|&i| col[i]).collect::<Vec<u8>>();
    let (stage, source, channel, fr) = (take(&log.stage), take(&log.source), take(&log.channel), take(from));
    let at: Vec<u32> = order.iter().map(|&i| log.at[i]).collect();
    log.at[start..end].copy_from_slice(&at);
    log.stage[start..end].copy_from_slice(&stage);
    log.source[start..end].copy_from_slice(&source);
    log.channel[start..end].copy_from_slice(&channel);
    from[start..end].copy_from_slice(&fr);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::journey::{SequencePolicy, Stage};

    fn builder() -> LogBuilder {
        let stages = ["lead", "demo", "trial"].map(|k| Stage::new(k, k).unwrap());
        let referral = Journey::new("referral", "Referral", SequencePolicy::AnyOrder, stages).unwrap();
        LogBuilder::new([referral]).unwrap()
    }

    /// Pushes `(contact, from, to, at)` rows and finishes the log.
    fn build(rows: &[(&str, Option<&str>, &str, i64)]) -> Result<TransitionLog, DomainError> {
        let mut b = builder();
        for &(contact, from, to, at) in rows {
            b.push_row(contact, "referral", from, to, at, SourceKind::Manual, None)?;
        }
        b.finish()
    }

    fn mismatch(err: DomainError) -> (String, u64, String, String) {
        match err {
            DomainError::InvalidHistory { contact, version, cause, .. } => match *cause {
                DomainError::HistoryMismatch { expected, actual, .. } => {
                    (contact.to_string(), version, expected, actual)
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn from_stages_are_checked_in_and_out_of_push_order() {
        // In push order: b's second transition left demo, but b was in lead.
        let rows = [("a", None, "lead", 10), ("b", None, "lead", 11), ("b", Some("demo"), "trial", 12)];
        assert_eq!(mismatch(build(&rows).unwrap_err()), ("b".into(), 2, "lead".into(), "demo".into()));
        // Pushed out of time order, valid once sorted.
        let rows = [("a", Some("lead"), "demo", 20), ("a", None, "lead", 10), ("b", None, "lead", 5)];
        let log = build(&rows).unwrap();
        let referral = log.journey("referral").unwrap();
        let at: Vec<i64> = referral.at.iter().map(|&t| referral.epoch + i64::from(t)).collect();
        assert_eq!((at, referral.stage.clone()), (vec![10, 20, 5], vec![0, 1, 0]));
        assert_eq!(
            (referral.entered_from.clone(), referral.opens.clone()),
            (vec![NO_STAGE; 2], vec![true, false, true])
        );
        // Out of time order and broken once sorted.
        let rows = [("a", Some("demo"), "trial", 20), ("a", None, "lead", 10)];
        assert_eq!(mismatch(build(&rows).unwrap_err()), ("a".into(), 2, "lead".into(), "demo".into()));
    }
}
