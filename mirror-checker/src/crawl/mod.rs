//! A crawl: check every enabled mirror, judge the results, and apply them to the store and a
//! new snapshot in one step. A crawl that is interrupted writes nothing; one where most checks
//! failed at once is recorded but changes no mirror's state (the checker's own network is the
//! likely culprit).

mod check;
mod fetch;
mod mirror;
mod plan;
mod probe;
pub mod select;
pub mod subnets;
pub mod verdict;

pub use mirror::MirrorResult;

use crate::health::{self, Thresholds, Verdict};
use crate::http::HttpClient;
use serde::Deserialize;
use shared::catalog::Catalog;
use shared::model::CheckOutcome;
use shared::model::RepomdVersion;
use shared::registry::Mirror;
use shared::snapshot::{alternates, Located};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use store::{CrawlRun, CrawlWriter, HealthEvent, HealthRecord, MirrorStats, Store};
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
    pub retry_backoff: shared::duration::Human,
    /// Transport failures in a row after which the rest of a mirror's checks over that
    /// protocol are not tried this run.
    pub breaker_failures: u32,
    /// When more than this share of the checks fail, the run changes nothing: the checker's
    /// own network is the likely problem. The share is taken over a meaningful sample: the
    /// run's checks, and those of the runs before it (newest first, within
    /// `ignore_window`) until `ignore_min_mirrors` mirrors were checked. With fewer than
    /// that, the rule does not apply (each mirror's own health rule still does).
    pub ignore_failure_ratio: f64,
    pub ignore_min_mirrors: usize,
    pub ignore_window: shared::duration::Human,
    /// Probe IPv4 and IPv6 separately.
    pub probe_families: bool,
    /// The polite schedule ([`select`]): after a publication, a mirror's copy is looked at
    /// at its next check, then at doubling intervals, at least this far apart, until it is
    /// current.
    pub recheck_base: shared::duration::Human,
    /// Every directory of every mirror is looked at again after this (`0s`: every check
    /// looks at every directory, as a crawl an operator runs always does).
    pub sweep_interval: shared::duration::Human,
    /// A GeoIP city (or country) database: each mirror is placed by the address it was
    /// reached at (the registry's country and coordinates win). Read again when the file
    /// changes.
    pub geoip: Option<std::path::PathBuf>,
    #[serde(skip)]
    pub geo: Option<Arc<crate::geo::GeoSource>>,
}

impl Default for CrawlConfig {
    fn default() -> Self {
        CrawlConfig {
            concurrency: 256,
            per_host: 4,
            retries: 1,
            retry_backoff: shared::duration::Human::millis(200),
            breaker_failures: 3,
            ignore_failure_ratio: 0.7,
            ignore_min_mirrors: 20,
            ignore_window: shared::duration::Human::secs(900),
            probe_families: true,
            recheck_base: shared::duration::Human::secs(900),
            sweep_interval: shared::duration::Human::secs(6 * 3600),
            geoip: None,
            geo: None,
        }
    }
}

/// What an earlier check saw: enough to send a conditional request and to judge a 304.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub sha256: Option<String>,
    /// The copy's repomd timestamp, to classify it again after a 304.
    pub timestamp: Option<i64>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// What that check concluded (a half-synced copy is looked at again in full).
    pub outcome: Option<shared::model::CheckOutcome>,
    /// When.
    pub checked_at: Option<i64>,
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
    /// Directory id → when its alternates were expired.
    pub expired: HashMap<i64, i64>,
    /// Where each mirror's earlier results are read from when its turn comes (only the open
    /// mirrors' are in memory at once).
    pub store: Store,
    pub health: HashMap<(i64, String), HealthRecord>,
    /// (directory id, sha256 of a version) → packages to look for on a new copy of it.
    pub samples: HashMap<(i64, String), Vec<(String, u64)>>,
    /// Look only at the directories the polite schedule says are due ([`select`]); off for
    /// a crawl an operator runs (`crawl --once`), which looks at everything.
    pub selective: bool,
    /// Mirrors an operator asked to recheck in full.
    pub full: HashSet<i64>,
    /// Each mirror's TIME file as last read (Unix seconds), by store id.
    pub synced: HashMap<i64, i64>,
}

