//! Checking one mirror: every directory due over each web protocol it offers ([`plan`]),
//! each check judged ([`check`]) by a few workers that bound the requests to one host, its
//! `TIME` file and a probe over each address family ([`probe`]), and its `subnets` list.

use super::check::{check_one, Breaker, Ctx, Task};
use super::fetch::Counters;
use super::findings::protocol_finding;
use super::{plan, probe, CrawlConfig, CrawlInput};
use crate::health::Finding;
use crate::http::HttpClient;
use crate::upstream::TimeFile;
use shared::registry::Protocol;
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use store::CheckRecord;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// What checking one mirror produced.
#[derive(Debug, Clone, Default)]
pub struct MirrorResult {
    pub mirror_id: i64,
    pub checks: Vec<CheckRecord>,
    /// (capability, finding): `http`, `https`, `ipv4`, `ipv6` (`content` is added later).
    pub findings: Vec<(String, Finding)>,
    /// Age of the mirror's TIME file, when it has one that says a time.
    pub sync_age: Option<i64>,
    /// What its TIME file says instead, when that is no sync time.
    pub time_problem: Option<String>,
    /// The addresses its host resolved to.
    pub addresses: Vec<std::net::IpAddr>,
    /// Other hosts its redirects led to.
    pub redirects_to: Vec<String>,
    /// Its `subnets` URL's list, or why it could not be read (when it has one).
    pub subnets: Option<Result<Vec<ipnet::IpNet>, String>>,
    /// On the polite schedule: this check's results over the earlier ones, every directory
    /// it carries (what the content finding reads).
    pub merged: Option<Vec<CheckRecord>>,
    /// On the polite schedule: TIME fetched over each web protocol, and how many failed
    /// (they count in the 70% rule's sample).
    pub time_checks: u32,
    pub time_failures: u32,
    pub requests: u64,
    pub bytes: u64,
    pub not_modified: u64,
}

/// Where a test makes a mirror's check panic: (mirror name, "mirror" or "worker"). A panic
/// cannot be provoked from outside, and how a crawl answers one must be tested.
#[cfg(test)]
pub(super) static PANIC_AT: std::sync::Mutex<Vec<(String, &'static str)>> =
    std::sync::Mutex::new(Vec::new());

#[cfg(test)]
fn panic_if_asked(mirror: &str, point: &str) {
    let asked = PANIC_AT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|(m, p)| m == mirror && *p == point);
    assert!(!asked, "a panic the test asked for at {point}");
}

