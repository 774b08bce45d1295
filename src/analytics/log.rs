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
use std::ops::Range;

use chrono::{DateTime, Utc};

use super::contacts::{ContactKeys, ContactRef, ContactTable, OTHER};
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

/// Contact keys per bucket of pushed rows (see [`JourneyRows`]).
const BUCKET_BITS: u32 = 14;
const BUCKET_MASK: u32 = (1 << BUCKET_BITS) - 1;

/// A pushed row: its contact key, its time and its [`Meta`].
type Row = [u32; 3];

/// One journey's rows as pushed, in buckets of 2^14 nearby contact keys (numbered
/// contacts by number, the others by index), each in push order. Grouping then sorts
/// one bucket at a time with a count per contact that stays in the CPU caches,
/// rather than first splitting every row by a pass of its own.
#[derive(Default)]
struct JourneyRows {
    numbered: Vec<Vec<Row>>,
    others: Vec<Vec<Row>>,
    len: usize,
}

impl JourneyRows {
    #[inline(always)]
    fn push(&mut self, row: Row, capacity: usize) {
        let key = row[0];
        let buckets = if key & OTHER == 0 { &mut self.numbered } else { &mut self.others };
        let b = ((key & !OTHER) >> BUCKET_BITS) as usize;
        match buckets.get_mut(b) {
            Some(bucket) => bucket.push(row),
            None => new_bucket(buckets, b, capacity).push(row),
        }
        self.len += 1;
    }

    /// The buckets with the first key each may hold, numbered contacts first.
    fn into_buckets(self) -> impl Iterator<Item = (u32, Vec<Row>)> {
        let first =
            |other: u32| move |(b, rows): (usize, Vec<Row>)| (other | (b as u32) << BUCKET_BITS, rows);
        let numbered = self.numbered.into_iter().enumerate().map(first(0));
        numbered.chain(self.others.into_iter().enumerate().map(first(OTHER)))
    }
}

/// Adds buckets up to number `b`, the new ones with room for `capacity` rows.
#[cold]
fn new_bucket(buckets: &mut Vec<Vec<Row>>, b: usize, capacity: usize) -> &mut Vec<Row> {
    buckets.resize_with(b + 1, || Vec::with_capacity(capacity));
    &mut buckets[b]
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
    /// Per journey, its rows.
    rows: Vec<JourneyRows>,
    /// Rows a new bucket has room for.
    bucket_capacity: usize,
    last_journey: usize,
}

impl fmt::Debug for LogBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: usize = self.rows.iter().map(|r| r.len).sum();
        f.debug_struct("LogBuilder").field("rows", &rows).finish()
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
        let count = journeys.len();
        let stages = journeys.iter().map(|j| Names::new(j.stages().map(|s| s.key().as_str()))).collect();
        Ok(LogBuilder {
            journeys,
            ids,
            stages,
            contacts: ContactKeys::default(),
            channels: Vec::new(),
            epoch: None,
            rows: std::iter::repeat_with(JourneyRows::default).take(count).collect(),
            bucket_capacity: 0,
            last_journey: 0,
        })
    }

    /// Reserves room for about `rows` more transitions.
    pub fn reserve(&mut self, rows: usize) {
        // The rows go to buckets of nearby contacts, created as contacts are seen: each
        // new one gets room for a 64th (the count of a million contacts' buckets in one
        // journey) but no more than 2^16 rows.
        self.bucket_capacity = self.bucket_capacity.max((rows / 64).min(1 << 16));
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
        let row = [contact, rel, Meta::new(to, from, source as u8, channel).0];
        match self.rows.get_mut(j) {
            Some(rows) => rows.push(row, self.bucket_capacity),
            None => {
                return Err(DomainError::UnknownJourney {
                    journey: String::from_utf8_lossy(journey).into_owned(),
                });
            }
        }
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
        let LogBuilder { journeys, mut contacts, channels, epoch, rows, .. } = self;
        let epoch = epoch.unwrap_or(0);
        let mut grouper = Grouper::default();
        let mut logs = Vec::with_capacity(journeys.len());
        for (journey, rows) in journeys.into_iter().zip(rows) {
            logs.push(grouper.journey(journey, rows, epoch, &contacts)?);
        }
        // The members hold contact keys until the table numbers the contacts.
        for log in &logs {
            contacts.mark(&log.contact);
        }
        let (contacts, final_ref) = contacts.finish()?;
        for log in &mut logs {
            for key in &mut log.contact {
                *key = final_ref(*key);
            }
        }
        let last_at = logs.iter().filter(|log| !log.is_empty()).map(|log| log.last).max();
        Ok(TransitionLog { contacts, channels, journeys: logs, epoch, last_at })
    }
}

