//! The crawl's writer: each mirror's results staged in short transactions as it finishes,
//! then moved into place with health, costs, claims and the run's record in one final
//! transaction (or discarded); and the runs and per-mirror costs it records.

use crate::health::{write_health, HealthEvent, HealthRecord};
use crate::results::{write_checks, CheckRecord, CHECK_COLUMNS, CHECK_UPDATE};
use crate::{col, Result, Store};
use shared::model::HealthState;
use sqlx::{Any, Transaction};

/// What the last crawl spent on one mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorStats {
    pub mirror_id: i64,
    pub checked_at: i64,
    /// Requests sent, redirects, retries and probes included.
    pub requests: i64,
    /// Body bytes received.
    pub bytes: i64,
    pub not_modified: i64,
    /// Age of the mirror's TIME file, when it has one.
    pub sync_age: Option<i64>,
    /// Other hosts its redirects led to, sorted.
    pub redirects_to: Vec<String>,
}

/// What one crawl did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrawlRun {
    pub started_at: i64,
    pub finished_at: i64,
    pub mirrors: i64,
    pub checks: i64,
    pub errors: i64,
    pub not_modified: i64,
    pub requests: i64,
    pub bytes: i64,
    /// True when the results were set aside (most checks failed at once).
    pub ignored: bool,
    pub note: String,
    /// The checker that ran it (its `[daemon] checker_id`).
    pub checker: String,
}

impl Store {
    /// Starts applying a crawl: results are staged as each mirror finishes, each batch in a
    /// short transaction of its own, and [`CrawlWriter::finish`] moves them into place with
    /// everything else the crawl decided in one transaction. Until then nothing of the crawl
    /// is visible, and the store stays writable for others. [`CrawlWriter::abandon`], or
    /// dropping the writer (an interrupted crawl), discards the staged results; a process
    /// killed midway leaves them to [`Store::sweep_stale_work`], which this calls.
    pub async fn begin_crawl(&self) -> Result<CrawlWriter> {
        let swept = self.sweep_stale_work(shared::time::now()).await?;
        if swept > 0 {
            tracing::info!(
                swept,
                "discarded the staged results of crawls whose process is gone"
            );
        }
        Ok(CrawlWriter {
            store: self.clone(),
            run: Some(self.begin_work("crawl").await?),
            claims: Vec::new(),
            outbox: Vec::new(),
        })
    }

