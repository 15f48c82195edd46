//! The control plane's state: admins, sign-in links and requests, sessions, the audit log.
//! Secrets arrive here already hashed; every check that must hold across several control
//! planes on one database (a link used once, a session's expiry) is one statement.

use crate::{col, Result, Store};

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: i64,
    /// The address of who did it (`cli` for the command line's user).
    pub actor: String,
    /// Through what: `page`, `api`, `cli` or `import`.
    pub via: String,
    pub action: String,
    /// What it was done to: a mirror's name, an address.
    pub subject: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// What following a sign-in link came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkUse {
    /// The link was good and is now used: who it signs in.
    SignedIn(String),
    /// No such link, used already, or expired: the same to the person following it.
    Refused,
}

impl Store {
    /// Adds an admin; false when the address was one already.
    pub async fn add_admin(&self, address: &str, by: &str, at: i64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO admins (address, added_at, added_by) VALUES ($1, $2, $3)
             ON CONFLICT (address) DO NOTHING",
        )
        .bind(address)
        .bind(at)
        .bind(by)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The admins added to the store (not those the config names).
    pub async fn stored_admins(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT address FROM admins ORDER BY address")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| col(r, "address")).collect()
    }

    /// The mirrors whose contact is `address` (compared without case), by name.
    pub async fn mirrors_of_contact(&self, address: &str) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT name FROM mirrors WHERE LOWER(email) = LOWER($1) ORDER BY name")
                .bind(address)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| col(r, "name")).collect()
    }

    /// Whether a sign-in link may be mailed to `address`: a mirror's contact, or a
    /// registration's (one not refused).
    pub async fn is_contact(&self, address: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 AS x FROM mirrors WHERE LOWER(email) = LOWER($1)
             UNION ALL SELECT 1 AS x FROM registrations
              WHERE LOWER(contact) = LOWER($1) AND state <> 'refused'",
        )
        .bind(address)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Records a sign-in request and says how many there were since `since` for its address
    /// and for its network, this one included.
    pub async fn count_signin_request(
        &self,
        at: i64,
        address_hash: &str,
        network: &str,
        since: i64,
    ) -> Result<(i64, i64)> {
        sqlx::query("DELETE FROM signin_requests WHERE at < $1")
            .bind(since)
            .execute(&self.pool)
            .await?;
        sqlx::query("INSERT INTO signin_requests (at, address_hash, network) VALUES ($1, $2, $3)")
            .bind(at)
            .bind(address_hash)
            .bind(network)
            .execute(&self.pool)
            .await?;
        let count = |column: &'static str, value: &str| {
            let sql = format!("SELECT COUNT(*) AS n FROM signin_requests WHERE {column} = $1");
            let value = value.to_string();
            async move {
                let row = sqlx::query(&sql).bind(value).fetch_one(&self.pool).await?;
                col::<i64>(&row, "n")
            }
        };
        Ok((
            count("address_hash", address_hash).await?,
            count("network", network).await?,
        ))
    }

    pub async fn create_signin_link(
        &self,
        token_hash: &str,
        address: &str,
        at: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO signin_links (token_hash, address, created_at, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(address)
        .bind(at)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Uses the link whose token hashes to `token_hash`, once: of two control planes
    /// following it at once, one signs in.
    pub async fn use_signin_link(&self, token_hash: &str, now: i64) -> Result<LinkUse> {
        let row = sqlx::query(
            "UPDATE signin_links SET used_at = $2
              WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
             RETURNING address",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => LinkUse::SignedIn(col(&row, "address")?),
            None => LinkUse::Refused,
        })
    }

    pub async fn create_session(
        &self,
        id_hash: &str,
        address: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, address, created_at, last_seen, expires_at)
             VALUES ($1, $2, $3, $3, $4)",
        )
        .bind(id_hash)
        .bind(address)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Who the session whose id hashes to `id_hash` is, when it has neither expired nor
    /// been idle since before `idle_since`; its last use becomes `now`.
    pub async fn touch_session(
        &self,
        id_hash: &str,
        now: i64,
        idle_since: i64,
    ) -> Result<Option<String>> {
        let row = sqlx::query(
            "UPDATE sessions SET last_seen = $2
              WHERE id_hash = $1 AND expires_at > $2 AND last_seen >= $3
             RETURNING address",
        )
        .bind(id_hash)
        .bind(now)
        .bind(idle_since)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| col(&r, "address")).transpose()
    }

    /// Ends one session.
    pub async fn end_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends every session of `address`; how many there were.
    pub async fn end_sessions_of(&self, address: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE address = $1")
            .bind(address)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn audit(&self, e: &AuditEntry) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, via, action, subject, before_json, after_json)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(e.at)
        .bind(&e.actor)
        .bind(&e.via)
        .bind(&e.action)
        .bind(&e.subject)
        .bind(&e.before)
        .bind(&e.after)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest `limit` entries, of `subject` only when given, newest first.
    pub async fn audit_log(&self, subject: Option<&str>, limit: i64) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT at, actor, via, action, subject, before_json, after_json FROM audit_log
              WHERE CAST($1 AS TEXT) IS NULL OR subject = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(subject)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: col(r, "at")?,
                    actor: col(r, "actor")?,
                    via: col(r, "via")?,
                    action: col(r, "action")?,
                    subject: col(r, "subject")?,
                    before: col(r, "before_json")?,
                    after: col(r, "after_json")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
