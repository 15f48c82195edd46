//! Health: each mirror capability's state under the hysteresis rule, and the log of its
//! changes.

use crate::{Result, Store};
use shared::model::HealthState;
use sqlx::{Any, Transaction};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthRecord {
    pub mirror_id: i64,
    /// `http`, `https`, `ipv4` or `ipv6`.
    pub capability: String,
    pub state: HealthState,
    pub since: i64,
    /// Why it is in this state, in words an operator understands.
    pub reason: String,
    pub consecutive_ok: i64,
    pub consecutive_failed: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthEvent {
    pub mirror_id: i64,
    pub capability: String,
    pub old_state: HealthState,
    pub new_state: HealthState,
    pub reason: String,
    pub at: i64,
}

impl Store {
    /// Saves current health rows and appends state-change events, atomically.
    pub async fn save_health(
        &self,
        records: &[HealthRecord],
        events: &[HealthEvent],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        write_health(&mut tx, records, events).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn load_health(&self) -> Result<Vec<HealthRecord>> {
        Ok(sqlx::query_as(
            "SELECT mirror_id, capability, state, since, reason, consecutive_ok, consecutive_failed
             FROM mirror_health ORDER BY mirror_id, capability",
        )
        .fetch_all(&self.pool)
        .await?)
    }
    /// Every mirror's state changes at or after `since`, oldest first.
    pub async fn health_events_since(&self, since: i64) -> Result<Vec<HealthEvent>> {
        Ok(sqlx::query_as(
            "SELECT mirror_id, capability, old_state, new_state, reason, at FROM health_events
             WHERE at >= $1 ORDER BY at, id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }

    /// State changes of one mirror, newest first.
    pub async fn health_events(&self, mirror_id: i64, limit: i64) -> Result<Vec<HealthEvent>> {
        Ok(sqlx::query_as(
            "SELECT mirror_id, capability, old_state, new_state, reason, at FROM health_events
             WHERE mirror_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(mirror_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}

pub(crate) async fn write_health(
    tx: &mut Transaction<'_, Any>,
    records: &[HealthRecord],
    events: &[HealthEvent],
) -> Result<()> {
    for r in records {
        sqlx::query(
            "INSERT INTO mirror_health (mirror_id, capability, state, since, reason, consecutive_ok, consecutive_failed)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (mirror_id, capability) DO UPDATE SET state = excluded.state,
               since = excluded.since, reason = excluded.reason,
               consecutive_ok = excluded.consecutive_ok, consecutive_failed = excluded.consecutive_failed",
        )
        .bind(r.mirror_id)
        .bind(&r.capability)
        .bind(r.state.as_str())
        .bind(r.since)
        .bind(&r.reason)
        .bind(r.consecutive_ok)
        .bind(r.consecutive_failed)
        .execute(&mut **tx)
        .await?;
    }
    for e in events {
        sqlx::query(
            "INSERT INTO health_events (mirror_id, capability, old_state, new_state, reason, at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(e.mirror_id)
        .bind(&e.capability)
        .bind(e.old_state.as_str())
        .bind(e.new_state.as_str())
        .bind(&e.reason)
        .bind(e.at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl sqlx::FromRow<'_, sqlx::any::AnyRow> for HealthRecord {
    fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<HealthRecord> {
        use sqlx::Row;
        Ok(HealthRecord {
            mirror_id: row.try_get("mirror_id")?,
            capability: row.try_get("capability")?,
            state: crate::rows::named(row, "state")?,
            since: row.try_get("since")?,
            reason: row.try_get("reason")?,
            consecutive_ok: row.try_get("consecutive_ok")?,
            consecutive_failed: row.try_get("consecutive_failed")?,
        })
    }
}

impl sqlx::FromRow<'_, sqlx::any::AnyRow> for HealthEvent {
    fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<HealthEvent> {
        use sqlx::Row;
        Ok(HealthEvent {
            mirror_id: row.try_get("mirror_id")?,
            capability: row.try_get("capability")?,
            old_state: crate::rows::named(row, "old_state")?,
            new_state: crate::rows::named(row, "new_state")?,
            reason: row.try_get("reason")?,
            at: row.try_get("at")?,
        })
    }
}
