//! A served mirror's ownership, looked at again at each sweep: its token found, or missing
//! since when, and flagged once it has been missing for the grace (a domain can change
//! hands). Each step is one statement, so checkers sharing a store agree on it.

use crate::registrations::{registration, COLUMNS};
use crate::{Registration, Result, Store};

/// What one look at a served mirror's token came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Found, as before.
    Held,
    /// Found again after it had been flagged.
    Restored,
    /// Missing, within the grace.
    Missing,
    /// Missing past the grace, flagged just now (once).
    Flagged,
    /// Missing and flagged before.
    StillFlagged,
}

impl Store {
    /// The approved registrations whose mirror the control plane still manages.
    pub async fn served_registrations(&self) -> Result<Vec<Registration>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM registrations
              WHERE state = 'approved'
                AND name IN (SELECT name FROM mirrors WHERE managed_by = 'control')
              ORDER BY name"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(registration).collect()
    }

    /// Records a look at `name`'s token (`proof`, its findings as JSON): found clears the
    /// missing time and the flag; missing keeps the first time it was missed, and flags it
    /// when that is `grace` seconds ago or more.
    pub async fn record_ownership(
        &self,
        name: &str,
        proof: &str,
        found: bool,
        at: i64,
        grace: i64,
    ) -> Result<Ownership> {
        let before = sqlx::query("SELECT ownership_flagged_at FROM registrations WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        let was_flagged = match before {
            Some(row) => crate::col::<Option<i64>>(&row, "ownership_flagged_at")?.is_some(),
            None => return Ok(Ownership::Missing),
        };
        if found {
            sqlx::query(
                "UPDATE registrations SET proof_json = $2, proven_at = $3, updated_at = $3,
                        proof_missing_since = NULL, ownership_flagged_at = NULL
                  WHERE name = $1",
            )
            .bind(name)
            .bind(proof)
            .bind(at)
            .execute(&self.pool)
            .await?;
            return Ok(if was_flagged {
                Ownership::Restored
            } else {
                Ownership::Held
            });
        }
        let flagged = sqlx::query(
            "UPDATE registrations SET proof_json = $2, updated_at = $3,
                    proof_missing_since = COALESCE(proof_missing_since, $3),
                    ownership_flagged_at = CASE
                        WHEN ownership_flagged_at IS NULL AND $3 - COALESCE(proof_missing_since, $3) >= $4
                        THEN $3 ELSE ownership_flagged_at END
              WHERE name = $1
             RETURNING ownership_flagged_at",
        )
        .bind(name)
        .bind(proof)
        .bind(at)
        .bind(grace)
        .fetch_optional(&self.pool)
        .await?;
        let flagged_at: Option<i64> = match flagged {
            Some(row) => crate::col(&row, "ownership_flagged_at")?,
            None => None,
        };
        Ok(match flagged_at {
            Some(t) if t == at && !was_flagged => Ownership::Flagged,
            Some(_) => Ownership::StillFlagged,
            None => Ownership::Missing,
        })
    }
}