impl CrawlInput {
    pub async fn load(store: &Store) -> crate::Result<CrawlInput> {
        let catalog = store.load_catalog().await?.ok_or(crate::Error::NoCatalog)?;
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
            expired: store.alternates_expiry().await?,
            store: store.clone(),
            health,
            samples: store.samples().await?,
            selective: false,
            full: HashSet::new(),
            synced: store
                .mirror_stats()
                .await?
                .into_iter()
                .filter_map(|s| Some((s.mirror_id, s.checked_at - s.sync_age?)))
                .collect(),
        })
    }

    /// Keeps only the named mirrors (a daemon batch).
    pub fn only(mut self, ids: &HashSet<i64>) -> CrawlInput {
        self.mirrors.retain(|(id, _)| ids.contains(id));
        self
    }
}

/// One mirror's part of a crawl once its results are in the store's open transaction: the
/// verdicts and the counts, without the results themselves.
#[derive(Debug, Clone)]
pub struct MirrorSummary {
    pub mirror_id: i64,
    /// (capability, verdict), `content` and `sync` included.
    pub verdicts: Vec<(String, Verdict)>,
    pub by_outcome: BTreeMap<CheckOutcome, usize>,
    /// TIME fetches that stood in for directory checks (the polite schedule), and failures.
    pub time_checks: u32,
    pub time_failures: u32,
    pub requests: u64,
    pub bytes: u64,
    pub not_modified: u64,
    pub sync_age: Option<i64>,
    /// The address the mirror was reached at, placed by GeoIP when a database is set.
    pub located: Option<Located>,
    /// Its `subnets` URL's list, or why it could not be read.
    pub subnets: Option<Result<Vec<ipnet::IpNet>, String>>,
    /// Other hosts its redirects led to.
    pub redirects_to: Vec<String>,
}

/// The versions of each directory a mirror may hold and still be served, by store id.
fn servable(input: &CrawlInput, now: i64) -> HashMap<i64, HashSet<String>> {
    let window = input.catalog.alternates_window_secs();
    input
        .history
        .iter()
        .map(|(dir, h)| {
            (
                *dir,
                alternates(h, now, window, input.expired.get(dir).copied())
                    .into_iter()
                    .map(|v| v.sha256)
                    .collect(),
            )
        })
        .collect()
}

fn summarize(
    input: &CrawlInput,
    r: MirrorResult,
    servable: &HashMap<i64, HashSet<String>>,
    paths: &HashMap<i64, String>,
    geo: Option<&shared::geoip::GeoDb>,
) -> MirrorSummary {
    let located = crate::geo::locate(geo, &r.addresses);
    let mut verdicts = r.verdicts;
    let all = r.merged.as_ref().unwrap_or(&r.checks);
    if !all.is_empty() {
        verdicts.push((
            "content".into(),
            verdict::content_verdict(all, servable, paths),
        ));
    }
    if let Some(age) = r.sync_age {
        let limit = input.catalog.max_sync_age_secs() as i64;
        let ok = age <= limit;
        let old = shared::duration::human_age(age.max(0) as u64);
        let reason = if ok {
            format!("TIME file {old} old")
        } else {
            format!(
                "TIME file {old} old, over the {} limit",
                shared::duration::human_age(limit as u64)
            )
        };
        verdicts.push(("sync".into(), Verdict { ok, reason }));
    }
    let mut by_outcome = BTreeMap::new();
    for c in &r.checks {
        *by_outcome.entry(c.outcome).or_default() += 1;
    }
    MirrorSummary {
        mirror_id: r.mirror_id,
        verdicts,
        by_outcome,
        time_checks: r.time_checks,
        time_failures: r.time_failures,
        requests: r.requests,
        bytes: r.bytes,
        not_modified: r.not_modified,
        sync_age: r.sync_age,
        located,
        subnets: r.subnets,
        redirects_to: r.redirects_to,
    }
}

