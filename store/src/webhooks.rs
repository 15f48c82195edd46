//! Each mirror's webhook: the URL its operator chose and the secret its deliveries are signed
//! with. One per mirror; setting another replaces it (and its secret).

use crate::{col, Result, Store};

/// A mirror's webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub mirror: String,
    pub url: String,
    pub secret: String,
    pub created_by: String,
    pub created_at: i64,
}

impl Store {
    /// Sets `mirror`'s webhook to `url`, signed with `secret`.
    pub async fn set_webhook(&self, w: &Webhook) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM webhooks WHERE mirror = $1")
            .bind(&w.mirror)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO webhooks (mirror, url, secret, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&w.mirror)
        .bind(&w.url)
        .bind(&w.secret)
        .bind(&w.created_by)
        .bind(w.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes `mirror`'s webhook; false when it had none.
    pub async fn remove_webhook(&self, mirror: &str) -> Result<bool> {
        let n = sqlx::query("DELETE FROM webhooks WHERE mirror = $1")
            .bind(mirror)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Every webhook, or `mirror`'s.
    pub async fn webhooks(&self, mirror: Option<&str>) -> Result<Vec<Webhook>> {
        let rows = sqlx::query(
            "SELECT mirror, url, secret, created_by, created_at FROM webhooks
             WHERE ($1 = '' OR mirror = $1) ORDER BY mirror",
        )
        .bind(mirror.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Webhook {
                    mirror: col(r, "mirror")?,
                    url: col(r, "url")?,
                    secret: col(r, "secret")?,
                    created_by: col(r, "created_by")?,
                    created_at: col(r, "created_at")?,
                })
            })
            .collect()
    }
}
