//! A crawl: check every enabled mirror, judge the results, and apply them to the store and a
//! new snapshot in one step. A crawl that is interrupted writes nothing; one where most checks
//! failed at once is recorded but changes no mirror's state (the checker's own network is the
//! likely culprit).

mod mirror;
pub mod verdict;

pub use mirror::MirrorResult;

use crate::health::{self, Thresholds, Verdict};
use crate::http::HttpClient;
use serde::Deserialize;
use shared::catalog::Catalog;
use shared::model::CheckOutcome;
use shared::registry::Mirror;
use shared::snapshot::build::versions_in_window;
use shared::store::{CheckRecord, CrawlRun, HealthEvent, HealthRecord, RepomdVersion, Store};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrawlConfig {
    /// Requests in flight across all mirrors.
    pub concurrency: usize,
    /// Requests in flight to one mirror.
    pub per_host: usize,
    /// Extra attempts after a transport failure or a 5xx answer.
    pub retries: u32,
    /// First retry delay; doubled each time, plus up to half again of jitter.
    pub retry_backoff_ms: u64,
    /// Transport failures in a row after which the rest of a mirror's checks over that
    /// protocol are not tried this run.
    pub breaker_failures: u32,
    /// When more than this share of a run's checks fail, the run changes nothing.
    pub ignore_failure_ratio: f64,
    /// Probe IPv4 and IPv6 separately.
    pub probe_families: bool,
}

impl Default for CrawlConfig {
    fn default() -> Self {
        CrawlConfig {
            concurrency: 256,
            per_host: 4,
            retries: 1,
            retry_backoff_ms: 200,
            breaker_failures: 3,
            ignore_failure_ratio: 0.7,
            probe_families: true,
        }
    }
}

/// What an earlier check saw: enough to send a conditional request and to judge a 304.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub sha256: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// Everything a crawl reads from the store, loaded once.
#[derive(Debug)]
pub struct CrawlInput {
    pub catalog: Catalog,
    /// Enabled mirrors, with store ids.
    pub mirrors: Vec<(i64, Mirror)>,
    pub directory_ids: HashMap<String, i64>,
    /// Directory id → versions, newest first.
    pub history: HashMap<i64, Vec<RepomdVersion>>,
    /// Where each mirror's earlier results are read from when its turn comes (only the open
    /// mirrors' are in memory at once).
    pub store: Store,
    pub health: HashMap<(i64, String), HealthRecord>,
}

impl CrawlInput {
    pub async fn load(store: &Store) -> anyhow::Result<CrawlInput> {
        let catalog = store.load_catalog().await?.ok_or_else(|| {
            anyhow::anyhow!(
                "no catalog is stored yet: run `mirror-checker catalog load FILE` first"
            )
        })?;
        let mirrors = store
            .load_mirrors_with_ids()
            .await?
            .into_iter()
            .filter(|(_, m)| m.enabled)
            .collect();
        let health = store
            .load_health()
            .await?
            .into_iter()
            .map(|h| ((h.mirror_id, h.capability.clone()), h))
            .collect();
        Ok(CrawlInput {
            catalog,
            mirrors,
            directory_ids: store.directory_ids().await?,
            history: store.repomd_history().await?,
            store: store.clone(),
            health,
        })
    }

    /// Keeps only the named mirrors (a daemon batch).
    pub fn only(mut self, ids: &HashSet<i64>) -> CrawlInput {
        self.mirrors.retain(|(id, _)| ids.contains(id));
        self
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the crawl was interrupted; nothing was written")]
pub struct Interrupted;

/// Checks every mirror of `input`. Returns `Err(Interrupted)` when cancelled midway.
pub async fn check_all(
    input: Arc<CrawlInput>,
    client: &HttpClient,
    config: &CrawlConfig,
    cancel: &CancellationToken,
    now: i64,
) -> Result<Vec<MirrorResult>, Interrupted> {
    let global = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let config = Arc::new(config.clone());
    let mut set = JoinSet::new();
    for index in 0..input.mirrors.len() {
        set.spawn(mirror::check_mirror(
            input.clone(),
            index,
            client.clone(),
            global.clone(),
            config.clone(),
            now,
        ));
    }
    let mut results = Vec::with_capacity(input.mirrors.len());
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                set.abort_all();
                return Err(Interrupted);
            }
            next = set.join_next() => match next {
                Some(Ok(result)) => results.push(result),
                Some(Err(e)) if e.is_cancelled() => return Err(Interrupted),
                Some(Err(e)) => std::panic::resume_unwind(e.into_panic()),
                None => break,
            },
        }
    }
    results.sort_by_key(|r| r.mirror_id);
    Ok(results)
}

