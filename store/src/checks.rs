//! Upstream repodata history, check results, health state with its change log, and the
//! record of published snapshots.
//!
//! Longer than most files on purpose: these tables are written together when a crawl finishes
//! ([`CrawlWriter`]), and the writer, its row encoders and the readers of the same rows are
//! easier to keep consistent side by side.

use super::{col, flag, Result, Store, StoreError};
use shared::model::{CheckOutcome, Family, HealthState, RepomdVersion};
use shared::registry::Protocol;
use shared::snapshot::propagation::Arrival;
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
        write_checks(&mut tx, self.backend, None, records).await?;
        tx.commit().await?;
        Ok(())
    }

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

    /// Every mirror's state changes at or after `since`, oldest first.
    /// Records the packages sampled from a version's primary.xml (replacing any before).
    pub async fn record_sample(
        &self,
        directory_id: i64,
        sha256: &str,
        sample: &[(String, u64)],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let id: Option<i64> =
            sqlx::query("SELECT id FROM repomd_versions WHERE directory_id = $1 AND sha256 = $2")
                .bind(directory_id)
                .bind(sha256)
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| col(&row, "id"))
                .transpose()?;
        let Some(id) = id else {
            return Ok(());
        };
        sqlx::query("DELETE FROM package_samples WHERE version_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for (position, (href, size)) in sample.iter().enumerate() {
            sqlx::query(
                "INSERT INTO package_samples (version_id, position, href, size) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(position as i64)
            .bind(href)
            .bind(*size as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every version's sampled packages: (directory id, sha256) → (location, size).
    pub async fn samples(&self) -> Result<HashMap<(i64, String), Vec<(String, u64)>>> {
        let mut out: HashMap<(i64, String), Vec<(String, u64)>> = HashMap::new();
        for row in sqlx::query(
            "SELECT v.directory_id, v.sha256, s.href, s.size FROM package_samples s
               JOIN repomd_versions v ON v.id = s.version_id ORDER BY s.version_id, s.position",
        )
        .fetch_all(&self.pool)
        .await?
        {
            out.entry((col(&row, "directory_id")?, col(&row, "sha256")?))
                .or_default()
                .push((col(&row, "href")?, col::<i64>(&row, "size")?.max(0) as u64));
        }
        Ok(out)
    }

    /// When mirrors first served the versions the master published since `since`, and
    /// every version found already there (when the checker started watching each copy).
    pub async fn arrivals_since(&self, since: i64) -> Result<Vec<Arrival>> {
        sqlx::query(
            "SELECT a.mirror_id, v.directory_id, v.sha256, a.first_served_at, a.observed
               FROM version_arrivals a JOIN repomd_versions v ON v.id = a.version_id
              WHERE v.first_seen >= $1 OR a.observed = 0",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(Arrival {
                mirror_id: col(row, "mirror_id")?,
                directory_id: col(row, "directory_id")?,
                sha256: col(row, "sha256")?,
                at: col(row, "first_served_at")?,
                observed: col::<i64>(row, "observed")? != 0,
            })
        })
        .collect()
    }

    pub async fn health_events_since(&self, since: i64) -> Result<Vec<HealthEvent>> {
        let rows = sqlx::query(
            "SELECT mirror_id, capability, old_state, new_state, reason, at FROM health_events
             WHERE at >= $1 ORDER BY at, id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
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
        rows.iter().map(event_from_row).collect()
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
    store: Store,
    /// The crawl's registration, which also keys its staged results; `None` once finished
    /// or abandoned.
    run: Option<String>,
    /// Claims to complete when the crawl finishes.
    claims: Vec<(String, Vec<super::Claim>, super::Schedule, i64)>,
}

/// The columns a check result has, in `check_results` and `crawl_staging` alike.
const CHECK_COLUMNS: &str = "mirror_id, directory_id, protocol, family, outcome, sha256_seen,
    versions_behind, lag_seconds, http_status, latency_ms, bytes, etag, last_modified,
    checked_at, error, timestamp_seen, good_sha256, good_at";

/// What replaces a stored check result: everything but the last good copy, which a check
/// that found none keeps.
const CHECK_UPDATE: &str = "outcome = excluded.outcome, sha256_seen = excluded.sha256_seen,
    versions_behind = excluded.versions_behind, lag_seconds = excluded.lag_seconds,
    http_status = excluded.http_status, latency_ms = excluded.latency_ms,
    bytes = excluded.bytes, etag = excluded.etag, last_modified = excluded.last_modified,
    checked_at = excluded.checked_at, error = excluded.error,
    timestamp_seen = excluded.timestamp_seen";

impl CrawlWriter {
    fn run(&self) -> &str {
        self.run.as_deref().expect("used after finish or abandon")
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

fn event_from_row(row: &AnyRow) -> Result<HealthEvent> {
    Ok(HealthEvent {
        mirror_id: col(row, "mirror_id")?,
        capability: col(row, "capability")?,
        old_state: parse_enum(row, "old_state", HealthState::parse)?,
        new_state: parse_enum(row, "new_state", HealthState::parse)?,
        reason: col(row, "reason")?,
        at: col(row, "at")?,
    })
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

/// Writes check results into `check_results`, or into `crawl_staging` under `run`.
async fn write_checks(
    tx: &mut Transaction<'_, Any>,
    backend: super::Backend,
    run: Option<&str>,
    records: &[CheckRecord],
) -> Result<()> {
    const COLS: usize = 18;
    let (table, key, lead, good) = match run {
        Some(_) => (
            "crawl_staging",
            "run, mirror_id, directory_id, protocol, family",
            1,
            "good_sha256 = COALESCE(excluded.good_sha256, crawl_staging.good_sha256),
             good_at = COALESCE(excluded.good_at, crawl_staging.good_at)",
        ),
        None => (
            "check_results",
            "mirror_id, directory_id, protocol, family",
            0,
            "good_sha256 = COALESCE(excluded.good_sha256, check_results.good_sha256),
             good_at = COALESCE(excluded.good_at, check_results.good_at)",
        ),
    };
    let width = COLS + lead;
    for chunk in records.chunks(batch_rows(backend)) {
        let mut sql = format!(
            "INSERT INTO {table} ({}{CHECK_COLUMNS}) VALUES ",
            if run.is_some() { "run, " } else { "" }
        );
        for i in 0..chunk.len() {
            let params: Vec<String> = (1..=width).map(|c| format!("${}", i * width + c)).collect();
            sql.push_str(if i == 0 { "(" } else { ", (" });
            sql.push_str(&params.join(", "));
            sql.push(')');
        }
        sql.push_str(&format!(
            " ON CONFLICT ({key}) DO UPDATE SET {CHECK_UPDATE}, {good}"
        ));
        let mut q = sqlx::query(&sql);
        for r in chunk {
            if let Some(run) = run {
                q = q.bind(run);
            }
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

/// Records a run, with how many results and states it changed.
async fn write_run(tx: &mut Transaction<'_, Any>, run: &CrawlRun, changes: i64) -> Result<()> {
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
