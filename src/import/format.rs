//! The CSV format: columns by header name, and one record read into a [`Row`].

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use csv::ByteRecord;

use super::error::ImportError;
use crate::error::DomainError;
use crate::model::ids::{ChannelKey, InteractionKey, Note};
use crate::model::transition::{SourceKind, TouchpointInfo};
use crate::timestamp::TimeParser;

/// The columns the format knows, in the order export writes them.
pub(crate) const COLUMNS: [&str; 9] =
    ["contact_id", "journey", "from_stage", "to_stage", "at", "source", "channel", "interaction", "note"];

/// Where each known column is in the file's records.
#[derive(Clone, Debug)]
pub(crate) struct Header {
    contact: usize,
    journey: usize,
    stage: usize,
    at: Option<usize>,
    from_stage: Option<usize>,
    source: Option<usize>,
    channel: Option<usize>,
    interaction: Option<usize>,
    note: Option<usize>,
    width: usize,
}

impl Header {
    /// Maps the header record's names to columns. Names are matched exactly, after
    /// trimming white space.
    ///
    /// # Errors
    /// `unknown_column` (unless `ignore_unknown`), `duplicate_column`,
    /// `missing_column`, or `malformed_csv` for a name that is not UTF-8.
    pub(crate) fn parse(record: &ByteRecord, ignore_unknown: bool) -> Result<Self, ImportError> {
        let mut slots: [Option<usize>; 9] = [None; 9];
        for index in 0..record.len() {
            let name = std::str::from_utf8(field(record, index))
                .map_err(|_| ImportError::MalformedCsv {
                    message: format!("header field {} is not UTF-8", index + 1),
                })?
                .trim();
            let column = match name {
                "stage" => Some(3),
                name => COLUMNS.iter().position(|c| *c == name),
            };
            match column {
                Some(c) if slots[c].is_some() => {
                    return Err(ImportError::DuplicateColumn { column: name.to_owned() });
                }
                Some(c) => slots[c] = Some(index),
                None if ignore_unknown => {}
                None => return Err(ImportError::UnknownColumn { column: name.to_owned() }),
            }
        }
        let required = |c: usize, column: &'static str| slots[c].ok_or(ImportError::MissingColumn { column });
        Ok(Header {
            contact: required(0, "contact_id")?,
            journey: required(1, "journey")?,
            stage: required(3, "stage")?,
            from_stage: slots[2],
            at: slots[4],
            source: slots[5],
            channel: slots[6],
            interaction: slots[7],
            note: slots[8],
            width: record.len(),
        })
    }

    /// The contact field of `record` as text, if present: what a report names even
    /// when the rest of the row is refused.
    pub(crate) fn contact_text(&self, record: &ByteRecord) -> Option<String> {
        Some(field(record, self.contact))
            .filter(|f| !f.is_empty())
            .map(|f| String::from_utf8_lossy(f).into_owned())
    }

