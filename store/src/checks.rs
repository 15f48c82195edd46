//! Upstream repodata history, check results, health state with its change log, and the
//! record of published snapshots.
//!
//! Longer than most files on purpose: these tables are written together in one crawl
//! transaction ([`CrawlWriter`]), and the writer, its row encoders and the readers of the same
//! rows are easier to keep consistent side by side.

use super::{col, flag, Result, Store, StoreError};
use shared::model::{CheckOutcome, Family, HealthState, RepomdVersion};
use shared::registry::Protocol;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use std::collections::HashMap;

/// The latest check of one mirror × directory × protocol × address family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRecord {
    pub mirror_id: i64,
    pub directory_id: i64,
    pub protocol: Protocol,
    pub family: Family,
    pub outcome: CheckOutcome,
    pub sha256_seen: Option<String>,
    pub versions_behind: Option<i64>,
    pub lag_seconds: Option<i64>,
    pub http_status: Option<i64>,
    pub latency_ms: Option<i64>,
    pub bytes: i64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub checked_at: i64,
    pub error: Option<String>,
    /// The largest `<timestamp>` inside the copy seen, when it was read.
    pub timestamp_seen: Option<i64>,
    /// The last copy that matched a version of the master (current or behind), kept by the
    /// store across later checks that found none: a failed check is weighed by the health
    /// rule, and until that takes the mirror out it is served on this copy. Derived by the
    /// writer from the outcome; what a caller puts here is not written.
    pub good_sha256: Option<String>,
    pub good_at: Option<i64>,
}

impl CheckRecord {
    /// The copy this check found, when it matched a version the master published.
    pub fn good_copy(&self) -> Option<&str> {
        matches!(self.outcome, CheckOutcome::Current | CheckOutcome::Behind)
            .then_some(self.sha256_seen.as_deref())
            .flatten()
    }
}

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRecord {
    pub serial: i64,
    pub created_at: i64,
    pub path: String,
    pub sha256: String,
    pub size: i64,
    pub mirrors: i64,
    pub directories: i64,
}

fn parse_enum<T>(row: &AnyRow, name: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let text: String = col(row, name)?;
    parse(&text).ok_or_else(|| StoreError::Corrupt(format!("{name} {text:?} is not known")))
}

/// Rows per multi-row INSERT. Measured on 70,000 results: SQLite through sqlx is fastest with
/// small statements (10 rows: 0.7 s; 400 rows: 8.7 s), PostgreSQL with larger ones (10 rows:
/// 2.1 s; 100 rows: 1.6 s).
fn batch_rows(backend: super::Backend) -> usize {
    match backend {
        super::Backend::Sqlite => 10,
        super::Backend::Postgres => 100,
    }
}

