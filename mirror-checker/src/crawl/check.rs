//! One repomd.xml check, judged: fetched (conditionally, with the breaker that stops
//! knocking on a protocol that keeps failing at the transport level), classified against
//! the master's history, and a new copy's named files and sampled packages looked for
//! (half-synced when one is missing or of another size).

use super::fetch::{fetch, validator, Counters};
use super::findings::classify;
use super::{CrawlConfig, CrawlInput, Seen};
use crate::http::{HttpClient, Validators};
use shared::model::{CheckOutcome, Family};
use shared::registry::Protocol;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use store::CheckRecord;
use tokio::sync::Semaphore;
use url::Url;

/// One repomd.xml to check: a directory over a protocol.
pub(super) struct Task {
    pub(super) directory_id: i64,
    pub(super) protocol: Protocol,
    pub(super) url: Url,
}

/// Consecutive transport failures per protocol, and the last one.
pub(super) struct Breaker {
    pub(super) failures: [AtomicU32; 2],
    pub(super) last: std::sync::Mutex<[Option<String>; 2]>,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            failures: [AtomicU32::new(0), AtomicU32::new(0)],
            last: std::sync::Mutex::new([None, None]),
        }
    }
}

fn slot(p: Protocol) -> usize {
    usize::from(p == Protocol::Https)
}

/// What every check of one mirror shares.
pub(super) struct Ctx {
    pub(super) input: Arc<CrawlInput>,
    pub(super) client: HttpClient,
    pub(super) global: Arc<Semaphore>,
    pub(super) config: Arc<CrawlConfig>,
    pub(super) counters: Arc<Counters>,
    pub(super) breaker: Arc<Breaker>,
    pub(super) mirror_id: i64,
    pub(super) now: i64,
    /// What this mirror's earlier checks saw, by (directory, protocol, family).
    pub(super) previous: HashMap<(i64, Protocol, Family), Seen>,
    /// Copies whose files this crawl looked at already, by (directory, sha256): over HTTP
    /// and HTTPS a mirror serves one tree, looked at once.
    pub(super) looked_at: std::sync::Mutex<HashMap<(i64, String), Option<String>>>,
}

/// One repomd.xml check, classified.
pub(super) async fn check_one(ctx: &Ctx, task: &Task) -> CheckRecord {
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
                super::findings::SKIPPED,
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