    /// The contact and journey fields of `record`, unchecked: what
    /// [`Batch::warm`](super::batch::Batch::warm) reads ahead of the row.
    pub(crate) fn membership_fields<'r>(&self, record: &'r ByteRecord) -> (&'r [u8], &'r [u8]) {
        (field(record, self.contact), field(record, self.journey))
    }

    /// Reads `record` into a row, checking every field that needs no state; `instants`
    /// reads the `at` column (it keeps the day and minute of the rows before).
    ///
    /// # Errors
    /// `malformed_csv`, `missing_field`, `bad_timestamp`, or a domain error for an
    /// invalid `source`, `channel`, `interaction` or `note`.
    pub(crate) fn row<'r>(
        &self,
        record: &'r ByteRecord,
        instants: &mut InstantReader,
    ) -> Result<Row<'r>, ImportError> {
        if record.len() != self.width {
            return Err(ImportError::MalformedCsv {
                message: format!("the row has {} fields, the header {}", record.len(), self.width),
            });
        }
        // The record's text is checked once; a field is then a slice of it, unless its
        // bounds split a character, when (as for text that is not UTF-8) the field is
        // checked alone and named.
        let text = std::str::from_utf8(record.as_slice()).ok();
        let field = |index: usize, column: &'static str| -> Result<&'r str, ImportError> {
            match text.zip(record.range(index)).and_then(|(text, range)| text.get(range)) {
                // As `field` does, the `\r` of a CRLF line ending is dropped.
                Some(text) if index + 1 == record.len() => Ok(text.strip_suffix('\r').unwrap_or(text)),
                Some(text) => Ok(text),
                None => std::str::from_utf8(field(record, index)).map_err(|_| ImportError::MalformedCsv {
                    message: format!("the {column} field is not UTF-8"),
                }),
            }
        };
        let required = |index: usize, column: &'static str| match field(index, column)? {
            "" => Err(ImportError::MissingField { column }),
            text => Ok(text),
        };
        let optional = |index: Option<usize>, column: &'static str| match index {
            Some(index) => field(index, column).map(|text| (!text.is_empty()).then_some(text)),
            None => Ok(None),
        };
        let contact = required(self.contact, "contact_id")?;
        let journey = required(self.journey, "journey")?;
        let stage = required(self.stage, "stage")?;
        let from_stage = match self.from_stage {
            Some(index) => Some(field(index, "from_stage")?),
            None => None,
        };
        let at = optional(self.at, "at")?.map(|at| instants.read(at)).transpose()?;
        let origin = optional(self.source, "source")?
            .map(|text| {
                SourceKind::from_key(text).ok_or_else(|| DomainError::InvalidValue {
                    field: "source",
                    value: text.to_owned(),
                    reason: "must be automation, import, manual or system",
                })
            })
            .transpose()?;
        let channel = optional(self.channel, "channel")?;
        let interaction = optional(self.interaction, "interaction")?;
        let note = optional(self.note, "note")?;
        let touchpoint = match (channel, interaction, note) {
            (None, None, None) => None,
            (None, _, _) => return Err(ImportError::MissingField { column: "channel" }),
            (Some(channel), interaction, note) => Some(TouchpointInfo {
                channel: ChannelKey::new(channel)?,
                interaction: interaction.map(InteractionKey::new).transpose()?,
                note: note.map(Note::new).transpose()?,
            }),
        };
        Ok(Row { contact, journey, stage, from_stage, at, origin, touchpoint })
    }
}

/// Whether `record` is a blank line: no fields, or only the `\r` of a CRLF line.
pub(crate) fn is_blank(record: &ByteRecord) -> bool {
    record.len() <= 1 && field(record, 0).is_empty()
}

/// Field `index` of `record` (empty if absent). Records end at `\n`, so that the
/// reader's line numbers are right for CRLF files too; the `\r` of a CRLF line
/// ending is dropped from the last field here.
fn field(record: &ByteRecord, index: usize) -> &[u8] {
    let raw = record.get(index).unwrap_or_default();
    match raw {
        [rest @ .., b'\r'] if index + 1 == record.len() => rest,
        _ => raw,
    }
}

/// One record's fields, checked as far as they can be without the contact's state.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Row<'r> {
    /// The contact's id as written (validated when first seen).
    pub(crate) contact: &'r str,
    /// The journey's id as written.
    pub(crate) journey: &'r str,
    /// The stage to enter, as written.
    pub(crate) stage: &'r str,
    /// The precondition: `Some("")` entering the journey, `None` no precondition.
    pub(crate) from_stage: Option<&'r str>,
    /// When the move happened; `None`: the import's time.
    pub(crate) at: Option<DateTime<Utc>>,
    /// The kind of source the row names.
    pub(crate) origin: Option<SourceKind>,
    /// The interaction behind the move.
    pub(crate) touchpoint: Option<TouchpointInfo>,
}

/// Reads the `at` column as RFC 3339 instants. The format's own shape,
/// `2026-01-05T13:04:11Z`, goes through the crate's fast reader of it (parsing times
/// is most of a large file's parsing time), and the date of the previous such
/// instant is kept, so that building the next one on the same day costs no calendar
/// arithmetic; anything else goes through chrono.
#[derive(Debug, Default)]
pub(crate) struct InstantReader {
    times: TimeParser,
    /// The previous fast-path instant's day (since the Unix epoch) and date.
    day: Option<(i64, NaiveDate)>,
}