impl Store {
    /// Records a repomd.xml version of a directory; returns false when it was already known.
    pub async fn record_repomd(&self, directory_id: i64, v: &RepomdVersion) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO repomd_versions (directory_id, size, timestamp, md5, sha1, sha256, sha512, first_seen)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (directory_id, sha256) DO NOTHING",
        )
        .bind(directory_id)
        .bind(v.size as i64)
        .bind(v.timestamp)
        .bind(&v.md5)
        .bind(&v.sha1)
        .bind(&v.sha256)
        .bind(&v.sha512)
        .bind(v.first_seen)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every directory's versions, newest first.
    pub async fn repomd_history(&self) -> Result<HashMap<i64, Vec<RepomdVersion>>> {
        let rows = sqlx::query(
            "SELECT directory_id, size, timestamp, md5, sha1, sha256, sha512, first_seen
             FROM repomd_versions ORDER BY directory_id, first_seen DESC, id DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: HashMap<i64, Vec<RepomdVersion>> = HashMap::new();
        for row in &rows {
            out.entry(col(row, "directory_id")?)
                .or_default()
                .push(RepomdVersion {
                    size: col::<i64>(row, "size")? as u64,
                    timestamp: col(row, "timestamp")?,
                    md5: col(row, "md5")?,
                    sha1: col(row, "sha1")?,
                    sha256: col(row, "sha256")?,
                    sha512: col(row, "sha512")?,
                    first_seen: col(row, "first_seen")?,
                });
        }
        Ok(out)
    }

    /// Stores check results, replacing earlier results for the same key, in one transaction.
    pub async fn record_checks(&self, records: &[CheckRecord]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        write_checks(&mut tx, self.backend, records).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Starts applying a crawl: results are written as each mirror finishes, inside one
    /// transaction that [`CrawlWriter::finish`] commits. Dropping the writer (an interrupted
    /// crawl) or [`CrawlWriter::abandon`] rolls everything back.
    pub async fn begin_crawl(&self) -> Result<CrawlWriter> {
        Ok(CrawlWriter {
            tx: self.pool.begin().await?,
            backend: self.backend,
        })
    }

    /// Records a run whose results were not applied.
    pub async fn record_run(&self, run: &CrawlRun) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        write_run(&mut tx, run).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What the last crawl spent on each mirror.
    pub async fn mirror_stats(&self) -> Result<Vec<MirrorStats>> {
        let rows = sqlx::query(
            "SELECT mirror_id, checked_at, requests, bytes, not_modified, sync_age, redirects_to
             FROM mirror_crawl_stats ORDER BY mirror_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(MirrorStats {
                    mirror_id: col(row, "mirror_id")?,
                    checked_at: col(row, "checked_at")?,
                    requests: col(row, "requests")?,
                    bytes: col(row, "bytes")?,
                    not_modified: col(row, "not_modified")?,
                    sync_age: col(row, "sync_age")?,
                    redirects_to: col::<Option<String>>(row, "redirects_to")?
                        .map(|t| t.lines().map(str::to_string).collect())
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The most recent runs, newest first.
    pub async fn crawl_runs(&self, limit: i64) -> Result<Vec<CrawlRun>> {
        let rows = sqlx::query(
            "SELECT started_at, finished_at, mirrors, checks, errors, not_modified, requests, bytes, ignored, note, checker
             FROM crawl_runs ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(CrawlRun {
                    started_at: col(row, "started_at")?,
                    finished_at: col(row, "finished_at")?,
                    mirrors: col(row, "mirrors")?,
                    checks: col(row, "checks")?,
                    errors: col(row, "errors")?,
                    not_modified: col(row, "not_modified")?,
                    requests: col(row, "requests")?,
                    bytes: col(row, "bytes")?,
                    ignored: flag(row, "ignored")?,
                    note: col(row, "note")?,
                    checker: col(row, "checker")?,
                })
            })
            .collect()
    }

    pub async fn load_checks(&self) -> Result<Vec<CheckRecord>> {
        let mut out = Vec::new();
        self.visit_checks(|c| out.push(c)).await?;
        Ok(out)
    }

    /// Streams every stored check result to `visit`, so a caller can keep only what it needs.
    pub async fn visit_checks(&self, visit: impl FnMut(CheckRecord)) -> Result<()> {
        self.visit_checks_where(None, visit).await
    }

    /// Streams one mirror's stored check results to `visit`.
    pub async fn visit_checks_of(
        &self,
        mirror_id: i64,
        visit: impl FnMut(CheckRecord),
    ) -> Result<()> {
        self.visit_checks_where(Some(mirror_id), visit).await
    }

    async fn visit_checks_where(
        &self,
        mirror_id: Option<i64>,
        mut visit: impl FnMut(CheckRecord),
    ) -> Result<()> {
        use futures_util::TryStreamExt;
        let sql = format!(
            "SELECT mirror_id, directory_id, protocol, family, outcome, sha256_seen, versions_behind,
                    lag_seconds, http_status, latency_ms, bytes, etag, last_modified, checked_at, error,
                    timestamp_seen, good_sha256, good_at
             FROM check_results {} ORDER BY mirror_id, directory_id, protocol, family",
            if mirror_id.is_some() { "WHERE mirror_id = $1" } else { "" }
        );
        let mut query = sqlx::query(&sql);
        if let Some(id) = mirror_id {
            query = query.bind(id);
        }
        let mut rows = query.fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            visit(check_from_row(&row)?);
        }
        Ok(())
    }

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
        let rows = sqlx::query(
            "SELECT mirror_id, capability, state, since, reason, consecutive_ok, consecutive_failed
             FROM mirror_health ORDER BY mirror_id, capability",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(HealthRecord {
                    mirror_id: col(row, "mirror_id")?,
                    capability: col(row, "capability")?,
                    state: parse_enum(row, "state", HealthState::parse)?,
                    since: col(row, "since")?,
                    reason: col(row, "reason")?,
                    consecutive_ok: col(row, "consecutive_ok")?,
                    consecutive_failed: col(row, "consecutive_failed")?,
                })
            })
            .collect()
    }

    /// State changes of one mirror, newest first.
    pub async fn health_events(&self, mirror_id: i64, limit: i64) -> Result<Vec<HealthEvent>> {
        let rows = sqlx::query(
            "SELECT mirror_id, capability, old_state, new_state, reason, at FROM health_events
             WHERE mirror_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(mirror_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(HealthEvent {
                    mirror_id: col(row, "mirror_id")?,
                    capability: col(row, "capability")?,
                    old_state: parse_enum(row, "old_state", HealthState::parse)?,
                    new_state: parse_enum(row, "new_state", HealthState::parse)?,
                    reason: col(row, "reason")?,
                    at: col(row, "at")?,
                })
            })
            .collect()
    }

    pub async fn record_snapshot(&self, r: &SnapshotRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO snapshots (serial, created_at, path, sha256, size, mirrors, directories)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(r.serial)
        .bind(r.created_at)
        .bind(&r.path)
        .bind(&r.sha256)
        .bind(r.size)
        .bind(r.mirrors)
        .bind(r.directories)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn latest_snapshot(&self) -> Result<Option<SnapshotRecord>> {
        let row = sqlx::query(
            "SELECT serial, created_at, path, sha256, size, mirrors, directories FROM snapshots
             ORDER BY serial DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(SnapshotRecord {
                serial: col(&row, "serial")?,
                created_at: col(&row, "created_at")?,
                path: col(&row, "path")?,
                sha256: col(&row, "sha256")?,
                size: col(&row, "size")?,
                mirrors: col(&row, "mirrors")?,
                directories: col(&row, "directories")?,
            })
        })
        .transpose()
    }
}

