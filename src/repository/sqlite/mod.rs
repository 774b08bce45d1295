//! [`SqliteRepository`]: a durable backend on an embedded SQLite database (feature
//! `sqlite`).

mod interactions;
mod rows;
mod schema;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use self::rows::{
    TRANSITION_COLUMNS, attributes_to_sql, contact_from_row, journey_from_sql, journey_to_sql, sql_error,
    transition_from_row, transition_params, version_from_sql, version_to_sql,
};
use super::{Append, Commit, ContactWrite, LogPosition, Repository, Versioned};
use crate::error::{Entity, RepositoryError};
use crate::model::contact::Contact;
use crate::model::ids::{ContactId, IdempotencyKey, JourneyId};
use crate::model::journey::Journey;
use crate::model::transition::Transition;

/// How long a write waits for another connection's write transaction before the
/// call fails with `Unavailable`, unless set with
/// [`SqliteRepository::with_busy_timeout`].
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A repository in a SQLite database file.
///
/// - **Schema**: created and migrated on open (a list of migrations counted in
///   `PRAGMA user_version`). Transitions are stored as columns — contact, journey,
///   version, stages, times as integer nanoseconds, source, touchpoint — so analytics
///   can query them in SQL; journey definitions and contact attributes are JSON.
/// - **Writes**: each [`commit`](Repository::commit) is one `BEGIN IMMEDIATE`
///   transaction that checks every expected version before it writes; a
///   `UNIQUE (contact, journey, version)` constraint is the backstop.
/// - **Concurrency**: WAL mode, so readers never block the writer; several
///   repositories (in threads or processes) may open the same file, and a writer
///   waits up to the busy timeout for another's transaction. `Clone` shares one
///   connection.
/// - **Async**: SQLite is embedded and its calls are short, so the `async` methods
///   run them inline on the calling task (holding this repository's connection
///   lock) instead of moving them to a thread pool. Hosts with long analytics reads
///   on a latency-sensitive executor can give those reads their own repository on a
///   blocking thread.
/// - **Stored data** is validated on load: a row that is not a valid value is a
///   `Backend` error naming the row, and the engine replays every history.
///
/// ```
/// use journeys::{InMemoryRepository, Journey, Repository, SqliteRepository};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let dir = tempfile::tempdir()?;
/// let repo = SqliteRepository::open(dir.path().join("journeys.db"))?;
/// repo.insert_journey(&Journey::advocate_enrollment()).await?;
/// let reopened = SqliteRepository::open(dir.path().join("journeys.db"))?;
/// assert_eq!(reopened.list_journeys().await?.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct SqliteRepository {
    connection: Arc<Mutex<Connection>>,
}

impl SqliteRepository {
    /// Opens (or creates) the database file at `path`, in WAL mode, and migrates it
    /// to the latest schema.
    ///
    /// # Errors
    /// `Unavailable` if the file is locked past the busy timeout; `Backend` if it
    /// cannot be opened, is not a database, or has a schema newer than this crate's.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, RepositoryError> {
        Self::setup(Connection::open(path).map_err(sql_error)?)
    }

    /// A private database in memory: for tests and examples that need no file.
    ///
    /// # Errors
    /// `Backend` if SQLite cannot allocate it.
    pub fn open_in_memory() -> Result<Self, RepositoryError> {
        Self::setup(Connection::open_in_memory().map_err(sql_error)?)
    }

    fn setup(mut connection: Connection) -> Result<Self, RepositoryError> {
        connection.busy_timeout(DEFAULT_BUSY_TIMEOUT).map_err(sql_error)?;
        // `journal_mode` answers with the mode it set; an in-memory database stays
        // in `memory` mode.
        let _mode: String =
            connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)).map_err(sql_error)?;
        // In WAL mode `NORMAL` never corrupts the database and loses no commit when
        // the process dies; only a power loss may drop the last commits.
        connection.pragma_update(None, "synchronous", "NORMAL").map_err(sql_error)?;
        schema::migrate(&mut connection)?;
        Ok(SqliteRepository { connection: Arc::new(Mutex::new(connection)) })
    }

    /// Sets how long a write waits for another connection's transaction.
    ///
    /// # Errors
    /// `Backend` if SQLite refuses the setting.
    pub fn with_busy_timeout(self, timeout: Duration) -> Result<Self, RepositoryError> {
        self.lock().busy_timeout(timeout).map_err(sql_error)?;
        Ok(self)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // Every write is a transaction that rolls back when dropped, so a panic while
        // holding the lock leaves the database as it was: the connection is sound.
        self.connection.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn membership_id(contact: &ContactId, journey: &JourneyId) -> String {
    format!("{contact}/{journey}")
}

/// The membership's version: its last transition's.
fn membership_version(
    conn: &Connection,
    contact: &ContactId,
    journey: &JourneyId,
) -> Result<u64, RepositoryError> {
    let version: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(MAX(version), 0) FROM transitions WHERE contact = ?1 AND journey = ?2",
        )
        .and_then(|mut stmt| stmt.query_row(params![contact.as_str(), journey.as_str()], |row| row.get(0)))
        .map_err(sql_error)?;
    Ok(version_from_sql(version))
}

