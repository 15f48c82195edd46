//! Mirrors registered through the control plane: the registration (fields as a registry
//! file, contact, ownership token, proof, decision) until an admin approves it, then the
//! mirror itself, marked `managed_by = 'control'` so that an import never removes it.

use crate::{col, Result, Store};
use shared::registry::Mirror;
use sqlx::any::AnyRow;
use std::collections::HashSet;

/// Where a registration is on its way to being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationState {
    /// Its contact has not yet followed the link mailed to them.
    Unconfirmed,
    /// Waiting for the ownership token to be found under every base URL.
    Proving,
    /// Proven; waiting for an admin.
    Waiting,
    Approved,
    Refused,
}

impl RegistrationState {
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationState::Unconfirmed => "unconfirmed",
            RegistrationState::Proving => "proving",
            RegistrationState::Waiting => "waiting",
            RegistrationState::Approved => "approved",
            RegistrationState::Refused => "refused",
        }
    }

    fn parse(s: &str) -> Option<RegistrationState> {
        [
            RegistrationState::Unconfirmed,
            RegistrationState::Proving,
            RegistrationState::Waiting,
            RegistrationState::Approved,
            RegistrationState::Refused,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }
}

/// One registration as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub name: String,
    pub contact: String,
    /// The fields as a registry file.
    pub yaml: String,
    /// What the operator publishes at `<base>/.well-known/mirror-verification`.
    pub token: String,
    pub state: RegistrationState,
    /// The last proof's findings (JSON), when there was one.
    pub proof: Option<String>,
    pub proven_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub decided_by: Option<String>,
    /// An admin's reason (a refusal's is shown to the operator).
    pub reason: Option<String>,
    /// Served, its token has not been found since then (looked for at each sweep)...
    pub proof_missing_since: Option<i64>,
    /// ...and past the grace this was flagged to its operator and the admins.
    pub ownership_flagged_at: Option<i64>,
}

pub(crate) fn registration(row: &AnyRow) -> Result<Registration> {
    let state: String = col(row, "state")?;
    Ok(Registration {
        name: col(row, "name")?,
        contact: col(row, "contact")?,
        yaml: col(row, "yaml")?,
        token: col(row, "token")?,
        state: RegistrationState::parse(&state)
            .ok_or_else(|| crate::StoreError::Corrupt(format!("registration state {state:?}")))?,
        proof: col(row, "proof_json")?,
        proven_at: col(row, "proven_at")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
        decided_by: col(row, "decided_by")?,
        reason: col(row, "reason")?,
        proof_missing_since: col(row, "proof_missing_since")?,
        ownership_flagged_at: col(row, "ownership_flagged_at")?,
    })
}

pub(crate) const COLUMNS: &str = "name, contact, yaml, token, state, proof_json, proven_at, \
                       created_at, updated_at, decided_by, reason, proof_missing_since, \
                       ownership_flagged_at";

impl Store {
    /// Stores a new registration; false when its name is a mirror's or another
    /// registration's already (a refused one's name is free again).
    pub async fn create_registration(&self, r: &Registration) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let taken = sqlx::query("SELECT 1 AS x FROM mirrors WHERE name = $1")
            .bind(&r.name)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if taken {
            return Ok(false);
        }
        sqlx::query("DELETE FROM registrations WHERE name = $1 AND state = 'refused'")
            .bind(&r.name)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(
            "INSERT INTO registrations (name, contact, yaml, token, state, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&r.name)
        .bind(&r.contact)
        .bind(&r.yaml)
        .bind(&r.token)
        .bind(r.state.as_str())
        .bind(r.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn registration(&self, name: &str) -> Result<Option<Registration>> {
        let sql = format!("SELECT {COLUMNS} FROM registrations WHERE name = $1");
        let row = sqlx::query(&sql)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(registration).transpose()
    }

    /// Registrations whose contact is `address`, or all when `None`, by name.
    pub async fn registrations(&self, contact: Option<&str>) -> Result<Vec<Registration>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM registrations
              WHERE CAST($1 AS TEXT) IS NULL OR LOWER(contact) = LOWER($1) ORDER BY name"
        );
        let rows = sqlx::query(&sql)
            .bind(contact)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(registration).collect()
    }

    /// `address` followed a link: its unconfirmed registrations go on to be proven.
    pub async fn confirm_registrations(&self, address: &str, at: i64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE registrations SET state = 'proving', updated_at = $2
              WHERE LOWER(contact) = LOWER($1) AND state = 'unconfirmed'",
        )
        .bind(address)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Removes registrations left unconfirmed since before `before`.
    pub async fn expire_unconfirmed(&self, before: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM registrations WHERE state = 'unconfirmed' AND created_at < $1",
        )
        .bind(before)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Records a proof's findings: a proving registration proven is waiting for an admin;
    /// a waiting one no longer proven is proving again.
    pub async fn record_proof(&self, name: &str, proof: &str, proven: bool, at: i64) -> Result<()> {
        let (from, to) = if proven {
            ("proving", "waiting")
        } else {
            ("waiting", "proving")
        };
        sqlx::query(
            "UPDATE registrations SET proof_json = $2, updated_at = $3,
                    proven_at = CASE WHEN $4 THEN $3 ELSE proven_at END,
                    state = CASE WHEN state = $5 THEN $6 ELSE state END
              WHERE name = $1",
        )
        .bind(name)
        .bind(proof)
        .bind(at)
        .bind(proven)
        .bind(from)
        .bind(to)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An admin's decision on a waiting registration: approved, the mirror is stored (managed
    /// by the control plane) in the same transaction; refused, the reason is kept. False
    /// when the registration is not waiting (another admin decided first, or it is unproven).
    pub async fn decide_registration(
        &self,
        name: &str,
        approved: Option<&Mirror>,
        by: &str,
        reason: Option<&str>,
        at: i64,
    ) -> Result<bool> {
        self.decide_registration_telling(name, approved, by, reason, at, &[])
            .await
    }

    /// [`Store::decide_registration`], writing `tell` (the messages telling of it) to the
    /// outbox in the same transaction.
    pub async fn decide_registration_telling(
        &self,
        name: &str,
        approved: Option<&Mirror>,
        by: &str,
        reason: Option<&str>,
        at: i64,
        tell: &[crate::OutboxMessage],
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let state = if approved.is_some() {
            "approved"
        } else {
            "refused"
        };
        let done = sqlx::query(
            "UPDATE registrations SET state = $2, decided_by = $3, reason = $4, updated_at = $5
              WHERE name = $1 AND state = 'waiting'",
        )
        .bind(name)
        .bind(state)
        .bind(by)
        .bind(reason)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        if let Some(mirror) = approved {
            crate::mirrors::write_mirror(&mut tx, mirror, at).await?;
            sqlx::query("UPDATE mirrors SET managed_by = 'control' WHERE name = $1")
                .bind(&mirror.name)
                .execute(&mut *tx)
                .await?;
        }
        crate::outbox::write(&mut tx, tell, at).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The mirrors the control plane manages (registered and approved through it).
    pub async fn control_managed(&self) -> Result<HashSet<String>> {
        let rows = sqlx::query("SELECT name FROM mirrors WHERE managed_by = 'control'")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| col(r, "name")).collect()
    }

    /// Turns a mirror on or off (the operator's switch); false when no mirror is so named.
    pub async fn set_enabled(&self, name: &str, enabled: bool, at: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE mirrors SET enabled = $2, updated_at = $3 WHERE name = $1")
            .bind(name)
            .bind(enabled)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