impl InstantReader {
    /// The instant `text` names.
    ///
    /// # Errors
    /// `bad_timestamp` naming the text for anything that is not RFC 3339.
    pub(crate) fn read(&mut self, text: &str) -> Result<DateTime<Utc>, ImportError> {
        if let Some(at) = self.times.fast(text.as_bytes()).and_then(|seconds| self.instant(seconds)) {
            return Ok(at);
        }
        DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|e| ImportError::BadTimestamp { value: text.to_owned(), reason: e.to_string() })
    }

    /// The instant `seconds` after the Unix epoch.
    fn instant(&mut self, seconds: i64) -> Option<DateTime<Utc>> {
        let (day, second) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
        let date = match self.day {
            Some((kept, date)) if kept == day => date,
            _ => {
                let date = DateTime::from_timestamp(day * 86_400, 0)?.date_naive();
                self.day = Some((day, date));
                date
            }
        };
        let time = NaiveTime::from_num_seconds_from_midnight_opt(u32::try_from(second).ok()?, 0)?;
        Some(date.and_time(time).and_utc())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &[&str]) -> ByteRecord {
        ByteRecord::from(fields.to_vec())
    }

    #[test]
    fn instants_of_the_fast_shape_and_others_agree_with_chrono() {
        let mut times = InstantReader::default();
        for text in ["2026-01-05T13:04:11Z", "2024-02-29T23:59:59Z", "1970-01-01T00:00:00Z"] {
            let slow = DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
            assert_eq!(times.read(text), Ok(slow), "{text}");
        }
        for text in
            ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z", "26-01-01T00:00:00Z"]
        {
            assert_eq!(times.read(text).unwrap_err().code(), "bad_timestamp", "{text}");
        }
        // RFC 3339 allows a space for the `T`, and fractions and offsets: chrono's.
        assert!(times.read("2026-01-01 00:00:00Z").is_ok());
        assert_eq!(
            times.read("2026-01-05T14:04:11.5+01:00").unwrap(),
            DateTime::parse_from_rfc3339("2026-01-05T13:04:11.5Z").unwrap().with_timezone(&Utc)
        );
    }

    #[test]
    fn columns_are_found_by_name_in_any_order() {
        let header = Header::parse(&record(&["at", "stage", "journey", "contact_id"]), false).unwrap();
        let row = record(&["2026-01-05T13:04:11Z", "lead", "referral", "c1"]);
        let row = header.row(&row, &mut InstantReader::default()).unwrap();
        assert_eq!((row.contact, row.journey, row.stage, row.from_stage), ("c1", "referral", "lead", None));
        assert_eq!(row.at, Some(InstantReader::default().read("2026-01-05T13:04:11Z").unwrap()));
    }

    #[test]
    fn header_problems_name_the_column() {
        let unknown =
            Header::parse(&record(&["contact_id", "journey", "stage", "colour"]), false).unwrap_err();
        assert_eq!(unknown, ImportError::UnknownColumn { column: "colour".into() });
        assert!(Header::parse(&record(&["contact_id", "journey", "stage", "colour"]), true).is_ok());
        let twice =
            Header::parse(&record(&["contact_id", "journey", "stage", "to_stage"]), false).unwrap_err();
        assert_eq!(twice.code(), "duplicate_column");
        let missing = Header::parse(&record(&["contact_id", "stage"]), false).unwrap_err();
        assert_eq!(missing, ImportError::MissingColumn { column: "journey" });
    }

    #[test]
    fn field_problems_have_their_own_codes() {
        let header = Header::parse(
            &record(&["contact_id", "journey", "stage", "at", "source", "channel", "note"]),
            false,
        )
        .unwrap();
        let code =
            |fields: &[&str]| header.row(&record(fields), &mut InstantReader::default()).unwrap_err().code();
        assert_eq!(code(&["c1", "referral", "lead"]), "malformed_csv");
        assert_eq!(code(&["c1", "", "lead", "", "", "", ""]), "missing_field");
        assert_eq!(code(&["c1", "referral", "lead", "yesterday", "", "", ""]), "bad_timestamp");
        assert_eq!(code(&["c1", "referral", "lead", "", "crm", "", ""]), "invalid_value");
        assert_eq!(code(&["c1", "referral", "lead", "", "", "", "called"]), "missing_field");
        assert_eq!(code(&["c1", "referral", "lead", "", "", "E-Mail", ""]), "invalid_id");
        // Valid UTF-8 as a whole, but the journey field ends inside a character.
        let split = ByteRecord::from(vec![&b"c1"[..], b"\xC3", b"\xA9", b"", b"", b"", b""]);
        let error = header.row(&split, &mut InstantReader::default()).unwrap_err();
        assert_eq!(error, ImportError::MalformedCsv { message: "the journey field is not UTF-8".into() });
        let fields = record(&["c1", "referral", "lead", "", "manual", "email", "called back"]);
        let ok = header.row(&fields, &mut InstantReader::default()).unwrap();
        assert_eq!(ok.origin, Some(SourceKind::Manual));
        assert_eq!(ok.touchpoint.unwrap().note.unwrap(), "called back");
    }
}
