//! Who is working on the store now: each crawl and import registers itself while it runs, so
//! that a writer kept waiting for SQLite's lock can be told who is there (SQLite itself does
//! not say). A row left by a process that died is ignored, and swept, once it has not been
//! touched for [`STALE_SECS`].

use super::{Result, Store, StoreError};
use shared::time::now;

/// A registration untouched for this long belongs to a process that is gone.
pub const STALE_SECS: i64 = 3600;

/// One piece of work registered on the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Work {
    pub id: String,
    /// `crawl`, `import-registry`.
    pub what: String,
    pub pid: i64,
    pub host: String,
    pub started_at: i64,
    pub touched_at: i64,
}

impl Work {
    /// "crawl by process 812 on web1, started 2 min ago, last active 3 s ago".
    pub fn describe(&self, now: i64) -> String {
        let ago = |t: i64| shared::duration::human_age((now - t).max(0) as u64);
        format!(
            "{} by process {} on {}, started {} ago, last active {} ago",
            self.what,
            self.pid,
            self.host,
            ago(self.started_at),
            ago(self.touched_at)
        )
    }
}

/// What a writer that gave up waiting is told after "the store is locked".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holders(pub Option<String>);

impl std::fmt::Display for Holders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(who) => write!(f, "; {who}"),
            None => write!(
                f,
                "; try again when it finishes (several writers at once want PostgreSQL)"
            ),
        }
    }
}

fn unique_id(what: &str) -> String {
    format!(
        "{what}-{}-{}-{}-{:08x}",
        shared::net::host_name(),
        std::process::id(),
        now(),
        shared::time::clock_noise()
    )
}

impl Store {
    /// Registers work of kind `what` by this process; returns its id.
    pub async fn begin_work(&self, what: &str) -> Result<String> {
        let id = unique_id(what);
        let t = now();
        sqlx::query(
            "INSERT INTO store_work (id, what, pid, host, started_at, touched_at)
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(&id)
        .bind(what)
        .bind(std::process::id() as i64)
        .bind(shared::net::host_name())
        .bind(t)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Ends a registration.
    pub async fn end_work(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM store_work WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The work registered and touched within [`STALE_SECS`], oldest first.
    pub async fn work_in_progress(&self, now: i64) -> Result<Vec<Work>> {
        Ok(sqlx::query_as(
            "SELECT id, what, pid, host, started_at, touched_at FROM store_work
             WHERE touched_at >= $1 ORDER BY started_at, id",
        )
        .bind(now - STALE_SECS)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Removes registrations (and crawl results staged under them) of processes that are
    /// gone; returns how many.
    pub async fn sweep_stale_work(&self, now: i64) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM crawl_staging WHERE run IN
               (SELECT id FROM store_work WHERE touched_at < $1)
             OR run NOT IN (SELECT id FROM store_work)",
        )
        .bind(now - STALE_SECS)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM store_work WHERE touched_at < $1")
            .bind(now - STALE_SECS)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// `e`, with who is working on the store when it says the store is locked. Reading the
    /// registrations needs no write lock, so this answers while the lock is still held.
    pub async fn explain(&self, e: StoreError) -> StoreError {
        let StoreError::Busy(_) = e else { return e };
        let t = now();
        let who = match self.work_in_progress(t).await {
            Ok(work) if work.is_empty() => {
                "no crawl or import of this store is running, so another program (a sqlite3 \
                 shell, a backup) may be holding the file"
                    .to_string()
            }
            Ok(work) => format!(
                "working on it now: {}; try again when that finishes",
                work.iter()
                    .map(|w| w.describe(t))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Err(_) => return e,
        };
        StoreError::Busy(Holders(Some(who)))
    }
}

impl sqlx::FromRow<'_, sqlx::any::AnyRow> for Work {
    fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<Work> {
        use sqlx::Row;
        Ok(Work {
            id: row.try_get("id")?,
            what: row.try_get("what")?,
            pid: row.try_get("pid")?,
            host: row.try_get("host")?,
            started_at: row.try_get("started_at")?,
            touched_at: row.try_get("touched_at")?,
        })
    }
}
