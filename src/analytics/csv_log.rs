//! Reading the transitions CSV format (v1) into a [`TransitionLog`].
//!
//! Header `contact_id,journey,from_stage,to_stage,at,source` (any column order, an
//! optional `channel` column); `at` in RFC 3339. Records are parsed by the `csv`
//! crate's own parser, [`csv_core`], straight from large blocks of the input into
//! reused buffers (the `csv` crate's reader would copy every byte twice more); the
//! common `YYYY-MM-DDTHH:MM:SSZ` form of `at` is parsed by hand and anything else by
//! chrono.

use std::io::{self, Read};

use chrono::DateTime;

use super::log::{LogBuilder, TransitionLog};
use super::names::Names;
use crate::error::DomainError;
use crate::model::journey::Journey;
use crate::model::transition::SourceKind;
use crate::timestamp::TimeParser;

/// Why a transitions CSV could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The CSV itself is malformed or could not be read.
    #[error("reading transitions CSV: {source}")]
    Csv {
        /// The reader's error (I/O).
        #[from]
        source: csv::Error,
    },
    /// A record has another number of fields than the header.
    #[error("transitions CSV line {line}: {found} fields where the header has {expected}")]
    FieldCount {
        /// The line of the file (1 is the header).
        line: u64,
        /// The header's fields.
        expected: usize,
        /// The record's fields.
        found: usize,
    },
    /// The header lacks a column the format requires.
    #[error("transitions CSV has no {column:?} column")]
    MissingColumn {
        /// The column's name.
        column: &'static str,
    },
    /// A row names an unknown journey or stage, or holds an invalid id or time.
    #[error("transitions CSV line {line}: {source}")]
    Row {
        /// The line of the file (1 is the header).
        line: u64,
        /// What is wrong.
        source: DomainError,
    },
    /// The rows do not form valid histories (a `from_stage` that is not the stage
    /// the contact was in).
    #[error("transitions CSV: {source}")]
    History {
        /// What is wrong.
        source: DomainError,
    },
}

impl LoadError {
    /// A stable, machine-readable code for the variant, e.g. `"missing_column"`.
    pub fn code(&self) -> &'static str {
        match self {
            LoadError::Csv { .. } => "csv",
            LoadError::FieldCount { .. } => "field_count",
            LoadError::MissingColumn { .. } => "missing_column",
            LoadError::Row { .. } => "invalid_row",
            LoadError::History { .. } => "invalid_history",
        }
    }
}

const COLUMNS: [&str; 6] = ["contact_id", "journey", "from_stage", "to_stage", "at", "source"];

impl TransitionLog {
    /// Reads the transitions CSV format from `reader` for `journeys` (rows of other
    /// journeys are an error). `size_hint` (bytes, e.g. the file's length; 0 if
    /// unknown) pre-sizes the columns.
    ///
    /// ```
    /// use journeys::analytics::TransitionLog;
    /// use journeys::{Journey, SequencePolicy, Stage};
    /// let csv = "contact_id,journey,from_stage,to_stage,at,source\n\
    ///            c1,referral,,lead,2026-01-05T13:04:11Z,import\n\
    ///            c1,referral,lead,trial,2026-01-09T08:00:00Z,manual\n";
    /// let referral = Journey::new("referral", "Referral", SequencePolicy::AnyOrder,
    ///     [Stage::new("lead", "Lead")?, Stage::new("trial", "Trial")?])?;
    /// let log = TransitionLog::read_csv(csv.as_bytes(), [referral], 0)?;
    /// assert_eq!(log.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`LoadError`]: a malformed file, a missing column, a bad row (with its line)
    /// or an inconsistent history.
    pub fn read_csv(
        reader: impl Read,
        journeys: impl IntoIterator<Item = Journey>,
        size_hint: u64,
    ) -> Result<Self, LoadError> {
        let mut records = Records::new(reader);
        let header: Vec<Vec<u8>> = match records.next().map_err(csv_error)? {
            Some(n) => {
                let (text, ends) = records.record(n);
                ends.windows(2).map(|w| text.get(w[0]..w[1]).unwrap_or_default().to_vec()).collect()
            }
            None => Vec::new(),
        };
        let find = |name: &'static str| header.iter().position(|h| h == name.as_bytes());
        let mut idx = [0usize; 6];
        for (slot, column) in idx.iter_mut().zip(COLUMNS) {
            *slot = find(column).ok_or(LoadError::MissingColumn { column })?;
        }
        let channel_idx = find("channel");
        let layout = Layout::new(idx, header.len());
        let mut builder = LogBuilder::new(journeys).map_err(|source| LoadError::History { source })?;
        // About 63 bytes per row in the benchmark data.
        let rows = usize::try_from(size_hint / 60).unwrap_or(0);
        builder.reserve(rows);
        let mut times = TimeParser::default();
        let kinds = Names::new(SourceKind::ALL.map(SourceKind::as_str));
        loop {
            let line = records.line();
            let Some(found) = records.next().map_err(csv_error)? else { break };
            if found != header.len() {
                return Err(LoadError::FieldCount { line, expected: header.len(), found });
            }
            let (text, ends) = records.record(found);
            let [contact, journey, from, to, at, source] = layout.fields(text, ends);
            let mut row = || -> Result<(), DomainError> {
                let at = parse_time(&mut times, at)?;
                let source = source_kind(&kinds, source)?;
                let from = Some(from).filter(|f| !f.is_empty());
                let channel = channel_idx.map(|i| field(text, ends, i)).filter(|c| !c.is_empty());
                builder.push_bytes(contact, journey, from, to, at, source, channel)
            };
            row().map_err(|source| LoadError::Row { line, source })?;
        }
        builder.finish().map_err(|source| LoadError::History { source })
    }
}

