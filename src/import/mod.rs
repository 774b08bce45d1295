//! Bulk import and export of journey moves as CSV.
//!
//! Users move many contacts at once by uploading a file, or back-fill history from
//! another system. Every row goes through [`decide`](crate::decide) exactly like a
//! manual move — there is no bypass — and every imported transition carries its
//! provenance: [`Source::Import`](crate::Source::Import) with the batch id and the
//! row's line.
//!
//! # The format
//!
//! Columns are found by header name, in any order:
//!
//! | column | |
//! |---|---|
//! | `contact_id` | required |
//! | `journey` | required |
//! | `stage` or `to_stage` | required: the stage entered |
//! | `at` | RFC 3339; empty or absent: the import's clock time |
//! | `from_stage` | a precondition: the row applies only if the contact is in that stage now; empty: entering the journey |
//! | `source` | `automation`, `import`, `manual` or `system`: kept as [`Source::Import::origin`](crate::Source::Import::origin) |
//! | `channel`, `interaction`, `note` | the touchpoint |
//!
//! RFC 4180 quoting, UTF-8 with or without a byte-order mark, `\n` or `\r\n`, and a
//! configurable delimiter. Other columns are an error unless
//! [`ImportOptions::ignore_unknown_columns`] is set. The benchmark transitions format
//! (`contact_id,journey,from_stage,to_stage,at,source`) imports as-is, and
//! [`CsvExport`] writes this format, so an export imports back.
//!
//! # Modes
//!
//! - [`Mode::BestEffort`]: valid rows are applied, committed in chunks of
//!   [`ImportOptions::chunk_rows`]; the others are reported.
//! - [`Mode::Atomic`]: every row is checked against the state the rows before it
//!   leave, then all are applied in one commit, or — if any row is refused — none.
//! - [`ImportOptions::dry_run`] checks and reports without writing, in either mode.
//!
//! The engine's [`import_csv`](crate::JourneyEngine::import_csv) runs an import
//! against its repository in one call:
//!
//! ```
//! use journeys::{InMemoryRepository, Journey, JourneyEngine, SequencePolicy, Stage};
//! use journeys::import::{ImportOptions, UnknownContacts};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let engine = JourneyEngine::new(InMemoryRepository::new());
//! engine.define_journey(Journey::new("referral", "Referral", SequencePolicy::RequiresSequence,
//!     [Stage::new("lead", "Lead")?, Stage::new("demo", "Demo")?, Stage::new("trial", "Trial")?])?).await?;
//! let csv = "contact_id,journey,stage,at\n\
//!            c1,referral,lead,2026-01-05T09:00:00Z\n\
//!            c1,referral,demo,2026-01-06T09:00:00Z\n\
//!            c2,referral,trial,2026-01-06T09:00:00Z\n";
//! let options = ImportOptions::new("jan.csv".parse()?).unknown_contacts(UnknownContacts::Create);
//! let report = engine.import_csv(csv.as_bytes(), &options).await?;
//! assert_eq!((report.rows, report.applied, report.refused), (3, 2, 1));
//! assert_eq!(report.errors[0].line, 4);
//! assert_eq!(report.errors[0].error.code(), "sequence_violation");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod batch;
mod error;
mod export;
mod format;

pub(crate) use batch::{Batch, Existence, Lookup, Outcome};
pub use error::ImportError;
pub use export::CsvExport;
pub(crate) use format::{Header, InstantReader, Row, is_blank};

use crate::model::ids::BatchId;

/// Rows a best-effort import commits at once, unless set with
/// [`ImportOptions::chunk_rows`].
pub const DEFAULT_CHUNK_ROWS: usize = 65_536;

/// All or nothing, or row by row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// Apply every row or none.
    Atomic,
    /// Apply the valid rows, report the rest.
    BestEffort,
}

/// What to do with a row whose contact is not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnknownContacts {
    /// Refuse the row (`unknown_contact`).
    Refuse,
    /// Add the contact, as [`add_contact`](crate::JourneyEngine::add_contact) does,
    /// in the commit of its first applied row.
    Create,
}

/// How an import runs.
///
/// ```
/// use journeys::import::{ImportOptions, Mode};
/// let options = ImportOptions::new("jan.csv".parse()?).mode(Mode::Atomic).dry_run(true).delimiter(b';');
/// assert_eq!(options.mode, Mode::Atomic);
/// # Ok::<(), journeys::DomainError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportOptions {
    /// The batch id every imported transition carries.
    pub batch: BatchId,
    /// Atomic or best effort.
    pub mode: Mode,
    /// Check and report, write nothing.
    pub dry_run: bool,
    /// Refuse or create unknown contacts.
    pub unknown_contacts: UnknownContacts,
    /// Ignore columns the format does not know instead of refusing the file.
    pub ignore_unknown_columns: bool,
    /// The field delimiter.
    pub delimiter: u8,
    /// Rows per commit in best-effort mode.
    pub chunk_rows: usize,
}

impl ImportOptions {
    /// Best effort, refusing unknown contacts and unknown columns, comma-delimited.
    pub fn new(batch: BatchId) -> Self {
        ImportOptions {
            batch,
            mode: Mode::BestEffort,
            dry_run: false,
            unknown_contacts: UnknownContacts::Refuse,
            ignore_unknown_columns: false,
            delimiter: b',',
            chunk_rows: DEFAULT_CHUNK_ROWS,
        }
    }

    /// Sets the mode.
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets whether the import only checks.
    #[must_use]
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Sets what happens to unknown contacts.
    #[must_use]
    pub fn unknown_contacts(mut self, unknown: UnknownContacts) -> Self {
        self.unknown_contacts = unknown;
        self
    }

    /// Sets whether unknown columns are ignored.
    #[must_use]
    pub fn ignore_unknown_columns(mut self, ignore: bool) -> Self {
        self.ignore_unknown_columns = ignore;
        self
    }

    /// Sets the field delimiter.
    #[must_use]
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Sets how many rows a best-effort import commits at once (at least one).
    #[must_use]
    pub fn chunk_rows(mut self, rows: usize) -> Self {
        self.chunk_rows = rows.max(1);
        self
    }
}

/// A refused row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedRow {
    /// The row's line in the file (1 is the header).
    pub line: u64,
    /// The row's contact as written, if it has one.
    pub contact: Option<String>,
    /// Why; [`ImportError::code`] is stable.
    pub error: ImportError,
}

/// What an import did.
///
/// `applied + refused == rows` always. In atomic mode a batch with any refused row
/// applies nothing: then `applied` is 0, `refused` is `rows`, and `errors` lists the
/// rows that caused it. In a dry run, `applied` counts the rows that would apply.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// The batch id.
    pub batch: BatchId,
    /// The mode it ran in.
    pub mode: Mode,
    /// Whether it was a dry run.
    pub dry_run: bool,
    /// Rows read after the header.
    pub rows: u64,
    /// Rows applied (or, in a dry run, that would be).
    pub applied: u64,
    /// Rows not applied.
    pub refused: u64,
    /// Each row refused for its own reason, in file order.
    pub errors: Vec<RefusedRow>,
}

impl ImportReport {
    pub(crate) fn new(options: &ImportOptions) -> Self {
        ImportReport {
            batch: options.batch.clone(),
            mode: options.mode,
            dry_run: options.dry_run,
            rows: 0,
            applied: 0,
            refused: 0,
            errors: Vec::new(),
        }
    }

    pub(crate) fn refuse(&mut self, line: u64, contact: Option<String>, error: ImportError) {
        self.refused += 1;
        self.errors.push(RefusedRow { line, contact, error });
    }
}