pub(super) async fn check_mirror(
    input: Arc<CrawlInput>,
    index: usize,
    client: HttpClient,
    global: Arc<Semaphore>,
    config: Arc<CrawlConfig>,
    now: i64,
) -> crate::Result<MirrorResult> {
    let (mirror_id, mirror) = &input.mirrors[index];
    #[cfg(test)]
    panic_if_asked(&mirror.name, "mirror");
    let counters = Arc::new(Counters::default());
    let mut tasks = plan::tasks(&input, mirror);
    let carried: HashSet<(i64, Protocol)> =
        tasks.iter().map(|t| (t.directory_id, t.protocol)).collect();
    let mut earlier = plan::Earlier::default();
    let loaded = (input.earlier)(*mirror_id).await.map(|all| {
        for c in all {
            earlier.add(c);
        }
    });
    let selective = input.selective && !input.full.contains(mirror_id) && loaded.is_ok();
    if let Err(e) = loaded {
        // Without them every request is a full GET: slower, not wrong.
        tracing::warn!(mirror = %mirror.name, error = %e, "earlier results unreadable; no conditional requests");
    }
    let probe = probe::Probe {
        client: &client,
        global: &global,
        config: &config,
        counters: &counters,
        now,
    };
    // The polite schedule: TIME over each web protocol first, then only the directories due.
    let mut time = probe::TimeOverProtocols::default();
    if selective {
        time = probe.time_over_protocols(mirror).await;
        let synced_since = matches!(
            (input.synced.get(mirror_id), time.value.as_ref().and_then(TimeFile::at)),
            (Some(before), Some(now_value)) if *before != now_value
        );
        plan::retain_due(
            &mut tasks,
            &input,
            &config,
            &earlier.previous,
            synced_since,
            now,
        );
    }
    let ctx = Arc::new(Ctx {
        previous: earlier.previous,
        input: input.clone(),
        client: client.clone(),
        global: global.clone(),
        config: config.clone(),
        counters: counters.clone(),
        breaker: Arc::new(Breaker::default()),
        mirror_id: *mirror_id,
        now,
        looked_at: Default::default(),
    });
    let checks = check_all_tasks(&ctx, tasks, &mirror.name).await?;
    let mut findings = protocol_findings(&checks, &time.findings);
    let merged = selective.then(|| plan::merged(&checks, earlier.neutral, &carried));
    // On the polite schedule TIME was read above, over each protocol.
    let reached = probe.families(mirror, !selective).await;
    findings.extend(reached.findings);
    let time_file = time.value.clone().or(reached.time);
    let sync_age = time_file.as_ref().and_then(TimeFile::at).map(|t| now - t);
    let time_problem = match time_file {
        Some(TimeFile::Unreadable(why)) => Some(why),
        _ => None,
    };
    let subnets = match &mirror.subnets_url {
        Some(url) => {
            let _slot = global.acquire().await.expect("never closed");
            Some(super::subnets::fetch(&client, url, &config).await)
        }
        None => None,
    };
    let redirects_to = counters
        .offhost
        .lock()
        .map(|s| s.iter().cloned().collect())
        .unwrap_or_default();
    Ok(MirrorResult {
        mirror_id: *mirror_id,
        subnets,
        redirects_to,
        checks,
        merged,
        time_checks: time.checks,
        time_failures: time.failures,
        findings,
        sync_age,
        time_problem,
        addresses: reached.addresses,
        requests: counters.requests.load(Ordering::Relaxed),
        bytes: counters.bytes.load(Ordering::Relaxed),
        not_modified: counters.not_modified.load(Ordering::Relaxed),
    })
}

/// A few workers per host pull from the mirror's task list: at most `per_host` requests to
/// one mirror at a time, and no more futures alive than that. A panicked worker fails the
/// mirror whole: never a mirror judged on part of its checks.
async fn check_all_tasks(
    ctx: &Arc<Ctx>,
    tasks: Vec<Task>,
    name: &str,
) -> crate::Result<Vec<CheckRecord>> {
    let tasks = Arc::new(tasks);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..ctx.config.per_host.max(1).min(tasks.len().max(1)) {
        let (ctx, tasks, next) = (ctx.clone(), tasks.clone(), next.clone());
        #[cfg(test)]
        let name = name.to_string();
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(task) = tasks.get(i) else { break };
                #[cfg(test)]
                panic_if_asked(&name, "worker");
                done.push(check_one(&ctx, task).await);
            }
            done
        });
    }
    let mut checks = Vec::new();
    while let Some(done) = workers.join_next().await {
        match done {
            Ok(mut part) => checks.append(&mut part),
            Err(e) if e.is_panic() => {
                workers.abort_all();
                return Err(crate::Error::panicked(name, e.into_panic()));
            }
            Err(_) => return Err(crate::Error::Interrupted),
        }
    }
    checks.sort_by_key(|c| (c.directory_id, c.protocol));
    Ok(checks)
}

/// A finding per web protocol from its directory checks, or its TIME file's when no
/// directory was due.
fn protocol_findings(
    checks: &[CheckRecord],
    time: &[(Protocol, Finding)],
) -> Vec<(String, Finding)> {
    let mut findings = Vec::new();
    for protocol in [Protocol::Http, Protocol::Https] {
        let of: Vec<&CheckRecord> = checks.iter().filter(|c| c.protocol == protocol).collect();
        let finding = protocol_finding(protocol, &of).or_else(|| {
            time.iter()
                .find(|(p, _)| *p == protocol)
                .map(|(_, v)| v.clone())
        });
        if let Some(v) = finding {
            findings.push((protocol.as_str().to_string(), v));
        }
    }
    findings
}