/// Checks every mirror of `input`, writing each mirror's results into `writer` as it
/// finishes, so that only the mirrors being checked hold results in memory. Fails with
/// [`crate::Error::Interrupted`] when cancelled midway, and with [`crate::Error::Panicked`]
/// when a check panicked; the caller then drops the writer, which rolls back.
pub async fn check_all(
    input: Arc<CrawlInput>,
    client: &HttpClient,
    config: &CrawlConfig,
    cancel: &CancellationToken,
    now: i64,
    writer: &mut CrawlWriter,
) -> crate::Result<Vec<MirrorSummary>> {
    let global = Arc::new(Semaphore::new(config.concurrency.max(1)));
    // Enough mirrors at once to fill the global limit, and no more: each open mirror holds
    // connections, buffers and results.
    let open_mirrors = Arc::new(Semaphore::new(
        (config.concurrency / config.per_host.max(1)).max(1),
    ));
    let servable = servable(&input, now);
    let geo = config.geo.as_ref().and_then(|g| g.current());
    let paths: HashMap<i64, String> = input
        .directory_ids
        .iter()
        .map(|(p, id)| (*id, p.clone()))
        .collect();
    let config = Arc::new(config.clone());
    let mut set = JoinSet::new();
    let mut names = HashMap::new();
    for index in 0..input.mirrors.len() {
        let (input, client, global, config, open_mirrors) = (
            input.clone(),
            client.clone(),
            global.clone(),
            config.clone(),
            open_mirrors.clone(),
        );
        let name = input_name(&input, index);
        let task = set.spawn(async move {
            let _open = open_mirrors.acquire_owned().await.expect("never closed");
            mirror::check_mirror(input, index, client, global, config, now).await
        });
        names.insert(task.id(), name);
    }
    let mut summaries = Vec::with_capacity(input.mirrors.len());
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                set.abort_all();
                return Err(crate::Error::Interrupted);
            }
            next = set.join_next() => match next {
                Some(Ok(result)) => {
                    let result = result?;
                    writer.write(&result.checks).await?;
                    summaries.push(summarize(&input, result, &servable, &paths, geo.as_deref()));
                }
                Some(Err(e)) if e.is_cancelled() => return Err(crate::Error::Interrupted),
                Some(Err(e)) => {
                    // A bug: the same answer as a panicked check inside a mirror's task.
                    set.abort_all();
                    let name = names.get(&e.id()).cloned().unwrap_or_default();
                    return Err(crate::Error::panicked(&name, e.into_panic()));
                }
                None => break,
            },
        }
    }
    summaries.sort_by_key(|r| r.mirror_id);
    Ok(summaries)
}

fn input_name(input: &CrawlInput, index: usize) -> String {
    input.mirrors[index].1.name.clone()
}

/// What a crawl did and decided.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub run: CrawlRun,
    /// What each mirror cost.
    pub stats: Vec<MirrorStats>,
    pub health: Vec<HealthRecord>,
    pub events: Vec<HealthEvent>,
    pub by_outcome: BTreeMap<CheckOutcome, usize>,
    /// Where each mirror reached was found (kept even when the run is set aside: an address
    /// does not depend on the checker's network being up).
    pub located: Vec<(i64, Located)>,
    /// Each fetched `subnets` URL's list, or why it failed (a failure keeps the last good
    /// list; kept even when the run is set aside, for the same reason).
    pub subnets: Vec<(i64, Result<Vec<ipnet::IpNet>, String>)>,
}

/// The mirrors a daemon batch claimed from the shared schedule: completed in the crawl's
/// transaction.
pub struct Claimed<'a> {
    pub holder: &'a str,
    pub claims: &'a [store::Claim],
    pub schedule: store::Schedule,
}

