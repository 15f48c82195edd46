//! Prometheus metrics of the checker: crawl duration, checks by outcome, mirrors by state,
//! per-directory coverage, upstream publish age. Labels are bounded: outcomes, capabilities,
//! states, and the catalog's directories.

use prometheus::{
    Encoder, Gauge, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};
use shared::model::HealthState;
use shared::model::RepomdVersion;
use shared::snapshot::Snapshot;
use std::collections::HashMap;
use store::HealthRecord;

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    crawl_seconds: Gauge,
    checks: IntCounterVec,
    runs: IntCounterVec,
    requests: IntCounter,
    bytes: IntCounter,
    not_modified: IntCounter,
    mirrors: IntGaugeVec,
    coverage: IntGaugeVec,
    maintenance: IntGaugeVec,
    notifications: IntCounterVec,
    outbox_waiting: IntGauge,
    outbox_oldest: IntGauge,
    propagation: IntGaugeVec,
    behind: IntGaugeVec,
    upstream_age: IntGaugeVec,
    upstream_errors: IntGauge,
    snapshot_serial: IntGauge,
    snapshot_fresh: IntGauge,
    /// Snapshots not published for growing past `snapshot_growth_max`.
    pub snapshots_refused: IntCounter,
    leader: IntGauge,
    claimed: IntCounter,
    ticks: IntCounterVec,
}

