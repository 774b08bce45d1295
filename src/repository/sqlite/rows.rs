//! Between rows and model values. Everything read is validated the way
//! deserialization validates it; a row that fails is a `Backend` error naming the
//! row, never a panic.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{ErrorCode, Row, ToSql};

use crate::error::{DomainError, RepositoryError};
use crate::model::contact::{Contact, EnrollmentStatus};
use crate::model::ids::{
    ActorId, AttributeKey, BatchId, ChannelKey, ContactId, IdempotencyKey, InteractionKey, JourneyId, Note,
    ReasonKey, RuleId, StageKey,
};
use crate::model::journey::Journey;
use crate::model::transition::{Source, SourceKind, TouchpointInfo, Transition};
use crate::model::value::Value;
use crate::repository::Versioned;

/// A driver error as a repository error: a busy or locked database is `Unavailable`
/// (worth retrying), anything else `Backend`.
pub(super) fn sql_error(error: rusqlite::Error) -> RepositoryError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            RepositoryError::Unavailable { message: error.to_string() }
        }
        _ => RepositoryError::backend(error),
    }
}

/// A stored row that does not hold a valid value.
#[derive(Debug, thiserror::Error)]
#[error("stored {table} row {key} is invalid: {reason}")]
struct InvalidRow {
    table: &'static str,
    key: String,
    reason: String,
}

pub(super) fn invalid_row(
    table: &'static str,
    key: impl Into<String>,
    reason: impl ToString,
) -> RepositoryError {
    RepositoryError::backend(InvalidRow { table, key: key.into(), reason: reason.to_string() })
}

/// An instant as stored: nanoseconds since the Unix epoch, which orders correctly as
/// an integer and keeps full precision (years 1677 to 2262).
pub(super) fn to_nanos(at: DateTime<Utc>, field: &'static str) -> Result<i64, RepositoryError> {
    at.timestamp_nanos_opt().ok_or_else(|| {
        RepositoryError::backend(DomainError::InvalidValue {
            field,
            value: at.to_rfc3339(),
            reason: "SQLite storage holds instants from 1677 to 2262",
        })
    })
}

/// The columns of `transitions` that hold a [`Transition`], in the order
/// [`transition_params`] binds and [`transition_from_row`] reads them.
pub(super) const TRANSITION_COLUMNS: &str = "contact, journey, version, from_stage, to_stage, occurred_at, \
     recorded_at, source_kind, source_ref, source_line, channel, interaction, note, idempotency_key, \
     source_origin";

/// The values of a transition's columns.
pub(super) fn transition_params(t: &Transition) -> Result<[Box<dyn ToSql + '_>; 15], RepositoryError> {
    let (reference, line, origin): (&str, Option<i64>, Option<&str>) = match &t.source {
        Source::Automation { rule } => (rule.as_str(), None, None),
        Source::Import { batch, line, origin } => {
            let line = i64::try_from(*line).map_err(|_| {
                RepositoryError::backend(DomainError::InvalidValue {
                    field: "source line",
                    value: line.to_string(),
                    reason: "too large to store",
                })
            })?;
            (batch.as_str(), Some(line), origin.map(SourceKind::as_str))
        }
        Source::Manual { actor } => (actor.as_str(), None, None),
        Source::System { reason } => (reason.as_str(), None, None),
    };
    let touchpoint = t.touchpoint.as_deref();
    Ok([
        Box::new(t.contact.as_str()),
        Box::new(t.journey.as_str()),
        Box::new(version_to_sql(t.version)?),
        Box::new(t.from.as_ref().map(StageKey::as_str)),
        Box::new(t.to.as_str()),
        Box::new(to_nanos(t.occurred_at, "occurred_at")?),
        Box::new(to_nanos(t.recorded_at, "recorded_at")?),
        Box::new(t.source.kind()),
        Box::new(reference),
        Box::new(line),
        Box::new(touchpoint.map(|tp| tp.channel.as_str())),
        Box::new(touchpoint.and_then(|tp| tp.interaction.as_ref()).map(InteractionKey::as_str)),
        Box::new(touchpoint.and_then(|tp| tp.note.as_ref()).map(Note::as_str)),
        Box::new(t.idempotency_key.as_ref().map(IdempotencyKey::as_str)),
        Box::new(origin),
    ])
}

/// A version as SQLite's signed integer.
pub(super) fn version_to_sql(version: u64) -> Result<i64, RepositoryError> {
    i64::try_from(version).map_err(|_| {
        RepositoryError::backend(DomainError::InvalidValue {
            field: "version",
            value: version.to_string(),
            reason: "too large to store",
        })
    })
}

/// A stored version (never negative: the schema checks it).
pub(super) fn version_from_sql(version: i64) -> u64 {
    u64::try_from(version).unwrap_or(0)
}

/// The columns of a `transitions` row as read, before validation.
struct StoredTransition {
    contact: String,
    journey: String,
    version: i64,
    from: Option<String>,
    to: String,
    occurred_at: i64,
    recorded_at: i64,
    source_kind: String,
    source_ref: String,
    source_line: Option<i64>,
    channel: Option<String>,
    interaction: Option<String>,
    note: Option<String>,
    idempotency_key: Option<String>,
    source_origin: Option<String>,
}

