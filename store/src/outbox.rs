//! The outbox: messages to operators, written with the change they tell of, delivered under
//! a lease (each once, whichever checker sends it), retried with backoff, given up after a
//! day with the reason kept.

use crate::{col, Result, Store};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

/// A message to write with a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// The mirror it is about (the first, for one grouping several).
    pub mirror: String,
    /// What happened: `down`, `recovered`, ...
    pub kind: String,
    /// `email`.
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
}

/// A message claimed for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub id: i64,
    pub mirror: String,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attempts: i64,
    pub created_at: i64,
}

/// A message as a mirror's page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub mirror: String,
    pub kind: String,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub created_at: i64,
    pub attempts: i64,
    pub delivered_at: Option<i64>,
    pub gave_up_at: Option<i64>,
    pub last_error: Option<String>,
    /// The HTTP status a webhook answered the last attempt with.
    pub last_status: Option<i64>,
}

/// Writes `messages` in `tx` (the transaction of the change they tell of), due at `now`.
pub(crate) async fn write(
    tx: &mut Transaction<'_, Any>,
    messages: &[OutboxMessage],
    now: i64,
) -> Result<()> {
    for m in messages {
        sqlx::query(
            "INSERT INTO outbox (mirror, kind, channel, recipient, subject, body, created_at,
               due_at, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 0)",
        )
        .bind(&m.mirror)
        .bind(&m.kind)
        .bind(&m.channel)
        .bind(&m.recipient)
        .bind(&m.subject)
        .bind(&m.body)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

fn delivery(row: &AnyRow) -> Result<Delivery> {
    Ok(Delivery {
        id: col(row, "id")?,
        mirror: col(row, "mirror")?,
        kind: col(row, "kind")?,
        channel: col(row, "channel")?,
        recipient: col(row, "recipient")?,
        subject: col(row, "subject")?,
        created_at: col(row, "created_at")?,
        attempts: col(row, "attempts")?,
        delivered_at: col(row, "delivered_at")?,
        gave_up_at: col(row, "gave_up_at")?,
        last_error: col(row, "last_error")?,
        last_status: col(row, "last_status")?,
    })
}

impl Store {
    /// Writes `messages` on their own (a change made outside a crawl).
    pub async fn enqueue(&self, messages: &[OutboxMessage], now: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        write(&mut tx, messages, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claims up to `max` messages due at `now` for `holder` until `now + lease_secs`: none
    /// delivered, given up, or leased to another whose lease still runs.
    pub async fn claim_outbox(
        &self,
        holder: &str,
        now: i64,
        lease_secs: i64,
        max: i64,
    ) -> Result<Vec<Outgoing>> {
        let candidates = sqlx::query(
            "SELECT id FROM outbox
             WHERE delivered_at IS NULL AND gave_up_at IS NULL AND due_at <= $1
               AND (lease_until IS NULL OR lease_until < $1)
             ORDER BY due_at, id LIMIT $2",
        )
        .bind(now)
        .bind(max)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::new();
        for row in &candidates {
            let id: i64 = col(row, "id")?;
            // Taken only if still free: of two checkers racing for it, one wins.
            let won = sqlx::query(
                "UPDATE outbox SET lease_holder = $1, lease_until = $2
                 WHERE id = $3 AND delivered_at IS NULL AND gave_up_at IS NULL
                   AND (lease_until IS NULL OR lease_until < $4)",
            )
            .bind(holder)
            .bind(now + lease_secs)
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
            if won == 1 {
                let row = sqlx::query(
                    "SELECT id, mirror, channel, recipient, subject, body, attempts, created_at
                     FROM outbox WHERE id = $1",
                )
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
                claimed.push(Outgoing {
                    id,
                    mirror: col(&row, "mirror")?,
                    channel: col(&row, "channel")?,
                    recipient: col(&row, "recipient")?,
                    subject: col(&row, "subject")?,
                    body: col(&row, "body")?,
                    attempts: col(&row, "attempts")?,
                    created_at: col(&row, "created_at")?,
                });
            }
        }
        Ok(claimed)
    }

    /// `holder` delivered message `id`; false when its lease had passed to another.
    pub async fn outbox_delivered(&self, id: i64, holder: &str, now: i64) -> Result<bool> {
        self.outbox_answered(id, holder, now, None).await
    }

    /// [`Store::outbox_delivered`], recording the HTTP `status` the receiver answered.
    pub async fn outbox_answered(
        &self,
        id: i64,
        holder: &str,
        now: i64,
        status: Option<u16>,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE outbox SET delivered_at = $1, attempts = attempts + 1, lease_until = NULL,
               last_status = $4
             WHERE id = $2 AND lease_holder = $3 AND delivered_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(holder)
        .bind(status.map(i64::from))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// `holder`'s attempt at message `id` failed with `error`: tried again at `retry_at`,
    /// or given up now when `None`.
    pub async fn outbox_failed(
        &self,
        id: i64,
        holder: &str,
        now: i64,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $1, lease_until = NULL,
               due_at = COALESCE($2, due_at), gave_up_at = CASE WHEN $2 IS NULL THEN $3 END
             WHERE id = $4 AND lease_holder = $5 AND delivered_at IS NULL",
        )
        .bind(shared::text::bounded(error, 500))
        .bind(retry_at)
        .bind(now)
        .bind(id)
        .bind(holder)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Messages waiting (not delivered, not given up), and when the oldest was written.
    pub async fn outbox_backlog(&self) -> Result<(i64, Option<i64>)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox
             WHERE delivered_at IS NULL AND gave_up_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((col(&row, "n")?, col(&row, "oldest")?))
    }

    /// Stores an unsubscribe link's token hash for `address` and `mirror`.
    pub async fn create_unsubscribe_link(
        &self,
        hash: &str,
        address: &str,
        mirror: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO unsubscribe_links (hash, address, mirror, created_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(hash)
        .bind(address)
        .bind(mirror)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The (address, mirror) an unsubscribe link names, when it is one.
    pub async fn unsubscribe_link(&self, hash: &str) -> Result<Option<(String, String)>> {
        let row = sqlx::query("SELECT address, mirror FROM unsubscribe_links WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((col(&r, "address")?, col(&r, "mirror")?)))
            .transpose()
    }

    /// Records (or, with `out` false, lifts) `address`'s opt-out of `mirror`'s mail.
    pub async fn set_optout(&self, address: &str, mirror: &str, out: bool, now: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM mail_optouts WHERE address = $1 AND mirror = $2")
            .bind(address)
            .bind(mirror)
            .execute(&mut *tx)
            .await?;
        if out {
            sqlx::query("INSERT INTO mail_optouts (address, mirror, at) VALUES ($1, $2, $3)")
                .bind(address)
                .bind(mirror)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The addresses that opted out of `mirror`'s mail.
    pub async fn optouts(&self, mirror: &str) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT address FROM mail_optouts WHERE mirror = $1 ORDER BY address")
                .bind(mirror)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| col(r, "address")).collect()
    }

    /// When each mirror's contacts were last told it was down (a change or a reminder).
    pub async fn last_told_down(&self) -> Result<std::collections::HashMap<String, i64>> {
        let rows = sqlx::query(
            "SELECT mirror, MAX(created_at) AS at FROM outbox
             WHERE kind IN ('down', 'changes', 'reminder') GROUP BY mirror",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((col(r, "mirror")?, col(r, "at")?)))
            .collect()
    }

    /// The newest messages about `mirror` (or to anyone), newest first.
    pub async fn deliveries(&self, mirror: Option<&str>, limit: i64) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(
            "SELECT id, mirror, kind, channel, recipient, subject, created_at, attempts,
                    delivered_at, gave_up_at, last_error, last_status
             FROM outbox WHERE ($1 = '' OR mirror = $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(mirror.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery).collect()
    }
}

#[cfg(test)]
mod tests;
