//! The checker as a service: store, HTTP client, master and metrics together, with the
//! operations the commands and the daemon run: scan the master, crawl, publish. Every
//! snapshot is published by [`Checker::publish`], whoever asks.

use crate::config::Config;
use crate::crawl::{self, Claimed, Judgement};
use crate::error::{Error, Result};
use crate::http::HttpClient;
use crate::metrics::Metrics;
use crate::upstream::{self, Master, ScanReport};
use shared::snapshot;
use shared::time::now;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use store::{SnapshotRecord, Store};
use tokio_util::sync::CancellationToken;

pub const GENERATOR: &str = concat!("mirror-checker ", env!("CARGO_PKG_VERSION"));

pub struct Checker {
    pub store: Store,
    pub config: Config,
    pub client: HttpClient,
    pub metrics: Metrics,
    /// This checker's name among those sharing the store.
    pub id: String,
    /// Where the daemon's metrics listener is bound, once it is.
    pub metrics_addr: std::sync::OnceLock<std::net::SocketAddr>,
    /// Where the daemon's publication listener is bound, once it is.
    pub publish_addr: std::sync::OnceLock<std::net::SocketAddr>,
    /// What snapshots are signed with.
    pub signing_key: Option<std::sync::Arc<snapshot::SigningKey>>,
    /// The GeoIP database mirrors are placed with (`[crawl] geoip`), read again when it
    /// changes.
    pub geo: Option<Arc<crate::geo::GeoSource>>,
    /// When the vault's unknown directories were last looked for (0: never).
    vault_scanned_at: std::sync::atomic::AtomicI64,
}

/// `HOSTNAME-PID`: unique among checkers, readable in the schedule.
fn default_checker_id() -> String {
    format!("{}-{}", shared::net::host_name(), std::process::id())
}

