//! [`InteractionRepository`] for [`SqliteRepository`]: touchpoints as columns (so
//! they can be queried in SQL), referrals with their change log as JSON.

use rusqlite::{Connection, Row, TransactionBehavior, params};

use super::SqliteRepository;
use super::rows::{invalid_row, sql_error, text, to_nanos, version_to_sql};
use crate::error::{Entity, RepositoryError};
use crate::model::ids::{CampaignId, ContactId};
use crate::model::referral::{Referral, ReferralChange, ReferralKey};
use crate::model::touchpoint::{Sentiment, StageLink, Touchpoint, TouchpointPosition};
use crate::repository::InteractionRepository;

const TOUCHPOINT_COLUMNS: &str =
    "id, contact, occurred_at, channel, device, department, interaction, outcome, sentiment, journey, stage";

const REFERRAL_COLUMNS: &str = "campaign, referred, advocate, changes";

/// Reads a row selected with [`TOUCHPOINT_COLUMNS`], validating every field.
fn touchpoint_from_row(row: &Row<'_>) -> Result<Touchpoint, RepositoryError> {
    let id: String = row.get(0).map_err(sql_error)?;
    let get = |i: usize| row.get::<_, Option<String>>(i).map_err(sql_error);
    let required = |i: usize| row.get::<_, String>(i).map_err(sql_error);
    let (contact, channel, interaction) = (required(1)?, required(3)?, required(6)?);
    let (device, department, outcome, journey, stage) = (get(4)?, get(5)?, get(7)?, get(9)?, get(10)?);
    let occurred_at: i64 = row.get(2).map_err(sql_error)?;
    let sentiment: Option<f64> = row.get(8).map_err(sql_error)?;
    let parse = || -> Result<Touchpoint, String> {
        let mut tp = Touchpoint::new(
            id.parse().map_err(text)?,
            contact.parse().map_err(text)?,
            chrono::DateTime::from_timestamp_nanos(occurred_at),
            channel.parse().map_err(text)?,
            interaction.parse().map_err(text)?,
        );
        tp.device = device.map(|d| d.parse()).transpose().map_err(text)?;
        tp.department = department.map(|d| d.parse()).transpose().map_err(text)?;
        tp.outcome = outcome.map(|o| o.parse()).transpose().map_err(text)?;
        tp.sentiment = sentiment.map(Sentiment::new).transpose().map_err(text)?;
        tp.stage = match (journey, stage) {
            (None, None) => None,
            (Some(journey), Some(stage)) => Some(StageLink {
                journey: journey.parse().map_err(text)?,
                stage: stage.parse().map_err(text)?,
            }),
            _ => return Err("a journey without a stage or a stage without a journey".to_owned()),
        };
        Ok(tp)
    };
    parse().map_err(|reason| invalid_row("touchpoints", id.clone(), reason))
}

/// Every row `sql` selects, read by `read`.
fn query<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    read: fn(&Row<'_>) -> Result<T, RepositoryError>,
) -> Result<Vec<T>, RepositoryError> {
    let mut stmt = conn.prepare_cached(sql).map_err(sql_error)?;
    let mut rows = stmt.query(params).map_err(sql_error)?;
    let mut values = Vec::new();
    while let Some(row) = rows.next().map_err(sql_error)? {
        values.push(read(row)?);
    }
    Ok(values)
}

