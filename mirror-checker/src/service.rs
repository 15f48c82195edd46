//! The checker as a service: store, HTTP client, master and metrics together, with the
//! operations the commands and the daemon run: scan the master, crawl, publish.

use crate::config::Config;
use crate::crawl::{self, CrawlInput, Judgement};
use crate::http::HttpClient;
use crate::metrics::Metrics;
use crate::upstream::{self, Master, ScanReport};
use anyhow::{Context, Result};
use shared::snapshot::{self, SnapshotInput};
use shared::store::{now, SnapshotRecord, Store};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub const GENERATOR: &str = concat!("mirror-checker ", env!("CARGO_PKG_VERSION"));

pub struct Checker {
    pub store: Store,
    pub config: Config,
    pub client: HttpClient,
    pub metrics: Metrics,
}

/// What one crawl did.
#[derive(Debug)]
pub struct CrawlSummary {
    pub scan: Option<ScanReport>,
    pub judgement: Judgement,
    pub snapshot: Option<SnapshotRecord>,
    pub duration: Duration,
}

impl CrawlSummary {
    pub fn describe(&self) -> String {
        let r = &self.judgement.run;
        let outcomes: Vec<String> = self
            .judgement
            .by_outcome
            .iter()
            .map(|(o, n)| format!("{o} {n}"))
            .collect();
        let mut s = format!(
            "crawled {} mirrors in {:.1} s: {} checks ({}), {} requests, {} body bytes, {} answered 304, {} state changes",
            r.mirrors,
            self.duration.as_secs_f64(),
            r.checks,
            outcomes.join(", "),
            r.requests,
            r.bytes,
            r.not_modified,
            self.judgement.events.len()
        );
        if r.ignored {
            s.push_str(&format!("\nrun set aside: {}", r.note));
        }
        if let Some(snap) = &self.snapshot {
            s.push_str(&format!(
                "\npublished snapshot {} to {}",
                snap.serial, snap.path
            ));
        }
        s
    }
}

impl Checker {
    pub async fn new(config: Config) -> Result<Checker> {
        let store = crate::commands::open_store(&config).await?;
        let client = HttpClient::new(config.http.clone())?;
        Ok(Checker {
            store,
            config,
            client,
            metrics: Metrics::new(),
        })
    }

    pub fn master(&self) -> Result<Option<Master>> {
        if self.config.master.url.is_empty() {
            return Ok(None);
        }
        Master::from_config(&self.config.master).map(Some)
    }

    /// Scans the master, recording new versions as first seen at `at`.
    pub async fn scan(&self, at: i64) -> Result<ScanReport> {
        let master = self
            .master()?
            .context("no master configured: set [master] url")?;
        let catalog =
            self.store.load_catalog().await?.context(
                "no catalog is stored yet: run `mirror-checker catalog load FILE` first",
            )?;
        let report = upstream::scan(&self.store, &catalog, &master, &self.client, at).await?;
        for (path, problem) in &report.errors {
            tracing::warn!(directory = %path, %problem, "master repomd.xml unreadable");
        }
        let paths: HashMap<i64, String> = self
            .store
            .directory_ids()
            .await?
            .into_iter()
            .map(|(p, id)| (id, p))
            .collect();
        self.metrics.upstream(
            &paths,
            &self.store.repomd_history().await?,
            report.errors.len(),
            now(),
        );
        Ok(report)
    }

    /// Checks `only` (or every enabled mirror), applies the results and publishes a snapshot.
    /// Interrupted, it writes nothing.
    pub async fn crawl(
        &self,
        only: Option<&HashSet<i64>>,
        cancel: &CancellationToken,
    ) -> Result<CrawlSummary> {
        let started = Instant::now();
        let started_at = now();
        let scan = match self.master()? {
            Some(_) => Some(self.scan(started_at).await?),
            None => None,
        };
        let scanned = started.elapsed();
        let mut input = CrawlInput::load(&self.store).await?;
        if let Some(ids) = only {
            input = input.only(ids);
        }
        let input = Arc::new(input);
        let loaded = started.elapsed();
        let mut writer = self.store.begin_crawl().await?;
        let summaries = crawl::check_all(
            input.clone(),
            &self.client,
            &self.config.crawl,
            cancel,
            started_at,
            &mut writer,
        )
        .await?;
        let checked = started.elapsed();
        let judgement = crawl::judge(
            &input,
            &summaries,
            &self.config.crawl,
            self.config.health,
            started_at,
            now(),
        );
        crawl::apply(&self.store, writer, &judgement).await?;
        let applied = started.elapsed();
        for e in &judgement.events {
            // A first verdict on a new mirror is routine; a change of a known state is news.
            if e.old_state == shared::model::HealthState::Unknown {
                tracing::debug!(mirror_id = e.mirror_id, capability = %e.capability, to = %e.new_state, reason = %e.reason, "first health verdict");
            } else {
                tracing::info!(mirror_id = e.mirror_id, capability = %e.capability, from = %e.old_state, to = %e.new_state, reason = %e.reason, "health changed");
            }
        }
        let snapshot = if judgement.run.ignored {
            tracing::warn!(note = %judgement.run.note, "crawl set aside");
            None
        } else {
            Some(self.publish().await?)
        };
        let duration = started.elapsed();
        tracing::info!(
            scan_s = scanned.as_secs_f64(),
            load_s = (loaded - scanned).as_secs_f64(),
            check_s = (checked - loaded).as_secs_f64(),
            store_s = (applied - checked).as_secs_f64(),
            publish_s = (duration - applied).as_secs_f64(),
            "crawl phases"
        );
        self.metrics.crawl(duration.as_secs_f64(), &judgement);
        self.metrics.health(&self.store.load_health().await?);
        Ok(CrawlSummary {
            scan,
            judgement,
            snapshot,
            duration,
        })
    }

