//! Checking one mirror: every directory it should carry over each web protocol it offers,
//! its `TIME` file, and a probe over each address family. Bounded by a per-host limit, a
//! share of the global limit, retries with backoff and jitter, and a breaker that stops
//! knocking on a protocol that keeps failing at the transport level.
//!
//! One file on purpose: the retries, the breaker and the per-mirror workers share one
//! context ([`Ctx`]) and read as one procedure; splitting them would scatter that state.

use super::verdict::{classify, protocol_verdict};
use super::{CrawlConfig, CrawlInput, Seen};
use crate::health::Verdict;
use crate::http::{FetchError, Fetched, HttpClient, Validators};
use shared::model::{CheckOutcome, Family};
use shared::registry::Protocol;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use store::CheckRecord;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use url::Url;

/// What checking one mirror produced.
#[derive(Debug, Clone, Default)]
pub struct MirrorResult {
    pub mirror_id: i64,
    pub checks: Vec<CheckRecord>,
    /// (capability, verdict): `http`, `https`, `ipv4`, `ipv6` (`content` is added later).
    pub verdicts: Vec<(String, Verdict)>,
    /// Age of the mirror's TIME file, when it has one.
    pub sync_age: Option<i64>,
    /// The addresses its host resolved to.
    pub addresses: Vec<std::net::IpAddr>,
    /// Other hosts its redirects led to.
    pub redirects_to: Vec<String>,
    /// Its `subnets` URL's list, or why it could not be read (when it has one).
    pub subnets: Option<Result<Vec<ipnet::IpNet>, String>>,
    /// On the polite schedule: this check's results over the earlier ones, every directory
    /// it carries (what the content verdict reads).
    pub merged: Option<Vec<CheckRecord>>,
    /// On the polite schedule: TIME fetched over each web protocol, and how many failed
    /// (they count in the 70% rule's sample).
    pub time_checks: u32,
    pub time_failures: u32,
    pub requests: u64,
    pub bytes: u64,
    pub not_modified: u64,
}