/// Groups a journey's rows one bucket at a time, with buffers reused between buckets.
#[derive(Default)]
struct Grouper {
    /// Per contact key of the bucket: its row count, then where its next row goes.
    cursor: Vec<u32>,
    /// The bucket's rows' [`Meta`] and `from` stage, in grouped order.
    meta: Vec<u32>,
    from: Vec<u8>,
}

impl Grouper {
    /// Journey `journey`'s log of `rows`, grouped per contact (members hold contact
    /// keys), each group in time order and checked.
    fn journey(
        &mut self,
        journey: Journey,
        rows: JourneyRows,
        epoch: i64,
        contacts: &ContactKeys,
    ) -> Result<JourneyLog, DomainError> {
        let n = rows.len;
        let mut log = JourneyLog {
            journey,
            epoch,
            contact: Vec::with_capacity(n),
            starts: Vec::with_capacity(n + 1),
            entered_from: Vec::with_capacity(n),
            last: 0,
            earliest: 0,
            at: vec![0; n],
            stage: vec![0; n],
            source: vec![0; n],
            channel: vec![0; n],
            opens: vec![false; n],
        };
        self.cursor.clear();
        self.cursor.resize(1 << BUCKET_BITS, 0);
        let mut first = 0;
        for (base, bucket) in rows.into_buckets().filter(|(_, rows)| !rows.is_empty()) {
            let end = first + bucket.len();
            let members = log.contact.len();
            self.sort(&mut log, base, first, bucket);
            self.columns(&mut log, members, first..end);
            check_from(&log, &self.from, members, first..end, contacts)?;
            first = end;
        }
        log.starts.push(n as u32);
        log.contact.shrink_to_fit();
        log.starts.shrink_to_fit();
        log.entered_from.shrink_to_fit();
        log.last = log.at.iter().copied().max().unwrap_or(0);
        log.earliest = log.at.iter().copied().min().unwrap_or(0);
        Ok(log)
    }

    /// Moves the rows of a bucket (keys from `base`) to their groups at `first..` of
    /// the log (times) and of `meta`, stably, adding the bucket's members.
    fn sort(&mut self, log: &mut JourneyLog, base: u32, first: usize, bucket: Vec<Row>) {
        let cursor = &mut self.cursor;
        for row in &bucket {
            cursor[(row[0] & BUCKET_MASK) as usize] += 1;
        }
        let mut next = first as u32;
        for (key, k) in (base..).zip(cursor.iter_mut()) {
            let count = *k;
            if count > 0 {
                log.contact.push(key);
                log.starts.push(next);
            }
            *k = next;
            next += count;
        }
        self.meta.clear();
        self.meta.resize(bucket.len(), 0);
        let (at, meta) = (&mut log.at[first..], &mut self.meta[..]);
        for row in &bucket {
            let k = &mut cursor[(row[0] & BUCKET_MASK) as usize];
            let p = *k as usize - first;
            *k += 1;
            at[p] = row[1];
            meta[p] = row[2];
        }
        cursor.fill(0);
    }

    /// Fills the log's columns at `range` (the rows of the members from `members` on)
    /// from `meta`, puts any group out of time order in order, and keeps each row's
    /// `from` in `from`.
    fn columns(&mut self, log: &mut JourneyLog, members: usize, range: Range<usize>) {
        let meta = &self.meta[..range.len()];
        // One column at a time: each loop is a simple map the compiler vectorises.
        let column = |dst: &mut [u8], code: fn(Meta) -> u8| {
            for (d, &m) in dst.iter_mut().zip(meta) {
                *d = code(Meta(m));
            }
        };
        column(&mut log.stage[range.clone()], Meta::to);
        column(&mut log.source[range.clone()], Meta::source);
        column(&mut log.channel[range.clone()], Meta::channel);
        self.from.clear();
        self.from.extend(meta.iter().map(|&m| Meta(m).from()));
        for &s in &log.starts[members..] {
            log.opens[s as usize] = true;
        }
        // Rows pushed in time order (a file written in time order) leave every group
        // sorted; only a bucket with a group out of order has its groups sorted.
        let at = &log.at[range.clone()];
        let in_order = at
            .windows(2)
            .zip(log.opens[range.clone()].iter().skip(1))
            .fold(true, |ok, (w, &open)| ok & (open | (w[0] <= w[1])));
        if !in_order {
            let ends = log.starts[members + 1..].iter().map(|&s| s as usize).chain([range.end]);
            let groups: Vec<(usize, usize)> =
                log.starts[members..].iter().map(|&s| s as usize).zip(ends).collect();
            for (start, end) in groups {
                if log.at[start..end].windows(2).any(|w| w[0] > w[1]) {
                    sort_group(log, &mut self.from, range.start, start..end);
                }
            }
        }
        log.entered_from.extend(log.starts[members..].iter().map(|&s| self.from[s as usize - range.start]));
    }
}

