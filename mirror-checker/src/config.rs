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
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            interval_secs: 900,
            master_interval_secs: 300,
            publish_interval_secs: 60,
            metrics_listen: None,
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
