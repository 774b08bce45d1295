//! Writing transitions in the import format, so an export imports back as-is.

use std::io::Write;

use chrono::SecondsFormat;

use super::error::ImportError;
use super::format::COLUMNS;
use crate::model::ids::{InteractionKey, Note};
use crate::model::transition::Transition;

/// Writes transitions as CSV rows under the format's header.
///
/// The `source` column holds [`Source::reported_kind`](crate::Source::reported_kind),
/// so a back-filled manual move stays manual through export and import.
///
/// ```
/// use journeys::import::CsvExport;
/// let mut export = CsvExport::new(Vec::new())?;
/// assert_eq!(export.written(), 0);
/// let csv = String::from_utf8(export.finish()?).unwrap();
/// assert_eq!(csv, "contact_id,journey,from_stage,to_stage,at,source,channel,interaction,note\n");
/// # Ok::<(), journeys::import::ImportError>(())
/// ```
#[derive(Debug)]
pub struct CsvExport<W: Write> {
    writer: csv::Writer<W>,
    written: u64,
}

impl<W: Write> CsvExport<W> {
    /// Starts an export to `writer` by writing the header.
    ///
    /// # Errors
    /// [`ImportError::Io`] (code `io_error`) if the writer fails.
    pub fn new(writer: W) -> Result<Self, ImportError> {
        let mut writer = csv::Writer::from_writer(writer);
        writer.write_record(COLUMNS).map_err(io_error)?;
        Ok(CsvExport { writer, written: 0 })
    }

    /// Writes one transition.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn write(&mut self, t: &Transition) -> Result<(), ImportError> {
        let at = t.occurred_at.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        let touchpoint = t.touchpoint.as_deref();
        self.writer
            .write_record([
                t.contact.as_str(),
                t.journey.as_str(),
                t.from.as_ref().map_or("", |s| s.as_str()),
                t.to.as_str(),
                &at,
                t.source.reported_kind(),
                touchpoint.map_or("", |tp| tp.channel.as_str()),
                touchpoint.and_then(|tp| tp.interaction.as_ref()).map_or("", InteractionKey::as_str),
                touchpoint.and_then(|tp| tp.note.as_ref()).map_or("", Note::as_str),
            ])
            .map_err(io_error)?;
        self.written += 1;
        Ok(())
    }

    /// How many transitions were written.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flushes and returns the writer.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn finish(self) -> Result<W, ImportError> {
        self.writer.into_inner().map_err(|e| ImportError::Io { message: e.error().to_string() })
    }
}

fn io_error(error: csv::Error) -> ImportError {
    ImportError::Io { message: error.to_string() }
}
