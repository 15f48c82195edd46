//! Running the checks of a crawl: every mirror of the input, enough at once to fill the
//! global limit, each one's results staged as it finishes and summed up for judging.

use super::{findings, mirror, CrawlConfig, CrawlInput, MirrorResult};
use crate::health::Finding;
use crate::http::HttpClient;
use shared::model::CheckOutcome;
use shared::snapshot::{alternates, Located};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use store::CrawlWriter;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// One mirror's part of a crawl once its results are in the store's open transaction: the
/// findings and the counts, without the results themselves.
#[derive(Debug, Clone)]
pub struct MirrorSummary {
    pub mirror_id: i64,
    /// (capability, finding), `content` and `sync` included.
    pub findings: Vec<(String, Finding)>,
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
    let mut findings = r.findings;
    let all = r.merged.as_ref().unwrap_or(&r.checks);
    if !all.is_empty() {
        findings.push((
            "content".into(),
            findings::content_finding(all, servable, paths),
        ));
    }
    let limit = input.catalog.max_sync_age_secs() as i64;
    if let Some(f) = findings::sync_finding(r.sync_age, r.time_problem.as_deref(), limit) {
        findings.push(("sync".into(), f));
    }
    let mut by_outcome = BTreeMap::new();
    for c in &r.checks {
        *by_outcome.entry(c.outcome).or_default() += 1;
    }
    MirrorSummary {
        mirror_id: r.mirror_id,
        findings,
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
    geo: Option<&shared::geoip::GeoDb>,
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
                    summaries.push(summarize(&input, result, &servable, &paths, geo));
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
