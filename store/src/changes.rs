//! Changes to the control plane's mirrors: one applied at once (in a transaction, keeping
//! the mirror the control plane's), one waiting for an admin, and a mirror deleted.

use crate::{col, Result, Store};
use shared::registry::Mirror;

/// A change waiting for an admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingChange {
    pub name: String,
    /// The mirror as it would be, as a registry file.
    pub yaml: String,
    /// Why it needs an admin, one reason a line.
    pub reasons: String,
    pub proposed_by: String,
    pub proposed_at: i64,
}

impl Store {
    /// Writes `m` over the control-plane mirror of its name (and drops any change waiting
    /// for it); false when no control-plane mirror is so named.
    pub async fn write_control_mirror(&self, m: &Mirror, at: i64) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let ours =
            sqlx::query("SELECT 1 AS x FROM mirrors WHERE name = $1 AND managed_by = 'control'")
                .bind(&m.name)
                .fetch_optional(&mut *tx)
                .await?;
        if ours.is_none() {
            return Ok(false);
        }
        crate::mirrors::write_mirror(&mut tx, m, at).await?;
        sqlx::query("DELETE FROM pending_changes WHERE name = $1")
            .bind(&m.name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Stores `c`, replacing a change waiting for the same mirror.
    pub async fn propose_change(&self, c: &PendingChange) -> Result<()> {
        sqlx::query(
            "INSERT INTO pending_changes (name, yaml, reasons, proposed_by, proposed_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (name) DO UPDATE SET yaml = excluded.yaml, reasons = excluded.reasons,
                proposed_by = excluded.proposed_by, proposed_at = excluded.proposed_at",
        )
        .bind(&c.name)
        .bind(&c.yaml)
        .bind(&c.reasons)
        .bind(&c.proposed_by)
        .bind(c.proposed_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The changes waiting, oldest first (or the one for `name`).
    pub async fn pending_changes(&self, name: Option<&str>) -> Result<Vec<PendingChange>> {
        let rows = sqlx::query(
            "SELECT name, yaml, reasons, proposed_by, proposed_at FROM pending_changes
              WHERE CAST($1 AS TEXT) IS NULL OR name = $1 ORDER BY proposed_at, name",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PendingChange {
                    name: col(r, "name")?,
                    yaml: col(r, "yaml")?,
                    reasons: col(r, "reasons")?,
                    proposed_by: col(r, "proposed_by")?,
                    proposed_at: col(r, "proposed_at")?,
                })
            })
            .collect()
    }

    /// Drops the change waiting for `name`; whether there was one.
    pub async fn drop_change(&self, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM pending_changes WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes the control-plane mirror `name` with its history, its registration and any
    /// change waiting (its name is free again); false when no such mirror is the control
    /// plane's.
    pub async fn delete_control_mirror(&self, name: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM mirrors WHERE name = $1 AND managed_by = 'control'")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        for table in ["registrations", "pending_changes"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE name = $1"))
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Holds `name` out of the answers for `reason` (an admin's), or lifts the hold with
    /// `None`, with `tell` (the messages telling of it) written in the same transaction;
    /// false when no mirror is so named.
    pub async fn set_hold(
        &self,
        name: &str,
        reason: Option<&str>,
        by: &str,
        at: i64,
        tell: &[crate::OutboxMessage],
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE mirrors SET held_reason = $2, held_by = $3, held_at = $4, updated_at = $5
              WHERE name = $1",
        )
        .bind(name)
        .bind(reason)
        .bind(reason.map(|_| by))
        .bind(reason.map(|_| at))
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        crate::outbox::write(&mut tx, tell, at).await?;
        tx.commit().await?;
        Ok(true)
    }
}