/// Checks that each transition at `range` of `log` (the rows of the members from
/// `members` on) left the stage before it in its group, `from` holding each row's
/// `from` stage, by one flat pass over the columns.
fn check_from(
    log: &JourneyLog,
    from: &[u8],
    members: usize,
    range: Range<usize>,
    contacts: &ContactKeys,
) -> Result<(), DomainError> {
    // Row i (but the bucket's first, which opens a group) against the stage before
    // it: a flat pass the compiler vectorises; the failing row is looked for only
    // when there is one.
    let rows = || from[1..].iter().zip(&log.opens[range.start + 1..range.end]).zip(&log.stage[range.start..]);
    let follows = |((&f, &open), &before): ((&u8, &bool), &u8)| open | (f == before);
    if rows().fold(true, |ok, row| ok & follows(row)) {
        return Ok(());
    }
    let Some(i) = rows().position(|row| !follows(row)).map(|p| range.start + p + 1) else {
        return Ok(());
    };
    let g = members + log.starts[members..].partition_point(|&s| s as usize <= i) - 1;
    let start = log.starts[g] as usize;
    let name = |code: u8| {
        log.journey.stage_at(usize::from(code)).map_or("(none)".to_owned(), |s| s.key().to_string())
    };
    let contact = ContactId::new(contacts.name(log.contact[g]))?;
    Err(DomainError::InvalidHistory {
        contact,
        journey: JourneyId::clone(log.journey.id()),
        version: (i - start + 1) as u64,
        cause: Box::new(DomainError::HistoryMismatch {
            field: "from",
            expected: name(log.stage[i - 1]),
            actual: name(from[i - range.start]),
        }),
    })
}

/// Puts the group at `group` in time order, keeping push order among equal times;
/// `from` holds the `from` stages of the rows from `first` on.
fn sort_group(log: &mut JourneyLog, from: &mut [u8], first: usize, group: Range<usize>) {
    let mut order: Vec<usize> = group.clone().collect();
    order.sort_by_key(|&i| log.at[i]);
    let take = |col: &[u8]| order.iter().map(|&i| col[i]).collect::<Vec<u8>>();
    let (stage, source, channel) = (take(&log.stage), take(&log.source), take(&log.channel));
    let fr: Vec<u8> = order.iter().map(|&i| from[i - first]).collect();
    let at: Vec<u32> = order.iter().map(|&i| log.at[i]).collect();
    log.at[group.clone()].copy_from_slice(&at);
    log.stage[group.clone()].copy_from_slice(&stage);
    log.source[group.clone()].copy_from_slice(&source);
    log.channel[group.clone()].copy_from_slice(&channel);
    from[group.start - first..group.end - first].copy_from_slice(&fr);
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

    #[test]
    fn rows_of_contacts_in_several_buckets_are_grouped_and_checked() {
        // Numbered contacts in buckets 0, 1 and 3 and one that is not numbered, pushed
        // interleaved and partly out of time order.
        let rows = [
            ("c0050000", None, "lead", 30),
            ("c0000007", None, "lead", 10),
            ("ada", None, "lead", 5),
            ("c0020000", Some("lead"), "demo", 40),
            ("c0000007", Some("lead"), "trial", 11),
            ("c0020000", None, "lead", 15),
            ("ada", Some("lead"), "demo", 6),
        ];
        let log = build(&rows).unwrap();
        let names: Vec<&str> = log.contacts().iter().map(|(_, name)| name).collect();
        assert_eq!(names, ["c0000007", "c0020000", "c0050000", "ada"]);
        let referral = log.journey("referral").unwrap();
        let at: Vec<i64> = referral.at.iter().map(|&t| referral.epoch + i64::from(t)).collect();
        assert_eq!(
            (referral.contact.clone(), referral.starts.clone()),
            (vec![0, 1, 2, 3], vec![0, 2, 4, 5, 7])
        );
        assert_eq!((at, referral.stage.clone()), (vec![10, 11, 15, 40, 30, 5, 6], vec![0, 2, 0, 1, 0, 0, 1]));
        assert_eq!(referral.opens, [true, false, true, false, true, true, false]);
        assert_eq!(log.last_at().map(|t| t.timestamp()), Some(40));
        // A broken history in a later bucket names its contact and transition.
        let mut broken = rows.to_vec();
        broken.push(("c0050000", Some("demo"), "trial", 31));
        assert_eq!(
            mismatch(build(&broken).unwrap_err()),
            ("c0050000".into(), 2, "lead".into(), "demo".into())
        );
        broken[7] = ("ada", Some("lead"), "trial", 31);
        assert_eq!(mismatch(build(&broken).unwrap_err()), ("ada".into(), 3, "demo".into(), "lead".into()));
    }
}