/// A crawl being applied: see [`Store::begin_crawl`].
pub struct CrawlWriter {
    tx: Transaction<'static, Any>,
    backend: super::Backend,
}

impl CrawlWriter {
    /// Adds results (replacing earlier results for the same keys) to the open transaction.
    /// Takes the database's write lock now (SQLite takes it at the first write), so that a
    /// test can show what another writer meets.
    #[doc(hidden)]
    pub async fn hold_write_lock(&mut self) -> Result<()> {
        sqlx::query("UPDATE catalog SET updated_at = updated_at")
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn write(&mut self, records: &[CheckRecord]) -> Result<()> {
        write_checks(&mut self.tx, self.backend, records).await
    }

    /// Adds health, state changes, what each mirror cost and the run's record, and commits
    /// the whole crawl.
    pub async fn finish(
        mut self,
        run: &CrawlRun,
        health: &[HealthRecord],
        events: &[HealthEvent],
        stats: &[MirrorStats],
    ) -> Result<()> {
        write_health(&mut self.tx, health, events).await?;
        for s in stats {
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
            .execute(&mut *self.tx)
            .await?;
        }
        write_run(&mut self.tx, run).await?;
        self.tx.commit().await?;
        Ok(())
    }

    /// Marks the mirrors this crawl claimed checked and schedules their next check, in the
    /// crawl's transaction: results and schedule are committed together or not at all.
    pub async fn complete_claims(
        &mut self,
        holder: &str,
        claims: &[super::Claim],
        schedule: &super::Schedule,
        now: i64,
    ) -> Result<()> {
        super::schedule::complete(&mut self.tx, holder, claims, schedule, now).await
    }

    /// Rolls back every result written so far.
    pub async fn abandon(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}

fn check_from_row(row: &AnyRow) -> Result<CheckRecord> {
    Ok(CheckRecord {
        mirror_id: col(row, "mirror_id")?,
        directory_id: col(row, "directory_id")?,
        protocol: parse_enum(row, "protocol", Protocol::parse)?,
        family: parse_enum(row, "family", Family::parse)?,
        outcome: parse_enum(row, "outcome", CheckOutcome::parse)?,
        sha256_seen: col(row, "sha256_seen")?,
        versions_behind: col(row, "versions_behind")?,
        lag_seconds: col(row, "lag_seconds")?,
        http_status: col(row, "http_status")?,
        latency_ms: col(row, "latency_ms")?,
        bytes: col(row, "bytes")?,
        etag: col(row, "etag")?,
        last_modified: col(row, "last_modified")?,
        checked_at: col(row, "checked_at")?,
        error: col(row, "error")?,
        timestamp_seen: col(row, "timestamp_seen")?,
        good_sha256: col(row, "good_sha256")?,
        good_at: col(row, "good_at")?,
    })
}

async fn write_checks(
    tx: &mut Transaction<'_, Any>,
    backend: super::Backend,
    records: &[CheckRecord],
) -> Result<()> {
    const COLS: usize = 18;
    for chunk in records.chunks(batch_rows(backend)) {
        let mut sql = String::from(
            "INSERT INTO check_results (mirror_id, directory_id, protocol, family, outcome, sha256_seen,
               versions_behind, lag_seconds, http_status, latency_ms, bytes, etag, last_modified,
               checked_at, error, timestamp_seen, good_sha256, good_at) VALUES ",
        );
        for i in 0..chunk.len() {
            let params: Vec<String> = (1..=COLS).map(|c| format!("${}", i * COLS + c)).collect();
            sql.push_str(if i == 0 { "(" } else { ", (" });
            sql.push_str(&params.join(", "));
            sql.push(')');
        }
        sql.push_str(
            " ON CONFLICT (mirror_id, directory_id, protocol, family) DO UPDATE SET
               outcome = excluded.outcome, sha256_seen = excluded.sha256_seen,
               versions_behind = excluded.versions_behind, lag_seconds = excluded.lag_seconds,
               http_status = excluded.http_status, latency_ms = excluded.latency_ms,
               bytes = excluded.bytes, etag = excluded.etag, last_modified = excluded.last_modified,
               checked_at = excluded.checked_at, error = excluded.error,
               timestamp_seen = excluded.timestamp_seen,
               good_sha256 = COALESCE(excluded.good_sha256, check_results.good_sha256),
               good_at = COALESCE(excluded.good_at, check_results.good_at)",
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(r.mirror_id)
                .bind(r.directory_id)
                .bind(r.protocol.as_str())
                .bind(r.family.as_str())
                .bind(r.outcome.as_str())
                .bind(r.sha256_seen.as_deref())
                .bind(r.versions_behind)
                .bind(r.lag_seconds)
                .bind(r.http_status)
                .bind(r.latency_ms)
                .bind(r.bytes)
                .bind(r.etag.as_deref())
                .bind(r.last_modified.as_deref())
                .bind(r.checked_at)
                .bind(r.error.as_deref())
                .bind(r.timestamp_seen)
                .bind(r.good_copy())
                .bind(r.good_copy().map(|_| r.checked_at));
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn write_health(
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

async fn write_run(tx: &mut Transaction<'_, Any>, run: &CrawlRun) -> Result<()> {
    sqlx::query(
        "INSERT INTO crawl_runs (started_at, finished_at, mirrors, checks, errors, not_modified, requests, bytes, ignored, note, checker)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
    .execute(&mut **tx)
    .await?;
    Ok(())
}