/// What one crawl did.
/// What one crawl does besides checking.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    /// Scan the master first.
    pub scan: bool,
    /// Publish a snapshot after.
    pub publish: bool,
    /// Look only at what the polite schedule says is due.
    pub on_schedule: bool,
    /// The clock's time to use (a benchmark's simulated day), else now.
    pub at: Option<i64>,
}

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
        } else if !r.note.is_empty() {
            s.push_str(&format!("\n{}", r.note));
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
        let store = config.open_store().await?;
        Checker::with_store(config, store)
    }

    /// The checker on a store already open.
    pub fn with_store(config: Config, store: Store) -> Result<Checker> {
        let geo = match &config.crawl.geoip {
            Some(path) => Some(Arc::new(
                crate::geo::GeoSource::open(path)
                    .map_err(|e| Error::Config(format!("[crawl] geoip: {e}")))?,
            )),
            None => None,
        };
        let client = HttpClient::new(config.http.clone())?;
        let signing_key = config
            .snapshot_signing_key
            .as_deref()
            .map(snapshot::SigningKey::read)
            .transpose()
            .map_err(|e| Error::Config(format!("snapshot_signing_key: {e}")))?
            .map(std::sync::Arc::new);
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
            metrics_addr: Default::default(),
            publish_addr: Default::default(),
            signing_key,
            geo,
            vault_scanned_at: Default::default(),
        })
    }

    /// Delivers the operators' messages due now through `mailer` (each once, whichever
    /// checker sends it), counting what happened; returns how many were sent.
    pub async fn deliver_notifications(
        &self,
        mailer: &crate::control::mail::Mailer,
    ) -> Result<usize> {
        let c = (&self.store, &self.config.control, &self.metrics);
        let channels = (mailer, &self.client);
        Ok(crate::delivery::deliver_counted(c, channels, &self.id).await?)
    }

    /// Writes reminders of what is still down (the leader does, each tick); returns how
    /// many.
    pub async fn remind(&self) -> Result<usize> {
        Ok(crate::notifications::remind(&self.store, &self.config.control).await?)
    }

    /// `e`, with who holds the store when it was kept waiting.
    pub async fn explain(&self, e: Error) -> Error {
        crate::config::explain(&self.store, e).await
    }

    pub fn master(&self) -> Result<Option<Master>> {
        if self.config.master.url.is_empty() {
            return Ok(None);
        }
        Master::from_config(&self.config.master).map(Some)
    }

    /// Scans the master, recording new versions as first seen at `at`.
    pub async fn scan(&self, at: i64) -> Result<ScanReport> {
        let master = self.master()?.ok_or(Error::NoMaster)?;
        let catalog = self.store.load_catalog().await?.ok_or(Error::NoCatalog)?;
        // The vault's directories whose repomd.xml is still unknown are looked for at the
        // first scan and then every few hours (the vault's content is frozen: one found stays).
        use std::sync::atomic::Ordering;
        let last = self.vault_scanned_at.load(Ordering::Relaxed);
        let vault = last == 0 || at - last >= VAULT_RESCAN_SECS;
        let report =
            upstream::scan(&self.store, &catalog, &master, &self.client, at, vault).await?;
        if vault {
            self.vault_scanned_at.store(at.max(1), Ordering::Relaxed);
        }
        for (path, problem) in &report.errors {
            tracing::warn!(directory = %path, %problem, "master repomd.xml unreadable");
        }
        if report.vault_missing > 0 {
            tracing::info!(
                found = report.vault_found,
                missing = report.vault_missing,
                "vault directories whose repomd.xml could not be read (looked for again in a few hours)"
            );
        }
        // The master's age per directory mirrors carry (not the vault's, frozen long ago).
        let mirrored: HashSet<&str> = catalog.mirrored().map(|(_, d)| d.path.as_str()).collect();
        let paths: HashMap<i64, String> = self
            .store
            .directory_ids()
            .await?
            .into_iter()
            .filter(|(p, _)| mirrored.contains(p.as_str()))
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
        let run = Run {
            scan: self.master()?.is_some(),
            publish: true,
            on_schedule: false,
            at: None,
        };
        self.run_crawl(only, None, run, cancel).await
    }

    /// [`Checker::crawl`] on the polite schedule, as the daemon crawls: each mirror's TIME
    /// files, and only the directories due ([`crate::crawl::select`]).
    pub async fn crawl_on_schedule(&self, cancel: &CancellationToken) -> Result<CrawlSummary> {
        self.on_schedule(None, true, cancel).await
    }

    /// [`Checker::crawl_on_schedule`] as if the clock said `at` (what is due, and the times
    /// recorded), without publishing: a day of the schedule in minutes, for the benchmark.
    pub async fn crawl_on_schedule_at(
        &self,
        at: i64,
        cancel: &CancellationToken,
    ) -> Result<CrawlSummary> {
        self.on_schedule(Some(at), false, cancel).await
    }

    async fn on_schedule(
        &self,
        at: Option<i64>,
        publish: bool,
        cancel: &CancellationToken,
    ) -> Result<CrawlSummary> {
        let run = Run {
            scan: self.master()?.is_some(),
            publish,
            on_schedule: true,
            at,
        };
        self.run_crawl(None, None, run, cancel).await
    }

    /// One crawl: optionally a scan of the master, the checks of `only` (or of every enabled
    /// mirror), their judgement applied in one transaction together with completing
    /// `claimed`, and optionally a snapshot.
    pub(crate) async fn run_crawl(
        &self,
        only: Option<&HashSet<i64>>,
        claimed: Option<&Claimed<'_>>,
        run: Run,
        cancel: &CancellationToken,
    ) -> Result<CrawlSummary> {
        let Run {
            scan,
            publish,
            on_schedule,
            at,
        } = run;
        let mut phases = crate::phases::Phases::start();
        let started_at = at.unwrap_or_else(now);
        let scan = if scan {
            Some(self.scan(started_at).await?)
        } else {
            None
        };
        phases.next();
        let mut input = crate::crawl_io::load_input(&self.store).await?;
        if let Some(ids) = only {
            input = input.only(ids);
        }
        input.selective = on_schedule && self.config.crawl.sweep_interval.as_secs() > 0;
        if let Some(c) = claimed {
            input.full = c
                .claims
                .iter()
                .filter(|c| c.full)
                .map(|c| c.mirror_id)
                .collect();
        }
        let input = Arc::new(input);
        phases.next();
        let mut writer = self.store.begin_crawl().await?;
        let summaries = crawl::check_all(
            input.clone(),
            &self.client,
            &self.config.crawl,
            self.geo.as_ref().and_then(|g| g.current()).as_deref(),
            cancel,
            started_at,
            &mut writer,
        )
        .await?;
        phases.next();
        // The runs before this one, for the sample the 70% rule judges.
        let recent = self.store.crawl_runs(RECENT_RUNS).await?;
        let mut judgement = crawl::judge(
            &input,
            &summaries,
            &recent,
            &self.config.crawl,
            self.config.health,
            started_at,
            started_at + phases.elapsed().as_secs() as i64,
        );
        judgement.run.checker = self.id.clone();
        if !judgement.run.ignored && !judgement.events.is_empty() {
            let base = self.config.control.public_url(self.config.control.listen);
            let mut told = crate::notifications::compose(&input.mirrors, &judgement.events, &base);
            let hooks = self.store.webhooks(None).await?.into_iter();
            let hooks = hooks.map(|h| (h.mirror, h.url)).collect();
            told.extend(crate::webhooks::messages(
                &input.mirrors,
                &judgement.events,
                &hooks,
                &base,
            ));
            writer.notify(told);
        }
        crate::crawl_io::apply(&self.store, writer, &judgement, claimed).await?;
        phases.next();
        for e in &judgement.events {
            // A first finding on a new mirror is routine; a change of a known state is news.
            if e.old_state == shared::model::HealthState::Unknown {
                tracing::debug!(mirror_id = e.mirror_id, capability = %e.capability, to = %e.new_state, reason = %e.reason, "first health finding");
            } else {
                tracing::info!(mirror_id = e.mirror_id, capability = %e.capability, from = %e.old_state, to = %e.new_state, reason = %e.reason, "health changed");
            }
        }
        if judgement.run.ignored {
            tracing::warn!(note = %judgement.run.note, "crawl set aside");
        } else if !judgement.run.note.is_empty() {
            tracing::warn!(note = %judgement.run.note, "most checks failed, on a few registrations");
        }
        let snapshot = if publish && !judgement.run.ignored {
            Some(self.publish().await?)
        } else {
            None
        };
        let duration = phases.elapsed();
        phases.next();
        phases.log();
        self.metrics.crawl(duration.as_secs_f64(), &judgement);
        self.metrics.health(&self.store.load_health().await?);
        Ok(CrawlSummary {
            scan,
            judgement,
            snapshot,
            duration,
        })
    }

    /// Builds a snapshot from the store, writes it atomically to the configured path, records
    /// it and counts it. The serial is one above the last published.
    pub async fn publish(&self) -> Result<SnapshotRecord> {
        let input = self.store.snapshot_input().await?.ok_or(Error::NoCatalog)?;
        let path = &self.config.snapshot_path;
        // Above the store's last and the file's: a store rebuilt from scratch continues the
        // serials the servers hold, instead of starting again at 1 (which they would take
        // for older than what they have, and never load).
        let in_file = snapshot::read_header(path).map_or(0, |h| h.serial as i64);
        let serial = self
            .store
            .latest_snapshot()
            .await?
            .map_or(0, |s| s.serial)
            .max(in_file)
            + 1;
        let at = now();
        let snap = snapshot::build(&input, serial as u64, at, GENERATOR);
        let key = self.signing_key.as_deref();
        let bytes = snapshot::encode(&snap, key);
        if let Some(last) = self.store.latest_snapshot().await? {
            if let Some(why) = growth_refusal(&self.config, &last, bytes.len() as u64) {
                self.metrics.snapshots_refused.inc();
                return Err(Error::Config(why));
            }
        }
        let (sha256, size) = snapshot::write_bytes(&bytes, path)?;
        snapshot::write_freshness(path, serial as u64, at, key)?;
        let record = SnapshotRecord {
            serial,
            created_at: at,
            path: path.display().to_string(),
            sha256,
            size: size as i64,
            // Served for at least one directory.
            mirrors: snap.mirrors.iter().filter(|m| m.refused.is_none()).count() as i64,
            directories: snap.directories.len() as i64,
        };
        self.store.record_snapshot(&record).await?;
        self.metrics.snapshot(&snap);
        tracing::info!(serial, path = %path.display(), mirrors = snap.mirrors.len(), pairs = snap.up_to_date_pairs(), "snapshot published");
        Ok(record)
    }
}

/// Why a snapshot of `size` bytes is not published after `last`, if it grew past the bound.
fn growth_refusal(config: &Config, last: &SnapshotRecord, size: u64) -> Option<String> {
    let factor = config.snapshot_growth_max;
    let bound = (last.size.max(1) as f64 * factor) as u64;
    (factor > 0.0 && size > config.snapshot_growth_floor_bytes && size > bound).then(|| {
        format!(
            "snapshot not published: it would be {size} bytes, {:.1} times the size of \
             snapshot {} ({} bytes), more than snapshot_growth_max ({factor}) allows; look \
             for a registry file that grew (the last import's report), or raise \
             snapshot_growth_max for this once",
            size as f64 / last.size.max(1) as f64,
            last.serial,
            last.size,
        )
    })
}

/// At most this many earlier runs are read for the 70% rule's sample (a tick a minute over a
/// 15-minute window is 15).
const RECENT_RUNS: i64 = 100;

/// The vault's directories not found yet are looked for again after this long.
const VAULT_RESCAN_SECS: i64 = 6 * 3600;