    /// Records a run whose results were not applied.
    pub async fn record_run(&self, run: &CrawlRun) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        write_run(&mut tx, run, 0).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What the last crawl spent on each mirror.
    pub async fn mirror_stats(&self) -> Result<Vec<MirrorStats>> {
        Ok(sqlx::query_as(
            "SELECT mirror_id, checked_at, requests, bytes, not_modified, sync_age, redirects_to
             FROM mirror_crawl_stats ORDER BY mirror_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The most recent runs, newest first.
    pub async fn crawl_runs(&self, limit: i64) -> Result<Vec<CrawlRun>> {
        Ok(sqlx::query_as(
            "SELECT started_at, finished_at, mirrors, checks, errors, not_modified, requests, bytes, ignored, note, checker
             FROM crawl_runs ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// A crawl being applied: see [`Store::begin_crawl`].
pub struct CrawlWriter {
    store: Store,
    /// The crawl's registration, which also keys its staged results; `None` once finished
    /// or abandoned.
    run: Option<String>,
    /// Claims to complete when the crawl finishes.
    claims: Vec<(String, Vec<super::Claim>, super::Schedule, i64)>,
    /// Messages telling of the crawl's changes, written in its transaction.
    outbox: Vec<super::OutboxMessage>,
}

impl CrawlWriter {
    fn run(&self) -> &str {
        self.run.as_deref().expect("used after finish or abandon")
    }

    /// Messages to write with the crawl's changes when it finishes (none if it does not).
    pub fn notify(&mut self, messages: Vec<super::OutboxMessage>) {
        self.outbox.extend(messages);
    }

    /// Stages results (replacing earlier ones of this crawl for the same keys) in a short
    /// transaction of their own.
    pub async fn write(&mut self, records: &[CheckRecord]) -> Result<()> {
        let run = self.run().to_string();
        let mut tx = self.store.pool.begin().await?;
        write_checks(&mut tx, self.store.backend, Some(&run), records).await?;
        sqlx::query("UPDATE store_work SET touched_at = $1 WHERE id = $2")
            .bind(shared::time::now())
            .bind(&run)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves the staged results into place, adds health, state changes, what each mirror
    /// cost, the completed claims and the run's record, all in one transaction. Results,
    /// health and costs of a mirror removed from the registry meanwhile are dropped. Returns
    /// how many results and health states changed (recorded with the run: the daemon
    /// publishes only after a crawl that changed something).
    pub async fn finish(
        mut self,
        run: &CrawlRun,
        health: &[HealthRecord],
        events: &[HealthEvent],
        stats: &[MirrorStats],
    ) -> Result<i64> {
        let key = self.run().to_string();
        let mut tx = self.store.pool.begin().await?;
        // The first statement writes, so SQLite takes its write lock here and what is read
        // below cannot change before the commit.
        sqlx::query("UPDATE store_work SET touched_at = $1 WHERE id = $2")
            .bind(shared::time::now())
            .bind(&key)
            .execute(&mut *tx)
            .await?;
        // What a snapshot shows of a result: its outcome, the copy, how far behind, the
        // answer and the error. (Latency, times and byte counts change every check.)
        let changed: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM crawl_staging s LEFT JOIN check_results c
               ON c.mirror_id = s.mirror_id AND c.directory_id = s.directory_id
              AND c.protocol = s.protocol AND c.family = s.family
             WHERE s.run = $1 AND (c.mirror_id IS NULL OR c.outcome <> s.outcome
               OR c.sha256_seen IS DISTINCT FROM s.sha256_seen
               OR c.versions_behind IS DISTINCT FROM s.versions_behind
               OR c.http_status IS DISTINCT FROM s.http_status
               OR c.error IS DISTINCT FROM s.error)",
        )
        .bind(&key)
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| sqlx::Row::try_get::<i64, _>(&row, "n"))?;
        let before: std::collections::HashMap<(i64, String), (String, String)> =
            sqlx::query("SELECT mirror_id, capability, state, reason FROM mirror_health")
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|row| {
                    Ok((
                        (col(row, "mirror_id")?, col(row, "capability")?),
                        (col(row, "state")?, col(row, "reason")?),
                    ))
                })
                .collect::<Result<_>>()?;
        // A state that changed, or the reason of one that is down (shown beside it).
        let health_changed = health
            .iter()
            .filter(|h| match before.get(&(h.mirror_id, h.capability.clone())) {
                None => true,
                Some((state, reason)) => {
                    state != h.state.as_str()
                        || (h.state == HealthState::Down && *reason != h.reason)
                }
            })
            .count() as i64;
        let changes = changed + health_changed;
        // Versions seen on a mirror for the first time, before the results move: a result
        // whose copy differs from the previous result's. Observed arriving when that previous
        // result held one of the master's versions, else (first check, or the first after
        // failed ones) found already there. Nothing to look for when no result changed.
        if changed > 0 {
            sqlx::query(
                "INSERT INTO version_arrivals (version_id, mirror_id, first_served_at, observed)
                 SELECT v.id, s.mirror_id, MIN(s.checked_at),
                        MAX(CASE WHEN c.outcome IN ('current', 'behind') THEN 1 ELSE 0 END)
                   FROM crawl_staging s
                   LEFT JOIN check_results c
                     ON c.mirror_id = s.mirror_id AND c.directory_id = s.directory_id
                    AND c.protocol = s.protocol AND c.family = s.family
                   JOIN repomd_versions v
                     ON v.directory_id = s.directory_id AND v.sha256 = s.sha256_seen
                  WHERE s.run = $1 AND s.outcome IN ('current', 'behind')
                    AND (c.sha256_seen IS NULL OR c.sha256_seen <> s.sha256_seen)
                    AND s.mirror_id IN (SELECT id FROM mirrors)
                  GROUP BY v.id, s.mirror_id
                 ON CONFLICT (version_id, mirror_id) DO NOTHING",
            )
            .bind(&key)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(&format!(
            "INSERT INTO check_results ({CHECK_COLUMNS})
             SELECT {CHECK_COLUMNS} FROM crawl_staging
             WHERE run = $1 AND mirror_id IN (SELECT id FROM mirrors)
             ON CONFLICT (mirror_id, directory_id, protocol, family) DO UPDATE SET {CHECK_UPDATE},
               good_sha256 = COALESCE(excluded.good_sha256, check_results.good_sha256),
               good_at = COALESCE(excluded.good_at, check_results.good_at)"
        ))
        .bind(&key)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM crawl_staging WHERE run = $1")
            .bind(&key)
            .execute(&mut *tx)
            .await?;
        let present: std::collections::HashSet<i64> = sqlx::query("SELECT id FROM mirrors")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| col::<i64>(row, "id"))
            .collect::<Result<_>>()?;
        let health: Vec<HealthRecord> = health
            .iter()
            .filter(|h| present.contains(&h.mirror_id))
            .cloned()
            .collect();
        let events: Vec<HealthEvent> = events
            .iter()
            .filter(|e| present.contains(&e.mirror_id))
            .cloned()
            .collect();
        write_health(&mut tx, &health, &events).await?;
        for s in stats.iter().filter(|s| present.contains(&s.mirror_id)) {
            sqlx::query(
                "INSERT INTO mirror_crawl_stats (mirror_id, checked_at, requests, bytes, not_modified, sync_age, redirects_to)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (mirror_id) DO UPDATE SET checked_at = excluded.checked_at,
                   requests = excluded.requests, bytes = excluded.bytes,
                   not_modified = excluded.not_modified, sync_age = excluded.sync_age,
                   redirects_to = excluded.redirects_to",
            )
            .bind(s.mirror_id)
            .bind(s.checked_at)
            .bind(s.requests)
            .bind(s.bytes)
            .bind(s.not_modified)
            .bind(s.sync_age)
            .bind((!s.redirects_to.is_empty()).then(|| s.redirects_to.join("\n")))
            .execute(&mut *tx)
            .await?;
        }
        for (holder, claims, schedule, now) in std::mem::take(&mut self.claims) {
            super::schedule::complete(&mut tx, &holder, &claims, &schedule, now).await?;
        }
        write_run(&mut tx, run, changes).await?;
        super::outbox::write(&mut tx, &std::mem::take(&mut self.outbox), run.finished_at).await?;
        sqlx::query("DELETE FROM store_work WHERE id = $1")
            .bind(&key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.run = None;
        Ok(changes)
    }

    /// Marks the mirrors this crawl claimed checked and schedules their next check when the
    /// crawl finishes: results and schedule are committed together or not at all.
    pub fn complete_claims(
        &mut self,
        holder: &str,
        claims: &[super::Claim],
        schedule: &super::Schedule,
        now: i64,
    ) {
        self.claims
            .push((holder.to_string(), claims.to_vec(), *schedule, now));
    }

    /// Discards every result staged so far.
    pub async fn abandon(mut self) -> Result<()> {
        let key = self.run.take().expect("abandoned once");
        discard(&self.store, &key).await
    }
}

async fn discard(store: &Store, run: &str) -> Result<()> {
    let mut tx = store.pool.begin().await?;
    sqlx::query("DELETE FROM crawl_staging WHERE run = $1")
        .bind(run)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM store_work WHERE id = $1")
        .bind(run)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

impl Drop for CrawlWriter {
    /// An interrupted crawl: its staged results are discarded in the background (or, with no
    /// runtime left, by the next crawl's sweep once the registration is stale).
    fn drop(&mut self) {
        if let (Some(run), Ok(handle)) = (self.run.take(), tokio::runtime::Handle::try_current()) {
            let store = self.store.clone();
            handle.spawn(async move {
                if let Err(e) = discard(&store, &run).await {
                    tracing::warn!(error = %e, "could not discard an interrupted crawl's staged results; the next crawl sweeps them");
                }
            });
        }
    }
}

/// Records a run, with how many results and states it changed.
pub(crate) async fn write_run(
    tx: &mut Transaction<'_, Any>,
    run: &CrawlRun,
    changes: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO crawl_runs (started_at, finished_at, mirrors, checks, errors, not_modified, requests, bytes, ignored, note, checker, changes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(run.started_at)
    .bind(run.finished_at)
    .bind(run.mirrors)
    .bind(run.checks)
    .bind(run.errors)
    .bind(run.not_modified)
    .bind(run.requests)
    .bind(run.bytes)
    .bind(run.ignored)
    .bind(&run.note)
    .bind(&run.checker)
    .bind(changes)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl sqlx::FromRow<'_, sqlx::any::AnyRow> for MirrorStats {
    fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<MirrorStats> {
        use sqlx::Row;
        Ok(MirrorStats {
            mirror_id: row.try_get("mirror_id")?,
            checked_at: row.try_get("checked_at")?,
            requests: row.try_get("requests")?,
            bytes: row.try_get("bytes")?,
            not_modified: row.try_get("not_modified")?,
            sync_age: row.try_get("sync_age")?,
            redirects_to: crate::rows::lines(row, "redirects_to")?,
        })
    }
}

impl sqlx::FromRow<'_, sqlx::any::AnyRow> for CrawlRun {
    fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<CrawlRun> {
        use sqlx::Row;
        Ok(CrawlRun {
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
            mirrors: row.try_get("mirrors")?,
            checks: row.try_get("checks")?,
            errors: row.try_get("errors")?,
            not_modified: row.try_get("not_modified")?,
            requests: row.try_get("requests")?,
            bytes: row.try_get("bytes")?,
            ignored: crate::rows::flag(row, "ignored")?,
            note: row.try_get("note")?,
            checker: row.try_get("checker")?,
        })
    }
}