struct Counters {
    requests: AtomicU64,
    bytes: AtomicU64,
    not_modified: AtomicU64,
    /// Other hosts redirects led to.
    offhost: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// Consecutive transport failures per protocol, and the last one.
struct Breaker {
    failures: [AtomicU32; 2],
    last: std::sync::Mutex<[Option<String>; 2]>,
}

fn slot(p: Protocol) -> usize {
    usize::from(p == Protocol::Https)
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

/// A tiny jitter source: no need for cryptographic quality.
fn jitter(max_ms: u64) -> u64 {
    u64::from(shared::time::clock_noise()) % max_ms.max(1)
}

/// GET with retries on transport failures and 5xx answers.
async fn fetch(
    client: &HttpClient,
    url: &Url,
    family: Family,
    validators: &Validators,
    config: &CrawlConfig,
    counters: &Counters,
) -> Result<Fetched, FetchError> {
    let mut attempt = 0;
    loop {
        let result = client.get(url, family, validators).await;
        match &result {
            Ok(f) => {
                counters
                    .requests
                    .fetch_add(u64::from(f.requests), Ordering::Relaxed);
                counters
                    .bytes
                    .fetch_add(f.body.len() as u64, Ordering::Relaxed);
                if let Some(host) = &f.offhost {
                    if let Ok(mut seen) = counters.offhost.lock() {
                        seen.insert(shared::text::bounded(host, 253));
                    }
                }
            }
            Err(_) => {
                counters.requests.fetch_add(1, Ordering::Relaxed);
            }
        }
        let retry = match &result {
            Ok(f) => f.status >= 500,
            Err(e) => e.is_transport(),
        };
        if !retry || attempt >= config.retries {
            return result;
        }
        attempt += 1;
        let backoff = config.retry_backoff.as_millis() << (attempt - 1);
        tokio::time::sleep(Duration::from_millis(backoff + jitter(backoff / 2 + 1))).await;
    }
}

/// GET over any family with the crawl's retries, counted nowhere (not a check of the tree).
pub(super) async fn fetch_plain(
    client: &HttpClient,
    url: &Url,
    config: &CrawlConfig,
) -> Result<Fetched, FetchError> {
    let counters = Counters {
        requests: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        not_modified: AtomicU64::new(0),
        offhost: Default::default(),
    };
    fetch(
        client,
        url,
        Family::Any,
        &Validators::default(),
        config,
        &counters,
    )
    .await
}

/// An ETag or Last-Modified worth keeping to send back: short, visible ASCII.
fn validator(value: Option<String>) -> Option<String> {
    value.filter(|v| v.len() <= 256 && v.bytes().all(|b| (0x20..0x7f).contains(&b)))
}

pub(super) struct Task {
    pub directory_id: i64,
    pub protocol: Protocol,
    pub url: Url,
}

struct Ctx {
    input: Arc<CrawlInput>,
    client: HttpClient,
    global: Arc<Semaphore>,
    config: Arc<CrawlConfig>,
    counters: Arc<Counters>,
    breaker: Arc<Breaker>,
    mirror_id: i64,
    now: i64,
    /// What this mirror's earlier checks saw, by (directory, protocol, family).
    previous: HashMap<(i64, Protocol, Family), Seen>,
    /// Copies whose files this crawl looked at already, by (directory, sha256): over HTTP
    /// and HTTPS a mirror serves one tree, looked at once.
    looked_at: std::sync::Mutex<HashMap<(i64, String), Option<String>>>,
}

/// One repomd.xml check, classified.
async fn check_one(ctx: &Ctx, task: &Task) -> CheckRecord {
    let _slot = ctx.global.acquire().await.expect("never closed");
    let previous = ctx
        .previous
        .get(&(task.directory_id, task.protocol, Family::Any));
    let s = slot(task.protocol);
    let open = ctx.breaker.failures[s].load(Ordering::Relaxed) >= ctx.config.breaker_failures;
    if open {
        let last = ctx
            .breaker
            .last
            .lock()
            .map(|l| l[s].clone())
            .unwrap_or_default()
            .unwrap_or_default();
        return record(
            ctx.mirror_id,
            task,
            CheckOutcome::Error,
            None,
            None,
            Some(format!(
                "{} {} failed {} times in a row ({last})",
                super::verdict::SKIPPED,
                task.protocol,
                ctx.config.breaker_failures
            )),
            ctx.now,
        );
    }
    // A copy found half-synced is fetched in full, to look at the files it names again.
    let incomplete = previous.is_some_and(|p| p.outcome == Some(CheckOutcome::Incomplete));
    let validators = previous
        .filter(|_| !incomplete)
        .map_or_else(Validators::default, |p| Validators {
            etag: p.etag.clone(),
            last_modified: p.last_modified.clone(),
        });
    let started = std::time::Instant::now();
    let result = fetch(
        &ctx.client,
        &task.url,
        Family::Any,
        &validators,
        &ctx.config,
        &ctx.counters,
    )
    .await;
    match &result {
        Err(e) if e.is_transport() => {
            ctx.breaker.failures[s].fetch_add(1, Ordering::Relaxed);
            if let Ok(mut last) = ctx.breaker.last.lock() {
                last[s] = Some(shared::text::reason(&e.to_string()));
            }
        }
        _ => ctx.breaker.failures[s].store(0, Ordering::Relaxed),
    }
    let latency = started.elapsed().as_millis() as i64;
    let history = ctx
        .input
        .history
        .get(&task.directory_id)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut rec = match result {
        Err(e) => record(
            ctx.mirror_id,
            task,
            CheckOutcome::Error,
            None,
            None,
            Some(e.to_string()),
            ctx.now,
        ),
        Ok(f) if f.status == 304 => match previous.and_then(|p| p.sha256.clone()) {
            Some(sha) => {
                ctx.counters.not_modified.fetch_add(1, Ordering::Relaxed);
                let timestamp = previous.and_then(|p| p.timestamp);
                let mut r = found(ctx, task, history, sha, timestamp, 304);
                r.etag = validator(f.etag).or_else(|| previous.and_then(|p| p.etag.clone()));
                r.last_modified = validator(f.last_modified)
                    .or_else(|| previous.and_then(|p| p.last_modified.clone()));
                r
            }
            None => record(
                ctx.mirror_id,
                task,
                CheckOutcome::Error,
                None,
                Some(304),
                Some("304 Not Modified without an earlier copy".into()),
                ctx.now,
            ),
        },
        Ok(f) if f.status == 200 => match crate::repomd::max_timestamp(&f.body) {
            Err(problem) => record(
                ctx.mirror_id,
                task,
                CheckOutcome::Error,
                None,
                Some(200),
                Some(format!("invalid repomd.xml: {problem}")),
                ctx.now,
            ),
            Ok(timestamp) => {
                let sha = crate::repomd::sha256_hex(&f.body);
                // Each new copy's files are looked at once (and a half-synced one's again).
                let new_copy = incomplete || previous.and_then(|p| p.sha256.as_ref()) != Some(&sha);
                let mut r = found(ctx, task, history, sha, Some(timestamp), 200);
                if new_copy && matches!(r.outcome, CheckOutcome::Current | CheckOutcome::Behind) {
                    let sha = r.sha256_seen.as_deref().unwrap_or_default();
                    if let Some(problem) = half_synced(ctx, task, &f.body, sha).await {
                        r.outcome = CheckOutcome::Incomplete;
                        r.error = Some(problem);
                    }
                }
                r.bytes = f.body.len() as i64;
                r.etag = validator(f.etag);
                r.last_modified = validator(f.last_modified);
                r
            }
        },
        Ok(f) if f.status == 404 || f.status == 410 => record(
            ctx.mirror_id,
            task,
            CheckOutcome::Missing,
            None,
            Some(i64::from(f.status)),
            None,
            ctx.now,
        ),
        Ok(f) => record(
            ctx.mirror_id,
            task,
            CheckOutcome::Error,
            None,
            Some(i64::from(f.status)),
            Some(format!("HTTP {}", f.status)),
            ctx.now,
        ),
    };
    rec.latency_ms = Some(latency);
    rec
}

/// Whether every file `repomd` names, and the packages sampled from that version (`sha`)
/// at the master, are on the mirror with the sizes stated (a HEAD each): `None` when so,
/// else the first that is not, worded for the operator. A mirror whose repomd.xml is new
/// but whose files or packages are not breaks dnf for its users.
async fn half_synced(ctx: &Ctx, task: &Task, repomd: &[u8], sha: &str) -> Option<String> {
    let key = (task.directory_id, sha.to_string());
    if let Some(known) = ctx.looked_at.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return known;
    }
    let found = look_at_files(ctx, task, repomd, sha).await;
    if let Ok(mut m) = ctx.looked_at.lock() {
        m.insert(key, found.clone());
    }
    found
}

async fn look_at_files(ctx: &Ctx, task: &Task, repomd: &[u8], sha: &str) -> Option<String> {
    let named = match crate::repomd::named_files(repomd) {
        Ok(named) => named,
        Err(problem) => return Some(problem),
    };
    let dir = task.url.join("../").ok()?;
    let files = named
        .into_iter()
        .map(|n| ("repomd.xml names", n.href, n.size))
        .chain(
            ctx.input
                .samples
                .get(&(task.directory_id, sha.to_string()))
                .into_iter()
                .flatten()
                .map(|(href, size)| ("primary.xml lists", href.clone(), Some(*size))),
        );
    for (who, href, size) in files {
        let file = crate::repomd::Named {
            kind: String::new(),
            href,
            size,
        };
        let Ok(url) = dir.join(&file.href) else {
            return Some(format!("{}: not a usable location", file.href));
        };
        let result = ctx.client.head(&url).await;
        let requests = result.as_ref().map_or(1, |f| u64::from(f.requests));
        ctx.counters.requests.fetch_add(requests, Ordering::Relaxed);
        let problem = match result {
            Err(e) => format!("could not be fetched ({e})"),
            Ok(f) if f.status == 404 || f.status == 410 => format!("missing (HTTP {})", f.status),
            Ok(f) if !(200..300).contains(&f.status) => format!("HTTP {}", f.status),
            Ok(f) => match (f.length, file.size) {
                (Some(got), Some(want)) if got != want => {
                    format!("{got} bytes where repomd.xml says {want}")
                }
                _ => continue,
            },
        };
        return Some(format!("{who} {}, which is {problem}", file.href));
    }
    None
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
    let counters = Arc::new(Counters {
        requests: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        not_modified: AtomicU64::new(0),
        offhost: Default::default(),
    });
    let breaker = Arc::new(Breaker {
        failures: [AtomicU32::new(0), AtomicU32::new(0)],
        last: std::sync::Mutex::new([None, None]),
    });
    let mut tasks = Vec::new();
    for protocol in [Protocol::Http, Protocol::Https] {
        for (_, d) in input.catalog.mirrored() {
            let (Some(base), Some(&directory_id)) = (
                mirror.base_url(d.module.as_deref(), protocol),
                input.directory_ids.get(&d.path),
            ) else {
                continue;
            };
            let Ok(url) = Url::parse(&format!("{base}{}/repodata/repomd.xml", d.path)) else {
                continue;
            };
            tasks.push(Task {
                directory_id,
                protocol,
                url,
            });
        }
    }
    let carried: std::collections::HashSet<(i64, Protocol)> =
        tasks.iter().map(|t| (t.directory_id, t.protocol)).collect();
    let mut previous = HashMap::new();
    // The family-neutral results, for the content verdict over what this check does not
    // look at again.
    let mut earlier: Vec<CheckRecord> = Vec::new();
    let loaded = input
        .store
        .visit_checks_of(*mirror_id, |c| {
            let seen = Seen {
                timestamp: c.timestamp_seen,
                sha256: c.sha256_seen.clone(),
                etag: c.etag.clone(),
                last_modified: c.last_modified.clone(),
                outcome: Some(c.outcome),
                checked_at: Some(c.checked_at),
            };
            previous.insert((c.directory_id, c.protocol, c.family), seen);
            if c.family == Family::Any {
                earlier.push(c);
            }
        })
        .await;
    let selective = input.selective && !input.full.contains(mirror_id) && loaded.is_ok();
    if let Err(e) = loaded {
        // Without them every request is a full GET: slower, not wrong.
        tracing::warn!(mirror = %mirror.name, error = %e, "earlier results unreadable; no conditional requests");
    }
    // The polite schedule: TIME over each web protocol first (health, and whether the
    // mirror synced), then only the directories due.
    let main_base = |p: Protocol| mirror.urls.get(&p).and_then(|b| Url::parse(b).ok());
    let mut time_verdicts: Vec<(Protocol, Verdict)> = Vec::new();
    let mut time_value: Option<i64> = None;
    let (mut time_checks, mut time_failures) = (0u32, 0u32);
    if selective {
        for protocol in [Protocol::Http, Protocol::Https] {
            let Some(url) = main_base(protocol).and_then(|b| b.join("TIME").ok()) else {
                continue;
            };
            let _slot = global.acquire().await.expect("never closed");
            let fetched = fetch(
                &client,
                &url,
                Family::Any,
                &Validators::default(),
                &config,
                &counters,
            )
            .await;
            time_checks += 1;
            let verdict = match &fetched {
                Ok(f) if f.status < 500 => Verdict {
                    ok: true,
                    reason: format!("{protocol}: reachable (TIME answered {})", f.status),
                },
                Ok(f) => Verdict {
                    ok: false,
                    reason: format!("{protocol}: HTTP {}", f.status),
                },
                Err(e) => Verdict {
                    ok: false,
                    reason: format!("{protocol}: {e}"),
                },
            };
            time_failures += u32::from(!verdict.ok);
            if let Ok(f) = fetched.as_ref() {
                if f.status == 200 && time_value.is_none() {
                    time_value = crate::upstream::time_file(&f.body);
                }
            }
            time_verdicts.push((protocol, verdict));
        }
        let synced_since = matches!(
            (input.synced.get(mirror_id), time_value),
            (Some(before), Some(now_value)) if *before != now_value
        );
        let rule = super::select::Rule {
            base: config.recheck_base.as_secs() as i64,
            sweep: config.sweep_interval.as_secs() as i64,
        };
        tasks.retain(|t| {
            let master = input
                .history
                .get(&t.directory_id)
                .and_then(|h| h.first())
                .map(|v| super::select::Master {
                    sha256: &v.sha256,
                    published: v.first_seen,
                });
            super::select::due(
                rule,
                previous.get(&(t.directory_id, t.protocol, Family::Any)),
                master,
                synced_since,
                now,
            )
        });
    }
    let ctx = Arc::new(Ctx {
        previous,
        input: input.clone(),
        client: client.clone(),
        global: global.clone(),
        config: config.clone(),
        counters: counters.clone(),
        breaker,
        mirror_id: *mirror_id,
        now,
        looked_at: Default::default(),
    });
    // A few workers per host pull from the mirror's task list: at most `per_host` requests to
    // one mirror at a time, and no more futures alive than that.
    let tasks = Arc::new(tasks);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..config.per_host.max(1).min(tasks.len().max(1)) {
        let (ctx, tasks, next) = (ctx.clone(), tasks.clone(), next.clone());
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(task) = tasks.get(i) else { break };
                #[cfg(test)]
                panic_if_asked(&ctx.input.mirrors[index].1.name, "worker");
                done.push(check_one(&ctx, task).await);
            }
            done
        });
    }
    let mut checks = Vec::new();
    while let Some(done) = workers.join_next().await {
        match done {
            Ok(mut part) => checks.append(&mut part),
            // Never judge a mirror on part of its checks: the crawl fails whole, as it does
            // when a mirror's own task panics.
            Err(e) if e.is_panic() => {
                workers.abort_all();
                return Err(crate::Error::panicked(&mirror.name, e.into_panic()));
            }
            Err(_) => return Err(crate::Error::Interrupted),
        }
    }
    checks.sort_by_key(|c| (c.directory_id, c.protocol));

    let mut verdicts = Vec::new();
    for protocol in [Protocol::Http, Protocol::Https] {
        let of: Vec<&CheckRecord> = checks.iter().filter(|c| c.protocol == protocol).collect();
        let verdict = protocol_verdict(protocol, &of).or_else(|| {
            time_verdicts
                .iter()
                .find(|(p, _)| *p == protocol)
                .map(|(_, v)| v.clone())
        });
        if let Some(v) = verdict {
            verdicts.push((protocol.as_str().to_string(), v));
        }
    }
    // The content verdict reads every directory: this check's results over the earlier ones.
    let merged = selective.then(|| {
        let fresh: std::collections::HashSet<(i64, Protocol)> = checks
            .iter()
            .map(|c| (c.directory_id, c.protocol))
            .collect();
        let mut all = checks.clone();
        all.extend(earlier.into_iter().filter(|c| {
            carried.contains(&(c.directory_id, c.protocol))
                && !fresh.contains(&(c.directory_id, c.protocol))
        }));
        all
    });
    // TIME and the address-family probes go over the main tree's first web URL.
    let base = mirror
        .urls
        .get(&Protocol::Http)
        .or_else(|| mirror.urls.get(&Protocol::Https))
        .and_then(|b| Url::parse(b).ok());
    let mut sync_age = time_value.map(|t| now - t);
    let mut addresses = Vec::new();
    if let Some(time_url) = base.as_ref().and_then(|b| b.join("TIME").ok()) {
        addresses = client.addresses(&time_url).await;
        let _slot = global.acquire().await.expect("never closed");
        // On the polite schedule it was read above, over each protocol.
        if !selective {
            let fetched = fetch(
                &client,
                &time_url,
                Family::Any,
                &Validators::default(),
                &config,
                &counters,
            )
            .await;
            sync_age = fetched
                .ok()
                .filter(|f| f.status == 200)
                .and_then(|f| crate::upstream::time_file(&f.body))
                .map(|t| now - t);
        }
        if config.probe_families {
            let has_v4 = addresses.iter().any(std::net::IpAddr::is_ipv4);
            let has_v6 = addresses.iter().any(std::net::IpAddr::is_ipv6);
            for (family, has) in [(Family::V4, has_v4), (Family::V6, has_v6)] {
                let verdict = if !has {
                    Verdict {
                        ok: false,
                        reason: format!("{family}: the host has no {family} address"),
                    }
                } else {
                    match fetch(
                        &client,
                        &time_url,
                        family,
                        &Validators::default(),
                        &config,
                        &counters,
                    )
                    .await
                    {
                        Ok(f) if f.status < 500 => Verdict {
                            ok: true,
                            reason: format!("{family}: reachable"),
                        },
                        Ok(f) => Verdict {
                            ok: false,
                            reason: format!("{family}: HTTP {}", f.status),
                        },
                        Err(e) => Verdict {
                            ok: false,
                            reason: format!("{family}: {e}"),
                        },
                    }
                };
                verdicts.push((family.as_str().to_string(), verdict));
            }
        }
    }
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
        time_checks,
        time_failures,
        verdicts,
        sync_age,
        addresses,
        requests: counters.requests.load(Ordering::Relaxed),
        bytes: counters.bytes.load(Ordering::Relaxed),
        not_modified: counters.not_modified.load(Ordering::Relaxed),
    })
}