fn query_touchpoints(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Touchpoint>, RepositoryError> {
    query(conn, sql, params, touchpoint_from_row)
}

/// Reads a row selected with [`REFERRAL_COLUMNS`], validating it as deserialization
/// does.
fn referral_from_row(row: &Row<'_>) -> Result<Referral, RepositoryError> {
    let get = |i: usize| row.get::<_, String>(i).map_err(sql_error);
    let (campaign, referred, advocate, changes) = (get(0)?, get(1)?, get(2)?, get(3)?);
    let key = format!("{campaign}/{referred}");
    let parse = || -> Result<Referral, String> {
        let changes: Vec<ReferralChange> = serde_json::from_str(&changes).map_err(|e| e.to_string())?;
        let campaign: CampaignId = campaign.parse().map_err(text)?;
        Referral::from_parts(
            advocate.parse().map_err(text)?,
            referred.parse().map_err(text)?,
            campaign,
            changes,
        )
        .map_err(text)
    };
    parse().map_err(|reason| invalid_row("referrals", key, reason))
}

fn query_referrals(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Referral>, RepositoryError> {
    query(conn, sql, params, referral_from_row)
}

fn load_referral(conn: &Connection, key: &ReferralKey) -> Result<Option<Referral>, RepositoryError> {
    let sql = format!("SELECT {REFERRAL_COLUMNS} FROM referrals WHERE campaign = ?1 AND referred = ?2");
    Ok(query_referrals(conn, &sql, params![key.campaign.as_str(), key.referred.as_str()])?.pop())
}

fn changes_to_sql(referral: &Referral) -> Result<String, RepositoryError> {
    serde_json::to_string(referral.changes()).map_err(RepositoryError::backend)
}

impl InteractionRepository for SqliteRepository {
    async fn append_touchpoints(&self, touchpoints: &[Touchpoint]) -> Result<(), RepositoryError> {
        let mut conn = self.lock();
        // Dropping `tx` on an error rolls back what this call inserted.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_error)?;
        let stored_sql = format!("SELECT {TOUCHPOINT_COLUMNS} FROM touchpoints WHERE id = ?1");
        for tp in touchpoints {
            match query_touchpoints(&tx, &stored_sql, [tp.id.as_str()])?.pop() {
                Some(stored) if &stored == tp => continue,
                Some(_) => {
                    return Err(RepositoryError::AlreadyExists {
                        entity: Entity::Touchpoint,
                        id: tp.id.to_string(),
                    });
                }
                None => {}
            }
            let link = tp.stage.as_ref();
            let occurred_at = to_nanos(tp.occurred_at, "occurred_at")?;
            tx.prepare_cached(&format!(
                "INSERT INTO touchpoints ({TOUCHPOINT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ))
            .and_then(|mut stmt| {
                stmt.execute(params![
                    tp.id.as_str(),
                    tp.contact.as_str(),
                    occurred_at,
                    tp.channel.as_str(),
                    tp.device.as_ref().map(|d| d.as_str()),
                    tp.department.as_ref().map(|d| d.as_str()),
                    tp.interaction.as_str(),
                    tp.outcome.as_ref().map(|o| o.as_str()),
                    tp.sentiment.map(Sentiment::get),
                    link.map(|l| l.journey.as_str()),
                    link.map(|l| l.stage.as_str()),
                ])
            })
            .map_err(sql_error)?;
        }
        tx.commit().map_err(sql_error)
    }

    async fn touchpoints(
        &self,
        after: Option<&TouchpointPosition>,
        limit: usize,
    ) -> Result<Vec<Touchpoint>, RepositoryError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = self.lock();
        match after {
            None => query_touchpoints(
                &conn,
                &format!("SELECT {TOUCHPOINT_COLUMNS} FROM touchpoints ORDER BY occurred_at, id LIMIT ?1"),
                [limit],
            ),
            Some(position) => query_touchpoints(
                &conn,
                &format!(
                    "SELECT {TOUCHPOINT_COLUMNS} FROM touchpoints WHERE (occurred_at, id) > (?1, ?2) \
                     ORDER BY occurred_at, id LIMIT ?3"
                ),
                params![to_nanos(position.occurred_at, "occurred_at")?, position.id.as_str(), limit],
            ),
        }
    }

    async fn contact_touchpoints(&self, contact: &ContactId) -> Result<Vec<Touchpoint>, RepositoryError> {
        query_touchpoints(
            &self.lock(),
            &format!(
                "SELECT {TOUCHPOINT_COLUMNS} FROM touchpoints WHERE contact = ?1 ORDER BY occurred_at, id"
            ),
            [contact.as_str()],
        )
    }

    async fn insert_referral(&self, referral: &Referral) -> Result<(), RepositoryError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_error)?;
        let key = referral.key();
        match load_referral(&tx, &key)? {
            Some(stored) if &stored == referral => Ok(()),
            Some(_) => Err(RepositoryError::AlreadyExists { entity: Entity::Referral, id: key.to_string() }),
            None => {
                tx.execute(
                    "INSERT INTO referrals (campaign, referred, advocate, created_at, version, changes) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        key.campaign.as_str(),
                        key.referred.as_str(),
                        referral.advocate().as_str(),
                        to_nanos(referral.created_at(), "created_at")?,
                        version_to_sql(referral.version())?,
                        changes_to_sql(referral)?,
                    ],
                )
                .map_err(sql_error)?;
                tx.commit().map_err(sql_error)
            }
        }
    }

    async fn update_referral(
        &self,
        referral: &Referral,
        expected_version: u64,
    ) -> Result<(), RepositoryError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_error)?;
        let key = referral.key();
        let Some(stored) = load_referral(&tx, &key)? else {
            return Err(RepositoryError::NotFound { entity: Entity::Referral, id: key.to_string() });
        };
        if stored.version() != expected_version {
            return Err(RepositoryError::Conflict {
                entity: Entity::Referral,
                id: key.to_string(),
                expected: expected_version,
                actual: stored.version(),
            });
        }
        if !referral.extends(&stored) {
            return Err(RepositoryError::AlreadyExists { entity: Entity::Referral, id: key.to_string() });
        }
        tx.execute(
            "UPDATE referrals SET version = ?3, changes = ?4 WHERE campaign = ?1 AND referred = ?2",
            params![
                key.campaign.as_str(),
                key.referred.as_str(),
                version_to_sql(referral.version())?,
                changes_to_sql(referral)?
            ],
        )
        .map_err(sql_error)?;
        tx.commit().map_err(sql_error)
    }

    async fn load_referral(&self, key: &ReferralKey) -> Result<Referral, RepositoryError> {
        load_referral(&self.lock(), key)?
            .ok_or_else(|| RepositoryError::NotFound { entity: Entity::Referral, id: key.to_string() })
    }

    async fn advocate_referrals(&self, advocate: &ContactId) -> Result<Vec<Referral>, RepositoryError> {
        query_referrals(
            &self.lock(),
            &format!(
                "SELECT {REFERRAL_COLUMNS} FROM referrals WHERE advocate = ?1 ORDER BY created_at, campaign, referred"
            ),
            [advocate.as_str()],
        )
    }

    async fn referrals(
        &self,
        after: Option<&ReferralKey>,
        limit: usize,
    ) -> Result<Vec<Referral>, RepositoryError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = self.lock();
        match after {
            None => query_referrals(
                &conn,
                &format!("SELECT {REFERRAL_COLUMNS} FROM referrals ORDER BY campaign, referred LIMIT ?1"),
                [limit],
            ),
            Some(key) => query_referrals(
                &conn,
                &format!(
                    "SELECT {REFERRAL_COLUMNS} FROM referrals WHERE (campaign, referred) > (?1, ?2) \
                     ORDER BY campaign, referred LIMIT ?3"
                ),
                params![key.campaign.as_str(), key.referred.as_str(), limit],
            ),
        }
    }
}