    /// Builds a snapshot from the store, writes it atomically, and records it.
    pub async fn publish(&self) -> Result<SnapshotRecord> {
        let Some(input) = SnapshotInput::load(&self.store).await? else {
            anyhow::bail!("no catalog is stored yet: run `mirror-checker catalog load FILE` first");
        };
        self.publish_from(&input).await
    }

    /// Builds a snapshot from `input`, writes and records it.
    pub async fn publish_from(&self, input: &SnapshotInput) -> Result<SnapshotRecord> {
        let (record, snap) = write_snapshot(&self.store, input, &self.config.snapshot_path).await?;
        self.metrics.snapshot(&snap);
        Ok(record)
    }

    /// Runs until cancelled: every mirror is checked once per interval, at an offset of its own
    /// so the work is spread out; results are applied in batches and a snapshot published after
    /// each. The master is scanned on its own interval.
    pub async fn daemon(&self, cancel: CancellationToken) -> Result<()> {
        let d = self.config.daemon.clone();
        if let Some(listen) = d.metrics_listen {
            let (metrics, cancel) = (self.metrics.clone(), cancel.clone());
            tokio::spawn(async move {
                if let Err(e) = crate::metrics::serve(listen, metrics, cancel).await {
                    tracing::error!(error = %e, "metrics listener failed");
                }
            });
        }
        let interval = d.interval_secs.max(1) as i64;
        let start = now();
        let mut due: HashMap<i64, i64> = HashMap::new();
        let mut last_scan: Option<i64> = None;
        loop {
            let t = now();
            let mirrors = self.store.load_mirrors_with_ids().await?;
            for (id, m) in &mirrors {
                // A stable offset per mirror within the interval.
                due.entry(*id).or_insert_with(|| {
                    start + (shared::model::stable_hash(&m.name) % interval as u64) as i64
                });
            }
            let batch: HashSet<i64> = due
                .iter()
                .filter(|(_, at)| **at <= t)
                .map(|(id, _)| *id)
                .collect();
            let scan_due = last_scan.is_none_or(|at| t - at >= d.master_interval_secs as i64);
            if !batch.is_empty() || scan_due {
                if scan_due {
                    last_scan = Some(t);
                }
                match self.crawl(Some(&batch), &cancel).await {
                    Ok(summary) => {
                        tracing::info!("{}", summary.describe());
                        for id in &batch {
                            due.insert(*id, due[id] + interval);
                        }
                    }
                    Err(e) if e.downcast_ref::<crawl::Interrupted>().is_some() => return Ok(()),
                    Err(e) => tracing::error!(
                        error = format!("{e:#}"),
                        "batch failed; retrying at the next tick"
                    ),
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(Duration::from_secs(d.publish_interval_secs.max(1))) => {}
            }
        }
    }
}

/// Builds a snapshot from the store, writes it atomically, and records it. The serial is one
/// above the last published.
pub async fn publish_snapshot(store: &Store, path: &Path) -> Result<SnapshotRecord> {
    let Some(input) = SnapshotInput::load(store).await? else {
        anyhow::bail!("no catalog is stored yet: run `mirror-checker catalog load FILE` first");
    };
    Ok(write_snapshot(store, &input, path).await?.0)
}

async fn write_snapshot(
    store: &Store,
    input: &SnapshotInput,
    path: &Path,
) -> Result<(SnapshotRecord, snapshot::Snapshot)> {
    let serial = store.latest_snapshot().await?.map_or(1, |s| s.serial + 1);
    let at = now();
    let snap = snapshot::build(input, serial as u64, at, GENERATOR);
    let (sha256, size) = snapshot::write_atomic(&snap, path)?;
    let record = SnapshotRecord {
        serial,
        created_at: at,
        path: path.display().to_string(),
        sha256,
        size: size as i64,
        mirrors: snap.mirrors.len() as i64,
        directories: snap.directories.len() as i64,
    };
    store.record_snapshot(&record).await?;
    tracing::info!(serial, path = %path.display(), mirrors = snap.mirrors.len(), pairs = snap.up_to_date_pairs(), "snapshot published");
    Ok((record, snap))
}