fn contact_version(conn: &Connection, id: &ContactId) -> Result<Option<u64>, RepositoryError> {
    conn.prepare_cached("SELECT version FROM contacts WHERE id = ?1")
        .and_then(|mut stmt| stmt.query_row([id.as_str()], |row| row.get::<_, i64>(0)).optional())
        .map(|version| version.map(version_from_sql))
        .map_err(sql_error)
}

/// Appends one membership's transitions inside the commit's transaction.
fn write_append(conn: &Connection, append: &Append, commit_key: Option<i64>) -> Result<(), RepositoryError> {
    let conflict = |actual| RepositoryError::Conflict {
        entity: Entity::Membership,
        id: membership_id(&append.contact, &append.journey),
        expected: append.expected_version,
        actual,
    };
    let actual = membership_version(conn, &append.contact, &append.journey)?;
    if actual != append.expected_version {
        return Err(conflict(actual));
    }
    let mut insert = conn
        .prepare_cached(&format!(
            "INSERT INTO transitions ({TRANSITION_COLUMNS}, commit_key) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
        ))
        .map_err(sql_error)?;
    for (offset, transition) in (1..).zip(&append.transitions) {
        if transition.contact != append.contact
            || transition.journey != append.journey
            || transition.version != append.expected_version + offset
        {
            return Err(RepositoryError::backend(format!(
                "the append to membership {} at version {} holds transition {}/{}@{} at position {offset}",
                membership_id(&append.contact, &append.journey),
                append.expected_version,
                transition.contact,
                transition.journey,
                transition.version
            )));
        }
        let columns = transition_params(transition)?;
        let mut values: Vec<&dyn rusqlite::ToSql> = columns.iter().map(|b| b.as_ref()).collect();
        values.push(&commit_key);
        match insert.execute(values.as_slice()) {
            Ok(_) => {}
            // The unique (contact, journey, version) backstop: another writer got
            // there first despite the check.
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
                return Err(conflict(membership_version(conn, &append.contact, &append.journey)?));
            }
            Err(e) => return Err(sql_error(e)),
        }
    }
    Ok(())
}

fn write_contact(conn: &Connection, write: &ContactWrite) -> Result<(), RepositoryError> {
    let stored = |id: &ContactId| contact_version(conn, id);
    let (contact, sql) = match write {
        ContactWrite::Insert(contact) => {
            if stored(&contact.id)?.is_some() {
                return Err(RepositoryError::AlreadyExists {
                    entity: Entity::Contact,
                    id: contact.id.to_string(),
                });
            }
            (contact, "INSERT INTO contacts (id, version, enrollment, attributes) VALUES (?1, 1, ?2, ?3)")
        }
        ContactWrite::Update { contact, expected_version } => {
            let actual = stored(&contact.id)?.ok_or_else(|| RepositoryError::NotFound {
                entity: Entity::Contact,
                id: contact.id.to_string(),
            })?;
            if actual != *expected_version {
                return Err(RepositoryError::Conflict {
                    entity: Entity::Contact,
                    id: contact.id.to_string(),
                    expected: *expected_version,
                    actual,
                });
            }
            (
                contact,
                "UPDATE contacts SET version = version + 1, enrollment = ?2, attributes = ?3 WHERE id = ?1",
            )
        }
    };
    let attributes = attributes_to_sql(contact)?;
    conn.prepare_cached(sql)
        .and_then(|mut stmt| {
            stmt.execute(params![contact.id.as_str(), contact.enrollment.as_str(), attributes])
        })
        .map_err(sql_error)?;
    Ok(())
}

/// Reserves the commit's idempotency key; `AlreadyExists` if an earlier commit has it.
fn write_key(conn: &Connection, key: &IdempotencyKey) -> Result<i64, RepositoryError> {
    let inserted = conn
        .prepare_cached("INSERT INTO idempotency_keys (key) VALUES (?1) ON CONFLICT (key) DO NOTHING")
        .and_then(|mut stmt| stmt.execute([key.as_str()]))
        .map_err(sql_error)?;
    if inserted == 0 {
        return Err(RepositoryError::AlreadyExists { entity: Entity::IdempotencyKey, id: key.to_string() });
    }
    Ok(conn.last_insert_rowid())
}

