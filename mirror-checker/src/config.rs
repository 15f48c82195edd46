//! The checker's configuration file. Every setting has a default; command-line flags and
//! environment variables override the file.

use crate::crawl::CrawlConfig;
use crate::health::Thresholds;
use crate::http::HttpConfig;
use crate::upstream::MasterConfig;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Database URL: `sqlite://FILE` (the embedded default) or `postgres://...`.
    pub database: String,
    /// Where snapshots are published.
    pub snapshot_path: PathBuf,
    pub master: MasterConfig,
    pub http: HttpConfig,
    pub crawl: CrawlConfig,
    pub health: Thresholds,
    pub daemon: DaemonConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonConfig {
    /// Each mirror is checked once per interval; mirrors are spread over it.
    pub interval_secs: u64,
    /// How often the master is scanned for new versions.
    pub master_interval_secs: u64,
    /// How often results gathered since the last batch are applied and a snapshot published.
    pub publish_interval_secs: u64,
    /// Where Prometheus metrics are served (`127.0.0.1:9464`); off when empty.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// This checker's name among those sharing the store; empty: `HOSTNAME-PID`.
    pub checker_id: String,
    /// A newly registered mirror is first checked within this many seconds.
    pub first_check_within_secs: u64,
    /// A checker claims at most this many due mirrors at a time, so that several checkers
    /// share a round.
    pub batch_max: usize,
    /// How long a claim (and the leader's role) lasts without being completed or renewed:
    /// a checker that dies gives its mirrors back after this. Longer than a batch takes.
    pub lease_secs: u64,
}

impl DaemonConfig {
    /// When mirrors are checked.
    pub fn schedule(&self) -> shared::store::Schedule {
        shared::store::Schedule {
            interval: self.interval_secs.max(1),
            first_within: self.first_check_within_secs,
        }
    }
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            interval_secs: 900,
            master_interval_secs: 300,
            publish_interval_secs: 60,
            metrics_listen: None,
            checker_id: String::new(),
            first_check_within_secs: 300,
            batch_max: 100,
            lease_secs: 600,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database: "sqlite://var/mirrors.db".into(),
            snapshot_path: PathBuf::from("var/snapshot.bin"),
            master: MasterConfig::default(),
            http: HttpConfig::default(),
            crawl: CrawlConfig::default(),
            health: Thresholds::default(),
            daemon: DaemonConfig::default(),
        }
    }
}

impl Config {
    pub fn load(cli: &crate::Cli) -> Result<Config, String> {
        let mut config: Config = shared::telemetry::load_config(cli.config.as_deref())?;
        if let Some(db) = &cli.database {
            config.database = db.clone();
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_is_valid_and_matches_the_defaults() {
        let path = shared::testing::example("checker.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let example: Config = toml::from_str(&text).unwrap();
        let defaults = Config::default();
        assert_eq!(example.database, defaults.database);
        assert_eq!(example.crawl.concurrency, defaults.crawl.concurrency);
        assert_eq!(
            example.crawl.ignore_failure_ratio,
            defaults.crawl.ignore_failure_ratio
        );
        assert_eq!(
            example.http.total_timeout_ms,
            defaults.http.total_timeout_ms
        );
        assert_eq!(example.daemon.interval_secs, defaults.daemon.interval_secs);
        assert_eq!(example.health.down_after, defaults.health.down_after);
        assert!(toml::from_str::<Config>("[crawl]\nconcurency = 3\n")
            .unwrap_err()
            .to_string()
            .contains("unknown field"));
    }
}
