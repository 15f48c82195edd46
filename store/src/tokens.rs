//! API tokens: each for one mirror, named, its secret stored only as a hash, its last use
//! recorded, revocable. A token's id (shown, used to revoke) is the first 12 characters of
//! its hash: enough to tell a mirror's tokens apart, nothing toward the secret.

use crate::{col, Result, Store};
use sqlx::any::AnyRow;

/// A token as its mirror's page lists it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: String,
    pub mirror: String,
    pub name: String,
    pub created_by: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Who a token speaks for, when it is good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUse {
    pub mirror: String,
    pub name: String,
    pub created_by: String,
}

fn token(row: &AnyRow) -> Result<ApiToken> {
    let hash: String = col(row, "hash")?;
    Ok(ApiToken {
        id: hash.chars().take(12).collect(),
        mirror: col(row, "mirror")?,
        name: col(row, "name")?,
        created_by: col(row, "created_by")?,
        created_at: col(row, "created_at")?,
        last_used_at: col(row, "last_used_at")?,
        revoked_at: col(row, "revoked_at")?,
    })
}

impl Store {
    /// Stores a new token for `mirror`; false when the mirror has a live token of that name.
    pub async fn create_api_token(
        &self,
        hash: &str,
        mirror: &str,
        name: &str,
        by: &str,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let taken = sqlx::query(
            "SELECT 1 FROM api_tokens WHERE mirror = $1 AND name = $2 AND revoked_at IS NULL",
        )
        .bind(mirror)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        if taken.is_some() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO api_tokens (hash, mirror, name, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash)
        .bind(mirror)
        .bind(name)
        .bind(by)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The tokens of `mirror`, newest first, revoked ones included.
    pub async fn api_tokens(&self, mirror: &str) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query(
            "SELECT hash, mirror, name, created_by, created_at, last_used_at, revoked_at
               FROM api_tokens WHERE mirror = $1 ORDER BY created_at DESC, name",
        )
        .bind(mirror)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token).collect()
    }

    /// The token whose secret hashes to `hash`, when it is not revoked; its last use
    /// becomes `now`.
    pub async fn use_api_token(&self, hash: &str, now: i64) -> Result<Option<TokenUse>> {
        let row = sqlx::query(
            "UPDATE api_tokens SET last_used_at = $2 WHERE hash = $1 AND revoked_at IS NULL
             RETURNING mirror, name, created_by",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(TokenUse {
                mirror: col(&r, "mirror")?,
                name: col(&r, "name")?,
                created_by: col(&r, "created_by")?,
            })
        })
        .transpose()
    }

    /// Revokes `mirror`'s token `id`; its name when it was live.
    pub async fn revoke_api_token(
        &self,
        mirror: &str,
        id: &str,
        now: i64,
    ) -> Result<Option<String>> {
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let row = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $3
              WHERE mirror = $1 AND hash LIKE $2 AND revoked_at IS NULL RETURNING name",
        )
        .bind(mirror)
        .bind(format!("{id}%"))
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| col(&r, "name")).transpose()
    }

    /// Revokes every token of `mirror` (it was deleted); how many.
    pub async fn revoke_api_tokens_of(&self, mirror: &str, now: i64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE mirror = $1 AND revoked_at IS NULL",
        )
        .bind(mirror)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
