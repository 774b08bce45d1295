//! The schema, as a list of migrations applied in order and counted in SQLite's
//! `user_version`.

use rusqlite::{Connection, TransactionBehavior};

use super::rows::sql_error;
use crate::error::RepositoryError;

/// Each entry moves the schema from version `i` to `i + 1`. Append only: a released
/// migration is never edited.
const MIGRATIONS: &[&str] = &[
    // 1: journeys, contacts, transitions as columns, idempotency keys.
    "
    CREATE TABLE journeys (
        id TEXT PRIMARY KEY NOT NULL,
        definition TEXT NOT NULL
    ) STRICT;

    CREATE TABLE contacts (
        id TEXT PRIMARY KEY NOT NULL,
        version INTEGER NOT NULL CHECK (version >= 1),
        enrollment TEXT NOT NULL,
        attributes TEXT NOT NULL
    ) STRICT;

    CREATE TABLE idempotency_keys (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE
    ) STRICT;

    CREATE TABLE transitions (
        contact TEXT NOT NULL,
        journey TEXT NOT NULL,
        version INTEGER NOT NULL CHECK (version >= 1),
        from_stage TEXT,
        to_stage TEXT NOT NULL,
        occurred_at INTEGER NOT NULL,
        recorded_at INTEGER NOT NULL,
        source_kind TEXT NOT NULL,
        source_ref TEXT NOT NULL,
        source_line INTEGER,
        channel TEXT,
        interaction TEXT,
        note TEXT,
        idempotency_key TEXT,
        commit_key INTEGER REFERENCES idempotency_keys (id),
        -- The backstop behind the expected-version check; also the index that loads
        -- a membership in version order and lists a contact's journeys.
        UNIQUE (contact, journey, version)
    ) STRICT;

    -- Streams a journey's transitions in log order.
    CREATE INDEX transitions_log ON transitions (journey, occurred_at, contact, version);
    -- Finds the transitions a keyed commit stored.
    CREATE INDEX transitions_commit_key ON transitions (commit_key) WHERE commit_key IS NOT NULL;
    ",
    // 2: the kind of source an imported row named (`Source::Import::origin`).
    "
    ALTER TABLE transitions ADD COLUMN source_origin TEXT;
    ",
    // 3: touchpoints as columns, referrals with their change log as JSON.
    "
    CREATE TABLE touchpoints (
        id TEXT PRIMARY KEY NOT NULL,
        contact TEXT NOT NULL,
        occurred_at INTEGER NOT NULL,
        channel TEXT NOT NULL,
        device TEXT,
        department TEXT,
        interaction TEXT NOT NULL,
        outcome TEXT,
        sentiment REAL,
        journey TEXT,
        stage TEXT
    ) STRICT;
    -- Streams touchpoints in TouchpointPosition order, and one contact's.
    CREATE INDEX touchpoints_log ON touchpoints (occurred_at, id);
    CREATE INDEX touchpoints_contact ON touchpoints (contact, occurred_at, id);

    CREATE TABLE referrals (
        campaign TEXT NOT NULL,
        referred TEXT NOT NULL,
        advocate TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        version INTEGER NOT NULL CHECK (version >= 1),
        changes TEXT NOT NULL,
        PRIMARY KEY (campaign, referred)
    ) STRICT;
    CREATE INDEX referrals_advocate ON referrals (advocate, created_at, campaign, referred);
    ",
];

/// Brings the database to the latest schema, one migration per transaction. The
/// version is read inside each write transaction, so connections opening a new file
/// at once apply every migration exactly once.
///
/// # Errors
/// `Backend` if a migration fails or the database was written by a newer version of
/// this crate.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), RepositoryError> {
    let known = MIGRATIONS.len();
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_error)?;
        let current: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(sql_error)?;
        let Some(migration) = usize::try_from(current).ok().and_then(|v| MIGRATIONS.get(v)) else {
            if usize::try_from(current).is_ok_and(|v| v == known) {
                return Ok(());
            }
            return Err(RepositoryError::backend(format!(
                "database schema version {current} is not one this crate knows (0 to {known})"
            )));
        };
        tx.execute_batch(migration).map_err(sql_error)?;
        tx.pragma_update(None, "user_version", current + 1).map_err(sql_error)?;
        tx.commit().map_err(sql_error)?;
    }
}