/// Where the columns of [`COLUMNS`] are in a record.
enum Layout {
    /// First and in that order, with no other column: each record's fields are cut
    /// one after the other at its first seven offsets, taken with one check.
    Standard,
    /// Anywhere: each field is found by its column.
    Columns([usize; 6]),
}

impl Layout {
    fn new(columns: [usize; 6], fields: usize) -> Self {
        if columns == [0, 1, 2, 3, 4, 5] && fields == 6 { Layout::Standard } else { Layout::Columns(columns) }
    }

    /// The fields of [`COLUMNS`] in a record of text `text` and field offsets `ends`.
    #[inline(always)]
    fn fields<'a>(&self, text: &'a [u8], ends: &[usize]) -> [&'a [u8]; 6] {
        match (self, ends.first_chunk::<7>()) {
            (Layout::Standard, Some(e)) => {
                // The fields follow each other: each is cut off the front of the rest.
                let mut rest = text.get(e[0]..).unwrap_or_default();
                let mut cut = |i: usize| {
                    let (field, after) =
                        rest.split_at_checked(e[i + 1].wrapping_sub(e[i])).unwrap_or_default();
                    rest = after;
                    field
                };
                [cut(0), cut(1), cut(2), cut(3), cut(4), cut(5)]
            }
            (Layout::Columns(columns), _) => columns.map(|i| field(text, ends, i)),
            (Layout::Standard, None) => [&[]; 6],
        }
    }
}

/// Field `i` of a record of text `text` and field offsets `ends` (empty past the
/// last).
#[inline(always)]
fn field<'a>(text: &'a [u8], ends: &[usize], i: usize) -> &'a [u8] {
    match (ends.get(i), ends.get(i + 1)) {
        (Some(&start), Some(&end)) => text.get(start..end).unwrap_or_default(),
        _ => &[],
    }
}

/// The load error of an error reading the input.
#[cold]
fn csv_error(e: io::Error) -> LoadError {
    LoadError::Csv { source: e.into() }
}

/// The source kind named `text`, found in `kinds` (the names of [`SourceKind::ALL`]).
#[inline]
fn source_kind(kinds: &Names, text: &[u8]) -> Result<SourceKind, DomainError> {
    kinds.position(text).and_then(|i| SourceKind::ALL.get(i).copied()).ok_or_else(|| {
        DomainError::InvalidValue {
            field: "source",
            value: String::from_utf8_lossy(text).into_owned(),
            reason: "is not automation, import, manual or system",
        }
    })
}

/// The records of a CSV stream, parsed by [`csv_core`] from 1 MiB blocks read
/// straight from the input; the current record's fields stay in reused buffers.
struct Records<R> {
    input: R,
    parser: csv_core::Reader,
    block: Vec<u8>,
    /// The part of `block` not parsed yet.
    start: usize,
    end: usize,
    /// Whether the input is exhausted.
    eof: bool,
    /// The current record's fields, one after another, and where each starts: field
    /// `i` is `fields[ends[i]..ends[i + 1]]` (the parser writes the ends after the
    /// first entry, which stays 0).
    fields: Vec<u8>,
    ends: Vec<usize>,
}

impl<R: Read> Records<R> {
    fn new(input: R) -> Self {
        Records {
            input,
            parser: csv_core::Reader::new(),
            block: vec![0; 1 << 20],
            start: 0,
            end: 0,
            eof: false,
            fields: vec![0; 1 << 10],
            ends: vec![0; 17],
        }
    }

    /// Reads the next record: its number of fields, or `None` at the end (an error
    /// only from reading the input, small enough to come back in registers).
    #[inline(always)]
    fn next(&mut self) -> io::Result<Option<usize>> {
        use csv_core::ReadRecordResult::{End, InputEmpty, OutputEndsFull, OutputFull, Record};
        let (mut written, mut ended) = (0, 0);
        loop {
            if self.start == self.end && !self.eof {
                self.refill()?;
            }
            let (result, read, wrote, ends) = self.parser.read_record(
                &self.block[self.start..self.end],
                &mut self.fields[written..],
                &mut self.ends[1 + ended..],
            );
            self.start += read;
            written += wrote;
            ended += ends;
            match result {
                InputEmpty if self.eof && self.start == self.end && read == 0 => return Ok(None),
                InputEmpty => {}
                OutputFull => self.fields.resize(2 * self.fields.len(), 0),
                OutputEndsFull => self.ends.resize(2 * self.ends.len() + 1, 0),
                Record => return Ok(Some(ended)),
                End => return Ok(None),
            }
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        let read = loop {
            match self.input.read(&mut self.block) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other?,
            }
        };
        (self.start, self.end, self.eof) = (0, read, read == 0);
        Ok(())
    }