/// What a crawl did and decided.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub run: CrawlRun,
    pub checks: Vec<CheckRecord>,
    pub health: Vec<HealthRecord>,
    pub events: Vec<HealthEvent>,
    pub by_outcome: BTreeMap<CheckOutcome, usize>,
}

/// Turns raw results into what is stored: the 70% rule, then hysteresis per capability.
pub fn judge(
    input: &CrawlInput,
    results: Vec<MirrorResult>,
    config: &CrawlConfig,
    thresholds: Thresholds,
    started_at: i64,
    now: i64,
) -> Judgement {
    let mut by_outcome: BTreeMap<CheckOutcome, usize> = BTreeMap::new();
    for c in results.iter().flat_map(|r| &r.checks) {
        *by_outcome.entry(c.outcome).or_default() += 1;
    }
    let total: usize = by_outcome.values().sum();
    let errors = by_outcome.get(&CheckOutcome::Error).copied().unwrap_or(0);
    let ignored = total > 0 && errors as f64 / total as f64 > config.ignore_failure_ratio;
    let mut run = CrawlRun {
        started_at,
        finished_at: now,
        mirrors: results.len() as i64,
        checks: total as i64,
        errors: errors as i64,
        not_modified: results.iter().map(|r| r.not_modified as i64).sum(),
        requests: results.iter().map(|r| r.requests as i64).sum(),
        bytes: results.iter().map(|r| r.bytes as i64).sum(),
        ignored,
        note: String::new(),
    };
    if ignored {
        run.note = format!(
            "{errors} of {} checks failed (over {:.0}%): the checker's own network is the likely problem, so no mirror's state was changed",
            total,
            config.ignore_failure_ratio * 100.0
        );
        return Judgement {
            run,
            checks: Vec::new(),
            health: Vec::new(),
            events: Vec::new(),
            by_outcome,
        };
    }
    let window = input.catalog.alternates_window_secs;
    let servable: HashMap<i64, HashSet<String>> = input
        .history
        .iter()
        .map(|(dir, h)| {
            (
                *dir,
                versions_in_window(h, now, window)
                    .into_iter()
                    .map(|v| v.sha256)
                    .collect(),
            )
        })
        .collect();
    let paths: HashMap<i64, String> = input
        .directory_ids
        .iter()
        .map(|(p, id)| (*id, p.clone()))
        .collect();
    let mut health = Vec::new();
    let mut events = Vec::new();
    for r in &results {
        let mut verdicts = r.verdicts.clone();
        if !r.checks.is_empty() {
            verdicts.push((
                "content".into(),
                verdict::content_verdict(&r.checks, &servable, &paths),
            ));
        }
        if let Some(age) = r.sync_age {
            let limit = input.catalog.max_sync_age_secs as i64;
            let ok = age <= limit;
            let reason = if ok {
                format!(
                    "TIME file {} old",
                    shared::duration::human_age(age.max(0) as u64)
                )
            } else {
                format!(
                    "TIME file {} old, over the {} limit",
                    shared::duration::human_age(age.max(0) as u64),
                    shared::duration::human_age(limit as u64)
                )
            };
            verdicts.push(("sync".into(), Verdict { ok, reason }));
        }
        for (capability, verdict) in verdicts {
            let previous = input.health.get(&(r.mirror_id, capability.clone()));
            let (record, event) = health::step(
                r.mirror_id,
                &capability,
                previous,
                &verdict,
                thresholds,
                now,
            );
            health.push(record);
            events.extend(event);
        }
    }
    // The results move into the judgement: a crawl's worth of them is never copied.
    let checks = results.into_iter().flat_map(|r| r.checks).collect();
    Judgement {
        run,
        checks,
        health,
        events,
        by_outcome,
    }
}

/// Applies a judgement: everything in one transaction, or only the run's record when ignored.
pub async fn apply(store: &Store, judgement: &Judgement) -> anyhow::Result<()> {
    if judgement.run.ignored {
        store.record_run(&judgement.run).await?;
    } else {
        store
            .record_crawl(
                &judgement.run,
                &judgement.checks,
                &judgement.health,
                &judgement.events,
            )
            .await?;
    }
    Ok(())
}
