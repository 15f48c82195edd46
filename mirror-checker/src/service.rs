//! The checker as a service: store, HTTP client, master and metrics together, with the
//! operations the commands and the daemon run: scan the master, crawl, publish.

use crate::config::Config;
use crate::crawl::{self, Claimed, CrawlInput, Judgement};
use crate::http::HttpClient;
use crate::metrics::Metrics;
use crate::upstream::{self, Master, ScanReport};
use anyhow::{Context, Result};
use shared::snapshot::{self, SnapshotInput};
use shared::store::{now, Claim, Schedule, SnapshotRecord, Store};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub const GENERATOR: &str = concat!("mirror-checker ", env!("CARGO_PKG_VERSION"));

/// The lease of the checker that scans the master and publishes snapshots.
pub const LEADER: &str = "leader";

pub struct Checker {
    pub store: Store,
    pub config: Config,
    pub client: HttpClient,
    pub metrics: Metrics,
    /// This checker's name among those sharing the store.
    pub id: String,
}

/// `HOSTNAME-PID`: unique among checkers, readable in the schedule.
fn default_checker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "checker".into());
    format!("{host}-{}", std::process::id())
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
        let id = if config.daemon.checker_id.is_empty() {
            default_checker_id()
        } else {
            config.daemon.checker_id.clone()
        };
        Ok(Checker {
            store,
            config,
            client,
            metrics: Metrics::new(),
            id,
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

    /// Scans the master (when one is configured), checks `only` (or every enabled mirror),
    /// applies the results and publishes a snapshot. Interrupted, it writes nothing.
    pub async fn crawl(
        &self,
        only: Option<&HashSet<i64>>,
        cancel: &CancellationToken,
    ) -> Result<CrawlSummary> {
        let scan = self.master()?.is_some();
        self.run_crawl(only, scan, None, true, cancel).await
    }

    /// One crawl: optionally a scan of the master, the checks of `only` (or of every enabled
    /// mirror), their judgement applied in one transaction together with completing
    /// `claimed`, and optionally a snapshot.
    async fn run_crawl(
        &self,
        only: Option<&HashSet<i64>>,
        scan: bool,
        claimed: Option<&Claimed<'_>>,
        publish: bool,
        cancel: &CancellationToken,
    ) -> Result<CrawlSummary> {
        let started = Instant::now();
        let started_at = now();
        let scan = if scan {
            Some(self.scan(started_at).await?)
        } else {
            None
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
        let mut judgement = crawl::judge(
            &input,
            &summaries,
            &self.config.crawl,
            self.config.health,
            started_at,
            now(),
        );
        judgement.run.checker = self.id.clone();
        crawl::apply(&self.store, writer, &judgement, claimed).await?;
        let applied = started.elapsed();
        for e in &judgement.events {
            // A first verdict on a new mirror is routine; a change of a known state is news.
            if e.old_state == shared::model::HealthState::Unknown {
                tracing::debug!(mirror_id = e.mirror_id, capability = %e.capability, to = %e.new_state, reason = %e.reason, "first health verdict");
            } else {
                tracing::info!(mirror_id = e.mirror_id, capability = %e.capability, from = %e.old_state, to = %e.new_state, reason = %e.reason, "health changed");
            }
        }
        if judgement.run.ignored {
            tracing::warn!(note = %judgement.run.note, "crawl set aside");
        }
        let snapshot = if publish && !judgement.run.ignored {
            Some(self.publish().await?)
        } else {
            None
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

    /// Runs until cancelled, sharing the work with every other checker on the same store.
    /// Each tick it claims the mirrors that are due (each is checked once per interval, at a
    /// phase of its own; claims are leases, so no two checkers take the same mirror and a
    /// dead checker's mirrors come back), checks them and applies the results together with
    /// their next due times. One checker at a time leads (a lease too): it scans the master and
    /// publishes a snapshot whenever the store has changed. A failed tick (the store
    /// unreachable, say) is logged and retried at the next one; nothing needs restarting.
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
        tracing::info!(checker = %self.id, "checker daemon started");
        let mut state = DaemonState::default();
        loop {
            match self.tick(&mut state, &cancel).await {
                Ok(()) => self.metrics.tick(true),
                Err(e) if e.downcast_ref::<crawl::Interrupted>().is_some() => break,
                Err(e) => {
                    self.metrics.tick(false);
                    tracing::error!(
                        error = format!("{e:#}"),
                        "tick failed; retrying in {} s",
                        d.publish_interval_secs.max(1)
                    );
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_secs(d.publish_interval_secs.max(1))) => {}
            }
        }
        // A clean stop hands the leader's role over at once.
        if state.leader {
            if let Err(e) = self.store.release_lease(LEADER, &self.id).await {
                tracing::warn!(error = %e, "could not release the leader's lease");
            }
        }
        Ok(())
    }

    async fn tick(&self, state: &mut DaemonState, cancel: &CancellationToken) -> Result<()> {
        let d = &self.config.daemon;
        let schedule = d.schedule();
        let t = now();
        self.store.schedule_new_mirrors(&schedule, t).await?;
        let leader = self
            .store
            .hold_lease(LEADER, &self.id, t, d.lease_secs)
            .await?;
        if leader != state.leader {
            tracing::info!(checker = %self.id, leader, "leader's role changed");
            state.leader = leader;
        }
        self.metrics.leader(leader);
        let scan = leader
            && self.master()?.is_some()
            && state
                .last_scan
                .is_none_or(|at| t - at >= d.master_interval_secs as i64);
        let claims = self
            .store
            .claim_due(&self.id, t, d.lease_secs, d.batch_max.max(1))
            .await?;
        self.metrics.claimed(claims.len());
        if scan || !claims.is_empty() {
            self.check_claims(&claims, scan, &schedule, cancel).await?;
            // Only a scan that went through waits for the next interval; a failed one is
            // tried again at the next tick.
            if scan {
                state.last_scan = Some(t);
            }
        }
        if leader {
            let mark = self.store.change_mark().await?;
            let stale = state
                .published_at
                .is_none_or(|at| t - at >= REPUBLISH_TICKS * d.publish_interval_secs as i64);
            if state.published_mark.as_ref() != Some(&mark) || stale {
                // Still the leader? A batch can outlast the lease.
                if self
                    .store
                    .hold_lease(LEADER, &self.id, now(), d.lease_secs)
                    .await?
                {
                    self.publish().await?;
                    state.published_mark = Some(mark);
                    state.published_at = Some(t);
                }
            }
        }
        Ok(())
    }

    /// Checks claimed mirrors and applies the results with their next due times; on failure
    /// gives the claims back so that any checker can take them at once.
    async fn check_claims(
        &self,
        claims: &[Claim],
        scan: bool,
        schedule: &Schedule,
        cancel: &CancellationToken,
    ) -> Result<()> {
        let ids: HashSet<i64> = claims.iter().map(|c| c.mirror_id).collect();
        let claimed = Claimed {
            holder: &self.id,
            claims,
            schedule: *schedule,
        };
        match self
            .run_crawl(Some(&ids), scan, Some(&claimed), false, cancel)
            .await
        {
            Ok(summary) => {
                tracing::info!("{}", summary.describe());
                Ok(())
            }
            Err(e) => {
                if let Err(release) = self.store.release_claims(&self.id, claims).await {
                    tracing::warn!(error = %release, "could not give claims back; their leases will run out");
                }
                Err(e)
            }
        }
    }
}

/// A leader publishes at least this many ticks apart even when nothing changed, so that
/// servers never see the snapshot age (and the alternates window moves on).
const REPUBLISH_TICKS: i64 = 10;

/// What the daemon remembers between ticks.
#[derive(Default)]
struct DaemonState {
    leader: bool,
    last_scan: Option<i64>,
    published_mark: Option<Vec<i64>>,
    published_at: Option<i64>,
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