    /// The text of the current record's `n` fields, and where each starts and ends in
    /// it (`n + 1` offsets).
    #[inline]
    fn record(&self, n: usize) -> (&[u8], &[usize]) {
        (&self.fields, self.ends.get(..=n).unwrap_or_default())
    }

    /// The line the parser is at (where the next record starts).
    fn line(&self) -> u64 {
        self.parser.line()
    }
}

/// Seconds since the Unix epoch of an RFC 3339 time: the rows' own shape by
/// `times`, anything else by chrono.
#[inline]
fn parse_time(times: &mut TimeParser, text: &[u8]) -> Result<i64, DomainError> {
    match times.fast(text) {
        Some(t) => Ok(t),
        None => slow_time(text),
    }
}

/// Seconds since the Unix epoch of any RFC 3339 time, by chrono.
#[cold]
fn slow_time(text: &[u8]) -> Result<i64, DomainError> {
    let bad = || DomainError::InvalidValue {
        field: "at",
        value: String::from_utf8_lossy(text).into_owned(),
        reason: "is not an RFC 3339 time",
    };
    let text = std::str::from_utf8(text).map_err(|_| bad())?;
    DateTime::parse_from_rfc3339(text).map(|t| t.timestamp()).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::journey::{SequencePolicy, Stage};

    #[test]
    fn columns_in_any_order_read_as_the_standard_layout() {
        let referral = || {
            let stages = ["lead", "demo"].map(|k| Stage::new(k, k).unwrap());
            Journey::new("referral", "Referral", SequencePolicy::AnyOrder, stages).unwrap()
        };
        let standard = "contact_id,journey,from_stage,to_stage,at,source\n\
                        c1,referral,,lead,2026-01-05T13:04:11Z,import\n\
                        c2,referral,,lead,2026-01-05T13:05:00Z,manual\n\
                        c1,referral,lead,demo,2026-01-06T08:00:00Z,automation\n";
        let reordered = "note,at,channel,to_stage,source,from_stage,journey,contact_id\n\
                         x,2026-01-05T13:04:11Z,email,lead,import,,referral,c1\n\
                         y,2026-01-05T13:05:00Z,,lead,manual,,referral,c2\n\
                         z,2026-01-06T08:00:00Z,phone,demo,automation,lead,referral,c1\n";
        let read = |csv: &str| TransitionLog::read_csv(csv.as_bytes(), [referral()], 0).unwrap();
        let (a, b) = (read(standard), read(reordered));
        let columns = |log: &TransitionLog| {
            let j = log.journey("referral").unwrap();
            (j.contact.clone(), j.at.clone(), j.stage.clone(), j.source.clone(), j.entered_from.clone())
        };
        assert_eq!(columns(&a), columns(&b));
        let names =
            |log: &TransitionLog| log.contacts().iter().map(|(_, n)| n.to_owned()).collect::<Vec<_>>();
        assert_eq!(names(&a), names(&b));
        assert_eq!(a.journey("referral").unwrap().channel, [0, 0, 0]);
        let channels: Vec<&str> = b.channels().iter().map(|c| c.as_str()).collect();
        assert_eq!(
            (channels, b.journey("referral").unwrap().channel.clone()),
            (vec!["email", "phone"], vec![1, 2, 0])
        );
        // A bad row is still reported at its line in either layout.
        let bad = reordered.replace("demo,automation", "demo,robot");
        let err = TransitionLog::read_csv(bad.as_bytes(), [referral()], 0).unwrap_err();
        assert!(matches!(err, LoadError::Row { line: 4, .. }), "{err}");
    }

    #[test]
    fn times_of_other_shapes_are_chrono_s() {
        let mut times = TimeParser::default();
        let plus_one = parse_time(&mut times, b"2026-01-05T14:04:11+01:00").unwrap();
        assert_eq!(plus_one, parse_time(&mut times, b"2026-01-05T13:04:11Z").unwrap());
        assert!(parse_time(&mut times, b"2026-02-30T00:00:00Z").is_err());
        // Anything else is chrono's to parse or refuse.
        for other in [
            "2026-01-05T13:04:1aZ",
            "2026-01-05T13-04:11Z",
            "2026-01-05T1/:04:11Z",
            "2026-01-05T13:60:00Z",
            "2026-01-05T13:04:\u{7f}1Z",
            "2026-01-05T13:04:11z",
            "2026-01-05 13:04:11Z",
            "2026-01-05T13:0a:11Z",
            "2026-01-05T13;04:11Z",
            "2026-01-05T24:04:11Z",
        ] {
            assert_eq!(times.fast(other.as_bytes()), None, "{other}");
            let chrono = DateTime::parse_from_rfc3339(other).map(|t| t.timestamp()).ok();
            assert_eq!(parse_time(&mut times, other.as_bytes()).ok(), chrono, "{other}");
        }
    }
}