fn query_transitions(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Transition>, RepositoryError> {
    let mut stmt = conn.prepare_cached(sql).map_err(sql_error)?;
    let mut rows = stmt.query(params).map_err(sql_error)?;
    let mut transitions = Vec::new();
    while let Some(row) = rows.next().map_err(sql_error)? {
        transitions.push(transition_from_row(row)?);
    }
    Ok(transitions)
}

impl Repository for SqliteRepository {
    async fn insert_journey(&self, journey: &Journey) -> Result<(), RepositoryError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_error)?;
        let stored: Option<String> = tx
            .query_row("SELECT definition FROM journeys WHERE id = ?1", [journey.id().as_str()], |row| {
                row.get(0)
            })
            .optional()
            .map_err(sql_error)?;
        match stored {
            Some(definition) if &journey_from_sql(journey.id().as_str(), &definition)? == journey => Ok(()),
            Some(_) => {
                Err(RepositoryError::AlreadyExists { entity: Entity::Journey, id: journey.id().to_string() })
            }
            None => {
                tx.execute(
                    "INSERT INTO journeys (id, definition) VALUES (?1, ?2)",
                    params![journey.id().as_str(), journey_to_sql(journey)?],
                )
                .map_err(sql_error)?;
                tx.commit().map_err(sql_error)
            }
        }
    }

    async fn load_journey(&self, id: &JourneyId) -> Result<Journey, RepositoryError> {
        let conn = self.lock();
        let definition: String = conn
            .query_row("SELECT definition FROM journeys WHERE id = ?1", [id.as_str()], |row| row.get(0))
            .optional()
            .map_err(sql_error)?
            .ok_or_else(|| RepositoryError::NotFound { entity: Entity::Journey, id: id.to_string() })?;
        journey_from_sql(id.as_str(), &definition)
    }

    async fn list_journeys(&self) -> Result<Vec<JourneyId>, RepositoryError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT id FROM journeys ORDER BY id").map_err(sql_error)?;
        let ids = stmt.query_map([], |row| row.get::<_, String>(0)).map_err(sql_error)?;
        ids.map(|id| {
            let id = id.map_err(sql_error)?;
            JourneyId::new(&id).map_err(RepositoryError::backend)
        })
        .collect()
    }

    async fn load_contact(&self, id: &ContactId) -> Result<Versioned<Contact>, RepositoryError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT id, version, enrollment, attributes FROM contacts WHERE id = ?1")
            .map_err(sql_error)?;
        let mut rows = stmt.query([id.as_str()]).map_err(sql_error)?;
        match rows.next().map_err(sql_error)? {
            Some(row) => contact_from_row(row),
            None => Err(RepositoryError::NotFound { entity: Entity::Contact, id: id.to_string() }),
        }
    }

    async fn load_history(
        &self,
        contact: &ContactId,
        journey: &JourneyId,
    ) -> Result<Vec<Transition>, RepositoryError> {
        query_transitions(
            &self.lock(),
            &format!(
                "SELECT {TRANSITION_COLUMNS} FROM transitions WHERE contact = ?1 AND journey = ?2 ORDER BY version"
            ),
            params![contact.as_str(), journey.as_str()],
        )
    }

    async fn commit(&self, commit: Commit) -> Result<(), RepositoryError> {
        let mut conn = self.lock();
        // IMMEDIATE takes the write lock first, so the version checks below see the
        // state the writes apply to. Dropping `tx` on an error rolls everything back.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_error)?;
        // The contract's order of checks: idempotency key, contact writes, appends.
        let commit_key = commit.idempotency_key.as_ref().map(|key| write_key(&tx, key)).transpose()?;
        for write in &commit.contacts {
            write_contact(&tx, write)?;
        }
        for append in &commit.appends {
            write_append(&tx, append, commit_key)?;
        }
        tx.commit().map_err(sql_error)
    }

    async fn contact_journeys(&self, contact: &ContactId) -> Result<Vec<JourneyId>, RepositoryError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT DISTINCT journey FROM transitions WHERE contact = ?1 ORDER BY journey")
            .map_err(sql_error)?;
        let ids = stmt.query_map([contact.as_str()], |row| row.get::<_, String>(0)).map_err(sql_error)?;
        ids.map(|id| {
            let id = id.map_err(sql_error)?;
            JourneyId::new(&id).map_err(RepositoryError::backend)
        })
        .collect()
    }

    async fn journey_transitions(
        &self,
        journey: &JourneyId,
        after: Option<&LogPosition>,
        limit: usize,
    ) -> Result<Vec<Transition>, RepositoryError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = self.lock();
        match after {
            None => query_transitions(
                &conn,
                &format!(
                    "SELECT {TRANSITION_COLUMNS} FROM transitions WHERE journey = ?1 \
                     ORDER BY occurred_at, contact, version LIMIT ?2"
                ),
                params![journey.as_str(), limit],
            ),
            Some(position) => query_transitions(
                &conn,
                &format!(
                    "SELECT {TRANSITION_COLUMNS} FROM transitions WHERE journey = ?1 \
                     AND (occurred_at, contact, version) > (?2, ?3, ?4) \
                     ORDER BY occurred_at, contact, version LIMIT ?5"
                ),
                params![
                    journey.as_str(),
                    rows::to_nanos(position.occurred_at, "occurred_at")?,
                    position.contact.as_str(),
                    version_to_sql(position.version)?,
                    limit
                ],
            ),
        }
    }

    async fn find_idempotency_key(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<Vec<Transition>>, RepositoryError> {
        let conn = self.lock();
        let id: Option<i64> = conn
            .query_row("SELECT id FROM idempotency_keys WHERE key = ?1", [key.as_str()], |row| row.get(0))
            .optional()
            .map_err(sql_error)?;
        id.map(|id| {
            query_transitions(
                &conn,
                &format!("SELECT {TRANSITION_COLUMNS} FROM transitions WHERE commit_key = ?1 ORDER BY rowid"),
                [id],
            )
        })
        .transpose()
    }
}
