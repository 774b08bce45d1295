//! Why an import refused a row, or could not run at all.

use crate::error::DomainError;
use crate::model::ids::{ContactId, JourneyId};

/// Why an imported row was refused, or (for the header and read failures) why the
/// import could not run. Comparable data with a stable [`code`](Self::code); messages
/// name the offending value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The row is not well-formed CSV for this header (wrong number of fields, text
    /// that is not UTF-8).
    #[error("malformed CSV: {message}")]
    MalformedCsv {
        /// What is wrong.
        message: String,
    },
    /// The header names a column the format does not know, and the import was not
    /// told to ignore unknown columns.
    #[error("unknown column {column:?}")]
    UnknownColumn {
        /// The column's name.
        column: String,
    },
    /// The header names a column twice (`stage` and `to_stage` are the same column).
    #[error("column {column:?} appears twice in the header")]
    DuplicateColumn {
        /// The column's name.
        column: String,
    },
    /// The header lacks a required column.
    #[error("the header has no {column} column")]
    MissingColumn {
        /// The column.
        column: &'static str,
    },
    /// A required field is empty.
    #[error("the {column} field is empty")]
    MissingField {
        /// The column.
        column: &'static str,
    },
    /// The `at` field is not an RFC 3339 instant.
    #[error("bad timestamp {value:?}: {reason}")]
    BadTimestamp {
        /// The text given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The contact is not stored and the import was told to refuse unknown contacts.
    #[error("unknown contact {contact}")]
    UnknownContact {
        /// The contact.
        contact: ContactId,
    },
    /// The row's `from_stage` is not where the contact stands now.
    #[error(
        "contact {contact} is in {actual} of journey {journey}, but the row expects {expected}",
        actual = .actual.as_deref().unwrap_or("(not in the journey)"),
        expected = .expected.as_deref().unwrap_or("(not in the journey)")
    )]
    PreconditionMismatch {
        /// The contact.
        contact: ContactId,
        /// The journey.
        journey: JourneyId,
        /// The stage the row names (`None`: entering the journey).
        expected: Option<String>,
        /// Where the contact stands (`None`: not a member).
        actual: Option<String>,
    },
    /// Sequencing or a field's validation refused the row.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The input could not be read (or an export's output written); the import or
    /// export stopped.
    #[error("input/output failed: {message}")]
    Io {
        /// What the reader or writer said.
        message: String,
    },
}

impl ImportError {
    /// A stable, machine-readable code, e.g. `"bad_timestamp"`; a domain refusal
    /// keeps its own code (`"sequence_violation"`, `"unknown_stage"`, …).
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::MalformedCsv { .. } => "malformed_csv",
            ImportError::UnknownColumn { .. } => "unknown_column",
            ImportError::DuplicateColumn { .. } => "duplicate_column",
            ImportError::MissingColumn { .. } => "missing_column",
            ImportError::MissingField { .. } => "missing_field",
            ImportError::BadTimestamp { .. } => "bad_timestamp",
            ImportError::UnknownContact { .. } => "unknown_contact",
            ImportError::PreconditionMismatch { .. } => "precondition_mismatch",
            ImportError::Domain(e) => e.code(),
            ImportError::Io { .. } => "io_error",
        }
    }
}