/// A check that found a copy, classified against the master's history.
fn found(
    ctx: &Ctx,
    task: &Task,
    history: &[shared::model::RepomdVersion],
    sha: String,
    timestamp: Option<i64>,
    status: i64,
) -> CheckRecord {
    let (outcome, behind, lag) = classify(history, &sha, timestamp, ctx.now);
    let mut r = record(
        ctx.mirror_id,
        task,
        outcome,
        Some(sha),
        Some(status),
        None,
        ctx.now,
    );
    (r.versions_behind, r.lag_seconds) = (behind, lag);
    r.timestamp_seen = timestamp;
    r
}

fn record(
    mirror_id: i64,
    task: &Task,
    outcome: CheckOutcome,
    sha: Option<String>,
    status: Option<i64>,
    error: Option<String>,
    now: i64,
) -> CheckRecord {
    CheckRecord {
        mirror_id,
        directory_id: task.directory_id,
        protocol: task.protocol,
        family: Family::Any,
        outcome,
        sha256_seen: sha,
        versions_behind: None,
        lag_seconds: None,
        http_status: status,
        latency_ms: None,
        bytes: 0,
        etag: None,
        last_modified: None,
        checked_at: now,
        // Where a mirror's text enters the store: bounded, control characters escaped.
        error: error.map(|e| shared::text::reason(&e)),
        timestamp_seen: None,
        good_sha256: None,
        good_at: None,
    }
}