/// Reads a row selected with [`TRANSITION_COLUMNS`].
pub(super) fn transition_from_row(row: &Row<'_>) -> Result<Transition, RepositoryError> {
    let stored = StoredTransition {
        contact: row.get(0).map_err(sql_error)?,
        journey: row.get(1).map_err(sql_error)?,
        version: row.get(2).map_err(sql_error)?,
        from: row.get(3).map_err(sql_error)?,
        to: row.get(4).map_err(sql_error)?,
        occurred_at: row.get(5).map_err(sql_error)?,
        recorded_at: row.get(6).map_err(sql_error)?,
        source_kind: row.get(7).map_err(sql_error)?,
        source_ref: row.get(8).map_err(sql_error)?,
        source_line: row.get(9).map_err(sql_error)?,
        channel: row.get(10).map_err(sql_error)?,
        interaction: row.get(11).map_err(sql_error)?,
        note: row.get(12).map_err(sql_error)?,
        idempotency_key: row.get(13).map_err(sql_error)?,
        source_origin: row.get(14).map_err(sql_error)?,
    };
    let key = format!("{}/{}@{}", stored.contact, stored.journey, stored.version);
    stored.validate().map_err(|reason| invalid_row("transitions", key, reason))
}

impl StoredTransition {
    fn validate(self) -> Result<Transition, String> {
        let source = match self.source_kind.as_str() {
            "automation" => Source::Automation { rule: RuleId::new(&self.source_ref).map_err(text)? },
            "import" => Source::Import {
                batch: BatchId::new(&self.source_ref).map_err(text)?,
                line: self
                    .source_line
                    .and_then(|line| u64::try_from(line).ok())
                    .ok_or("an import source without a valid line")?,
                origin: self
                    .source_origin
                    .map(|key| SourceKind::from_key(&key).ok_or(format!("unknown source origin {key:?}")))
                    .transpose()?,
            },
            "manual" => Source::Manual { actor: ActorId::new(&self.source_ref).map_err(text)? },
            "system" => Source::System { reason: ReasonKey::new(&self.source_ref).map_err(text)? },
            other => return Err(format!("unknown source kind {other:?}")),
        };
        let touchpoint = match (self.channel, self.interaction, self.note) {
            (None, None, None) => None,
            (Some(channel), interaction, note) => Some(Box::new(TouchpointInfo {
                channel: ChannelKey::new(channel).map_err(text)?,
                interaction: interaction.map(InteractionKey::new).transpose().map_err(text)?,
                note: note.map(Note::new).transpose().map_err(text)?,
            })),
            (None, _, _) => return Err("a touchpoint interaction or note without a channel".to_owned()),
        };
        Ok(Transition {
            contact: ContactId::new(self.contact).map_err(text)?,
            journey: JourneyId::new(self.journey).map_err(text)?,
            version: u64::try_from(self.version).map_err(|_| format!("negative version {}", self.version))?,
            from: self.from.map(StageKey::new).transpose().map_err(text)?,
            to: StageKey::new(self.to).map_err(text)?,
            occurred_at: DateTime::from_timestamp_nanos(self.occurred_at),
            recorded_at: DateTime::from_timestamp_nanos(self.recorded_at),
            source,
            touchpoint,
            idempotency_key: self.idempotency_key.map(IdempotencyKey::new).transpose().map_err(text)?,
        })
    }
}

pub(super) fn text(error: DomainError) -> String {
    error.to_string()
}

/// A contact's `attributes` column.
pub(super) fn attributes_to_sql(contact: &Contact) -> Result<String, RepositoryError> {
    serde_json::to_string(&contact.attributes).map_err(RepositoryError::backend)
}

/// Reads a row of `id, version, enrollment, attributes`.
pub(super) fn contact_from_row(row: &Row<'_>) -> Result<Versioned<Contact>, RepositoryError> {
    let id: String = row.get(0).map_err(sql_error)?;
    let version: i64 = row.get(1).map_err(sql_error)?;
    let enrollment: String = row.get(2).map_err(sql_error)?;
    let attributes: String = row.get(3).map_err(sql_error)?;
    let invalid = |reason: String| invalid_row("contacts", id.clone(), reason);
    let contact = Contact {
        id: ContactId::new(&id).map_err(|e| invalid(e.to_string()))?,
        enrollment: EnrollmentStatus::from_key(&enrollment)
            .ok_or_else(|| invalid(format!("unknown enrollment status {enrollment:?}")))?,
        attributes: serde_json::from_str::<BTreeMap<AttributeKey, Value>>(&attributes)
            .map_err(|e| invalid(format!("attributes: {e}")))?,
    };
    Ok(Versioned { value: contact, version: version_from_sql(version) })
}

/// Reads a journey's `definition` column, checking it is stored under its own id.
pub(super) fn journey_from_sql(id: &str, definition: &str) -> Result<Journey, RepositoryError> {
    let journey: Journey = serde_json::from_str(definition)
        .map_err(|e| invalid_row("journeys", id, format!("definition: {e}")))?;
    if journey.id() != id {
        return Err(invalid_row("journeys", id, format!("holds the definition of journey {}", journey.id())));
    }
    Ok(journey)
}

/// A journey's `definition` column.
pub(super) fn journey_to_sql(journey: &Journey) -> Result<String, RepositoryError> {
    serde_json::to_string(journey).map_err(RepositoryError::backend)
}
