//! The server's Prometheus metrics. Labels are bounded: endpoints, status classes, tiers.

use crate::refusal::Endpoint;
use crate::select::Tier;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};
use shared::snapshot::Snapshot;

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub tiers: IntCounterVec,
    pub geoip_misses: IntCounter,
    pub countme: IntCounterVec,
    pub snapshot_serial: IntGauge,
    pub snapshot_created: IntGauge,
    pub snapshot_fresh: IntGauge,
    pub swaps: IntCounter,
    pub in_maintenance: prometheus::IntGaugeVec,
    pub snapshot_fetches: IntCounterVec,
    pub swap_seconds: prometheus::Gauge,
    pub swap_cpu_seconds: prometheus::Gauge,
    pub geoip_loaded: IntGauge,
    pub geoip_built: IntGauge,
    pub asn_loaded: IntGauge,
    pub geoip_loads: IntCounter,
    pub connections_open: IntGauge,
    pub connections_shed: IntCounter,
    pub connections_refused: IntCounter,
    pub accept_errors: IntCounter,
    /// Children of the vectors above that every request touches, looked up once.
    pub hot: Hot,
}

/// Per [`Endpoint`]: answered 200, and the latency histogram; per [`Tier`] of the first
/// mirror, then one for answers with no mirror (`none`).
#[derive(Clone)]
pub struct Hot {
    pub ok: [IntCounter; 2],
    pub latency: [prometheus::Histogram; 2],
    pub tiers: [IntCounter; 7],
}

fn reg<T: prometheus::core::Collector + Clone + 'static>(r: &Registry, m: T) -> T {
    r.register(Box::new(m.clone()))
        .expect("metric names are unique");
    m
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let requests = reg(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "mirrorlist_requests_total",
                    "Requests by endpoint and HTTP status.",
                ),
                &["endpoint", "status"],
            )
            .unwrap(),
        );
        let latency = reg(
            &r,
            HistogramVec::new(
                HistogramOpts::new(
                    "mirrorlist_request_duration_seconds",
                    "Time to answer a request, by endpoint.",
                )
                .buckets(vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1,
                ]),
                &["endpoint"],
            )
            .unwrap(),
        );
        let tiers = reg(&r, IntCounterVec::new(Opts::new("mirrorlist_answers_by_tier_total", "Answers by the tier of their first mirror (netblock, asn, cloud, country, continent, global, none)."), &["tier"]).unwrap());
        let hot = Hot {
            ok: Endpoint::ALL.map(|e| requests.with_label_values(&[e.as_str(), "200"])),
            latency: Endpoint::ALL.map(|e| latency.with_label_values(&[e.as_str()])),
            tiers: std::array::from_fn(|i| {
                let name = Tier::ALL.get(i).map_or("none", |t| t.as_str());
                tiers.with_label_values(&[name])
            }),
        };
        let m = Metrics {
            requests,
            latency,
            tiers,
            geoip_misses: reg(&r, IntCounter::new("mirrorlist_geoip_misses_total", "Client addresses the GeoIP database could not place (or no database loaded).").unwrap()),
            countme: reg(&r, IntCounterVec::new(Opts::new("mirrorlist_countme_total", "dnf countme requests by repo, release, arch and bucket: the basis of user counting."), &["repo", "release", "arch", "bucket"]).unwrap()),
            snapshot_serial: reg(&r, IntGauge::new("mirrorlist_snapshot_serial", "Serial of the snapshot in use.").unwrap()),
            snapshot_created: reg(&r, IntGauge::new("mirrorlist_snapshot_created_timestamp_seconds", "When the snapshot in use was built (Unix time).").unwrap()),
            snapshot_fresh: reg(&r, IntGauge::new("mirrorlist_snapshot_fresh_timestamp_seconds", "As of when the snapshot in use is known to be the network's state: when it was built, or the checker's last heartbeat saying nothing changed (Unix time). Alert on its age.").unwrap()),
            swaps: reg(&r, IntCounter::new("mirrorlist_snapshot_swaps_total", "Snapshots put in use.").unwrap()),
            in_maintenance: reg(&r, prometheus::IntGaugeVec::new(Opts::new("mirrorlist_mirrors_in_maintenance", "Mirrors a maintenance window takes out of the answers now: wholly (scope=mirror) or one protocol or family of them (scope=part), or since its end until a check finds them current."), &["scope"]).unwrap()),
            snapshot_fetches: reg(&r, IntCounterVec::new(Opts::new("mirrorlist_snapshot_fetches_total", "Polls of --snapshot-url sources by result: new (a newer snapshot fetched), unchanged, failed (source unreachable or broken), refused (no whole valid snapshot: unsigned, wrongly signed, corrupted, foreign or oversized: alert), behind (a snapshot built later than the one held but with a lower serial: the checker's store was rebuilt; alert)."), &["result"]).unwrap()),
            swap_seconds: reg(&r, prometheus::Gauge::new("mirrorlist_snapshot_load_seconds", "Time the last snapshot took to read, verify and index before it was swapped in.").unwrap()),
            swap_cpu_seconds: reg(&r, prometheus::Gauge::new("mirrorlist_snapshot_load_cpu_seconds", "CPU time the last snapshot's read, verification and indexing took (its load time less the waits for a core).").unwrap()),
            geoip_loaded: reg(&r, IntGauge::new("mirrorlist_geoip_loaded", "1 when a GeoIP database is in use; 0 means answers are chosen without client locations.").unwrap()),
            geoip_built: reg(&r, IntGauge::new("mirrorlist_geoip_build_timestamp_seconds", "When the GeoIP database in use was built, by its metadata (Unix time; 0 with none): alert when it is old.").unwrap()),
            asn_loaded: reg(&r, IntGauge::new("mirrorlist_asn_loaded", "1 when an ASN database is in use.").unwrap()),
            geoip_loads: reg(&r, IntCounter::new("mirrorlist_geoip_loads_total", "GeoIP databases put in use (at start and each reload).").unwrap()),
            connections_open: reg(&r, IntGauge::new("mirrorlist_connections_open", "Client connections open.").unwrap()),
            connections_shed: reg(&r, IntCounter::new("mirrorlist_connections_shed_total", "Idle connections closed to make room at the connection cap (oldest first).").unwrap()),
            connections_refused: reg(&r, IntCounter::new("mirrorlist_connections_refused_total", "Connections turned away at the cap with none idle to shed.").unwrap()),
            accept_errors: reg(&r, IntCounter::new("mirrorlist_accept_errors_total", "Failed accepts (out of file descriptors and the like).").unwrap()),
            registry: r,
            hot,
        };
        // Every result has a series from the start (0 until it happens): alerts on
        // `refused` need one to compare with.
        for result in ["new", "unchanged", "failed", "refused", "behind"] {
            m.snapshot_fetches.with_label_values(&[result]);
        }
        m
    }

    pub fn snapshot(&self, snap: &Snapshot) {
        self.snapshot_serial.set(snap.serial as i64);
        self.snapshot_created.set(snap.created_at);
        self.snapshot_fresh.set(snap.created_at);
        self.swaps.inc();
        let (whole, part) = shared::snapshot::maintenance::count(snap);
        self.in_maintenance
            .with_label_values(&["mirror"])
            .set(whole as i64);
        self.in_maintenance
            .with_label_values(&["part"])
            .set(part as i64);
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}
