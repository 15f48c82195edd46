//! The crawl's settings (`[crawl]`): how hard it may knock, when it gives up, the 70% rule,
//! the polite schedule, and where mirrors are placed from.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
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
        }
    }
}