fn reg<T: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: T) -> T {
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are unique");
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let m = Metrics {
            crawl_seconds: reg(&r, Gauge::new("mirror_checker_crawl_duration_seconds", "Wall time of the last crawl or daemon batch.").unwrap()),
            checks: reg(&r, IntCounterVec::new(Opts::new("mirror_checker_checks_total", "repomd.xml checks by outcome (current, behind, unknown_content, missing, error)."), &["outcome"]).unwrap()),
            runs: reg(&r, IntCounterVec::new(Opts::new("mirror_checker_runs_total", "Crawls and batches; applied=false when most checks failed and the run changed nothing."), &["applied"]).unwrap()),
            requests: reg(&r, IntCounter::new("mirror_checker_requests_total", "HTTP requests sent to mirrors, redirects and retries included.").unwrap()),
            bytes: reg(&r, IntCounter::new("mirror_checker_response_bytes_total", "Body bytes received from mirrors.").unwrap()),
            not_modified: reg(&r, IntCounter::new("mirror_checker_not_modified_total", "Checks answered 304 Not Modified (cheap re-checks).").unwrap()),
            mirrors: reg(&r, IntGaugeVec::new(Opts::new("mirror_checker_mirrors", "Mirrors by capability (http, https, ipv4, ipv6, content, sync) and state (up, down, unknown)."), &["capability", "state"]).unwrap()),
            propagation: reg(&r, IntGaugeVec::new(Opts::new("mirror_checker_directory_propagation_seconds", "How long after its publication the current version of each directory reached 50, 90 and 99% (share) of the mirrors watched since before it; absent while not reached."), &["directory", "share"]).unwrap()),
            behind: reg(&r, IntGaugeVec::new(Opts::new("mirror_checker_directory_behind_mirrors", "Mirrors watched since before the current version of each directory was published that do not serve it yet."), &["directory"]).unwrap()),
            coverage: reg(&r, IntGaugeVec::new(Opts::new("mirror_checker_directory_mirrors", "Mirrors listed as up to date for each catalog directory in the last snapshot."), &["directory"]).unwrap()),
            notifications: reg(&r, IntCounterVec::new(Opts::new("mirror_checker_notifications_total", "Messages to operators this checker tried to deliver, by result: sent, retried (the relay failed; tried again with backoff), given_up (still failing a day after it was written: shown on the mirror's page)."), &["result"]).unwrap()),
            outbox_waiting: reg(&r, IntGauge::new("mirror_checker_outbox_messages", "Messages to operators waiting to be delivered (neither sent nor given up).").unwrap()),
            outbox_oldest: reg(&r, IntGauge::new("mirror_checker_outbox_oldest_seconds", "Age of the oldest message waiting to be delivered; 0 with none. Alert: NotificationsBacklog.").unwrap()),
            maintenance: reg(&r, IntGaugeVec::new(Opts::new("mirror_checker_mirrors_in_maintenance", "Mirrors a maintenance window took out of the last snapshot: wholly (scope=mirror, including those waiting for a check after their window) or one protocol or family of them (scope=part)."), &["scope"]).unwrap()),
            upstream_age: reg(&r, IntGaugeVec::new(Opts::new("mirror_checker_upstream_age_seconds", "Seconds since the master's current repomd.xml of each directory was first seen."), &["directory"]).unwrap()),
            upstream_errors: reg(&r, IntGauge::new("mirror_checker_upstream_errors", "Directories whose master repomd.xml could not be read at the last scan.").unwrap()),
            snapshot_serial: reg(&r, IntGauge::new("mirror_checker_snapshot_serial", "Serial of the last published snapshot.").unwrap()),
            snapshots_refused: reg(&r, IntCounter::new("mirror_checker_snapshots_refused_total", "Snapshots not published because they grew past snapshot_growth_max times the size of the last one published.").unwrap()),
            snapshot_fresh: reg(&r, IntGauge::new("mirror_checker_snapshot_fresh_timestamp_seconds", "When the leader last published a snapshot or a heartbeat saying the last one still holds (Unix time).").unwrap()),
            leader: reg(&r, IntGauge::new("mirror_checker_leader", "1 while this checker leads: it scans the master and publishes snapshots.").unwrap()),
            claimed: reg(&r, IntCounter::new("mirror_checker_claimed_mirrors_total", "Due mirrors this checker claimed from the shared schedule.").unwrap()),
            ticks: reg(&r, IntCounterVec::new(Opts::new("mirror_checker_ticks_total", "Daemon ticks; ok=false when one failed (the store unreachable, say) and is retried."), &["ok"]).unwrap()),
            registry: r,
        };
        // Both series exist from the start: a panel or rule reading failed ticks has a 0.
        for ok in ["true", "false"] {
            m.ticks.with_label_values(&[ok]);
        }
        for result in ["sent", "retried", "given_up"] {
            m.notifications.with_label_values(&[result]);
        }
        m
    }

    pub fn leader(&self, leader: bool) {
        self.leader.set(leader as i64);
    }

    pub fn claimed(&self, n: usize) {
        self.claimed.inc_by(n as u64);
    }

    pub fn tick(&self, ok: bool) {
        self.ticks
            .with_label_values(&[if ok { "true" } else { "false" }])
            .inc();
    }

    pub fn crawl(&self, seconds: f64, judgement: &crate::crawl::Judgement) {
        self.crawl_seconds.set(seconds);
        for (outcome, n) in &judgement.by_outcome {
            self.checks
                .with_label_values(&[outcome.as_str()])
                .inc_by(*n as u64);
        }
        self.runs
            .with_label_values(&[if judgement.run.ignored {
                "false"
            } else {
                "true"
            }])
            .inc();
        self.requests.inc_by(judgement.run.requests as u64);
        self.bytes.inc_by(judgement.run.bytes as u64);
        self.not_modified.inc_by(judgement.run.not_modified as u64);
    }

    pub fn health(&self, records: &[HealthRecord]) {
        self.mirrors.reset();
        let mut counts: HashMap<(&str, HealthState), i64> = HashMap::new();
        for r in records {
            *counts.entry((r.capability.as_str(), r.state)).or_default() += 1;
        }
        for ((capability, state), n) in counts {
            self.mirrors
                .with_label_values(&[capability, state.as_str()])
                .set(n);
        }
    }

    /// A heartbeat: the last snapshot still holds as of `at`.
    pub fn notifications(
        &self,
        sent: usize,
        retried: usize,
        gave_up: usize,
        (waiting, oldest): (i64, Option<i64>),
        now: i64,
    ) {
        for (result, n) in [("sent", sent), ("retried", retried), ("given_up", gave_up)] {
            self.notifications
                .with_label_values(&[result])
                .inc_by(n as u64);
        }
        self.outbox_waiting.set(waiting);
        self.outbox_oldest
            .set(oldest.map_or(0, |o| (now - o).max(0)));
    }

    pub fn heartbeat(&self, at: i64) {
        self.snapshot_fresh.set(at);
    }

    pub fn snapshot(&self, snap: &Snapshot) {
        self.snapshot_serial.set(snap.serial as i64);
        self.snapshot_fresh.set(snap.created_at);
        let (whole, part) = shared::snapshot::maintenance::count(snap);
        self.maintenance
            .with_label_values(&["mirror"])
            .set(whole as i64);
        self.maintenance
            .with_label_values(&["part"])
            .set(part as i64);
        // Shares not reached any more (a new version) disappear.
        self.propagation.reset();
        for (i, d) in snap.catalog.directories.iter().enumerate() {
            if d.vault_only {
                continue;
            }
            let dir = &snap.directories[i];
            self.coverage
                .with_label_values(&[&d.path])
                .set(dir.mirrors.len() as i64);
            if let Some(p) = &dir.propagation {
                self.behind
                    .with_label_values(&[&d.path])
                    .set(p.behind.len() as i64);
                for (share, reached) in [("0.5", p.p50), ("0.9", p.p90), ("0.99", p.p99)] {
                    if let Some(secs) = reached {
                        self.propagation
                            .with_label_values(&[&d.path, share])
                            .set(secs);
                    }
                }
            }
        }
    }

    pub fn upstream(
        &self,
        paths: &HashMap<i64, String>,
        history: &HashMap<i64, Vec<RepomdVersion>>,
        errors: usize,
        now: i64,
    ) {
        self.upstream_errors.set(errors as i64);
        for (id, versions) in history {
            if let (Some(path), Some(current)) = (paths.get(id), versions.first()) {
                self.upstream_age
                    .with_label_values(&[path])
                    .set(now - current.first_seen);
            }
        }
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

/// Serves `/metrics` on `listener` under `limits` until `cancel` fires.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Metrics,
    limits: listen::Limits,
    cancel: tokio_util::sync::CancellationToken,
) {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let m = metrics.clone();
            async move {
                (
                    [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    m.render(),
                )
            }
        }),
    );
    listen::http1::serve(listener, app, limits, "metrics", cancel.cancelled()).await;
}