/// Decides what a crawl changes: the 70% rule, then hysteresis per capability.
pub fn judge(
    input: &CrawlInput,
    summaries: &[MirrorSummary],
    recent: &[CrawlRun],
    config: &CrawlConfig,
    thresholds: Thresholds,
    started_at: i64,
    now: i64,
) -> Judgement {
    let mut by_outcome: BTreeMap<CheckOutcome, usize> = BTreeMap::new();
    for (outcome, n) in summaries.iter().flat_map(|s| &s.by_outcome) {
        *by_outcome.entry(*outcome).or_default() += n;
    }
    let located: Vec<(i64, Located)> = summaries
        .iter()
        .filter_map(|s| Some((s.mirror_id, s.located.clone()?)))
        .collect();
    let subnets: Vec<(i64, Result<Vec<ipnet::IpNet>, String>)> = summaries
        .iter()
        .filter_map(|s| Some((s.mirror_id, s.subnets.clone()?)))
        .collect();
    let total: usize = by_outcome.values().sum();
    let errors = by_outcome.get(&CheckOutcome::Error).copied().unwrap_or(0);
    // On the polite schedule most of a mirror's checks are its TIME files: they count too.
    let time_checks: usize = summaries.iter().map(|s| s.time_checks as usize).sum();
    let time_failures: usize = summaries.iter().map(|s| s.time_failures as usize).sum();
    // The sample: this run, then the runs before it, newest first, until enough mirrors.
    let (mut mirrors, mut checks, mut failed, mut runs) = (
        summaries.len(),
        total + time_checks,
        errors + time_failures,
        1,
    );
    let since = started_at - config.ignore_window.as_secs() as i64;
    for r in recent.iter().filter(|r| r.started_at >= since) {
        if mirrors >= config.ignore_min_mirrors {
            break;
        }
        mirrors += r.mirrors.max(0) as usize;
        checks += r.checks.max(0) as usize;
        failed += r.errors.max(0) as usize;
        runs += 1;
    }
    let ignored = mirrors >= config.ignore_min_mirrors.max(1)
        && checks > 0
        && failed as f64 / checks as f64 > config.ignore_failure_ratio;
    let mut run = CrawlRun {
        started_at,
        finished_at: now,
        mirrors: summaries.len() as i64,
        checks: total as i64,
        errors: errors as i64,
        not_modified: summaries.iter().map(|r| r.not_modified as i64).sum(),
        requests: summaries.iter().map(|r| r.requests as i64).sum(),
        bytes: summaries.iter().map(|r| r.bytes as i64).sum(),
        ignored,
        note: String::new(),
        checker: String::new(),
    };
    if ignored {
        let over = if runs == 1 {
            format!("{mirrors} mirrors")
        } else {
            format!(
                "{mirrors} mirrors in this run and the {} before it",
                runs - 1
            )
        };
        run.note = format!(
            "{failed} of {checks} checks of {over} failed (over {:.0}%): the checker's own network is the likely problem, so no mirror's state was changed",
            config.ignore_failure_ratio * 100.0
        );
        return Judgement {
            run,
            stats: Vec::new(),
            health: Vec::new(),
            events: Vec::new(),
            by_outcome,
            located,
            subnets,
        };
    }
    let mut health = Vec::new();
    let mut events = Vec::new();
    for s in summaries {
        for (capability, verdict) in &s.verdicts {
            let previous = input.health.get(&(s.mirror_id, capability.clone()));
            let (record, event) =
                health::step(s.mirror_id, capability, previous, verdict, thresholds, now);
            health.push(record);
            events.extend(event);
        }
    }
    let stats = summaries
        .iter()
        .map(|s| MirrorStats {
            mirror_id: s.mirror_id,
            checked_at: started_at,
            requests: s.requests as i64,
            bytes: s.bytes as i64,
            not_modified: s.not_modified as i64,
            sync_age: s.sync_age,
            redirects_to: s.redirects_to.clone(),
        })
        .collect();
    Judgement {
        run,
        stats,
        health,
        events,
        by_outcome,
        located,
        subnets,
    }
}

/// Applies a judgement: commits the crawl's transaction with health and the run's record, or,
/// when the run is set aside, rolls the results back and records only the run.
pub async fn apply(
    store: &Store,
    mut writer: CrawlWriter,
    judgement: &Judgement,
    claimed: Option<&Claimed<'_>>,
) -> crate::Result<()> {
    if judgement.run.ignored {
        writer.abandon().await?;
        store.record_run(&judgement.run).await?;
        // Set aside, but done: the mirrors are not checked again before their next turn.
        if let Some(c) = claimed {
            store
                .complete_claims(c.holder, c.claims, &c.schedule, judgement.run.finished_at)
                .await?;
        }
    } else {
        if let Some(c) = claimed {
            writer.complete_claims(c.holder, c.claims, &c.schedule, judgement.run.finished_at);
        }
        writer
            .finish(
                &judgement.run,
                &judgement.health,
                &judgement.events,
                &judgement.stats,
            )
            .await?;
    }
    let at = judgement.run.finished_at;
    for (mirror_id, l) in &judgement.located {
        store.record_located(*mirror_id, l, at).await?;
    }
    for (mirror_id, fetched) in &judgement.subnets {
        if let Err(why) = fetched {
            tracing::warn!(mirror_id, error = %why, "subnets URL unreadable; the last good list is kept");
        }
        if let Some(change) = store
            .record_subnets_fetch(*mirror_id, fetched.clone(), at)
            .await?
        {
            tracing::info!(
                mirror_id,
                added = change.added.len(),
                removed = change.removed.len(),
                "subnets changed"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
