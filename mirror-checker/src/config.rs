//! The checker's configuration file. Every setting has a default; command-line flags and
//! environment variables (prefix `MIRROR_CHECKER_`) override the file. Durations are written
//! as people write them (`"15m"`, `"200ms"`) and parsed when the file is read.

use crate::crawl::CrawlConfig;
use crate::error::{Error, Result};
use crate::health::Thresholds;
use crate::http::HttpConfig;
use crate::upstream::MasterConfig;
use serde::Deserialize;
use shared::duration::Human;
use std::path::{Path, PathBuf};
use store::Store;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Database URL: `sqlite://FILE` (the embedded default) or `postgres://...`.
    pub database: String,
    /// Where snapshots are published.
    pub snapshot_path: PathBuf,
    /// An Ed25519 private key (PEM, from `mirror-checker keygen` or OpenSSL): every snapshot
    /// and heartbeat is signed with it, for servers given the public key.
    pub snapshot_signing_key: Option<PathBuf>,
    /// A snapshot more than this many times the size of the last one published is not
    /// published (a registry inflated by one file must not stop the distribution's
    /// updates: replicas refuse oversized snapshots); `0`: no bound.
    pub snapshot_growth_max: f64,
    /// Snapshots up to this many bytes are published whatever their growth (a new network
    /// grows many times over as its first checks come in).
    pub snapshot_growth_floor_bytes: u64,
    pub master: MasterConfig,
    pub http: HttpConfig,
    pub crawl: CrawlConfig,
    pub health: Thresholds,
    pub daemon: DaemonConfig,
    pub registry: RegistryConfig,
    pub control: crate::control::config::ControlConfig,
}

/// What a registry file may say beyond its format.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// A private or monopoly mirror's IPv4 networks may be no wider than this prefix.
    pub min_prefix_v4: u8,
    /// The same for IPv6.
    pub min_prefix_v6: u8,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        let rules = shared::registry::Rules::default();
        RegistryConfig {
            min_prefix_v4: rules.min_prefix_v4,
            min_prefix_v6: rules.min_prefix_v6,
        }
    }
}

impl Config {
    /// The registry's rules: these prefixes, and `[http] allow_internal` for mirror URLs.
    pub fn registry_rules(&self) -> shared::registry::Rules {
        shared::registry::Rules {
            min_prefix_v4: self.registry.min_prefix_v4,
            min_prefix_v6: self.registry.min_prefix_v6,
            allow_internal: self.http.allow_internal.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonConfig {
    /// Each mirror is checked once per interval; mirrors are spread over it.
    pub interval: Human,
    /// How often the master is scanned for new versions (the scan is cheap: by default every
    /// tick, so that the master rarely publishes twice between two scans).
    pub master_interval: Human,
    /// The daemon's tick: claim what is due, check it, apply; the leader publishes when
    /// anything changed.
    pub tick: Human,
    /// Where Prometheus metrics are served (`127.0.0.1:9464`); off when empty.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Where the latest snapshot this checker published is served over HTTP for servers'
    /// `--snapshot-url` (`/snapshot` and its heartbeat `/snapshot.fresh`); off when empty.
    pub publish_listen: Option<std::net::SocketAddr>,
    /// This checker's name among those sharing the store; empty: `HOSTNAME-PID`.
    pub checker_id: String,
    /// A newly registered mirror is first checked within this long.
    pub first_check_within: Human,
    /// A checker claims at most this many due mirrors at a time, so that several checkers
    /// share a round.
    pub batch_max: usize,
    /// How long a claim (and the leader's role) lasts without being completed or renewed:
    /// a checker that dies gives its mirrors back after this. Longer than a batch takes.
    pub lease: Human,
    /// The metrics and publication listeners close a connection that has not sent a whole
    /// request head within this long (idle keep-alives included), or that takes an answer
    /// and reads none of it for this long.
    pub listen_header_timeout: Human,
    /// Connections each of those listeners holds at most (at the cap the oldest idle one
    /// makes room); never more than an eighth of the open-files limit, so that a flood on
    /// them leaves the crawl its descriptors.
    pub listen_max_connections: usize,
}

impl DaemonConfig {
    /// What the metrics and publication listeners hold each connection to. The open-files
    /// limit is raised to its hard limit first; each listener admits at most an eighth of it (and
    /// holds half that again while shed connections close), so that a flood on both leaves the
    /// crawl, the store and the snapshot files more than half of it.
    pub fn listener_limits(&self) -> listen::Limits {
        let open_files = listen::raise_fd_limit().unwrap_or(u64::MAX);
        let eighth = usize::try_from(open_files / 8).unwrap_or(usize::MAX);
        listen::Limits {
            max_connections: self.listen_max_connections.min(eighth).max(1),
            header_timeout: self.listen_header_timeout.into(),
        }
    }

    /// When mirrors are checked.
    pub fn schedule(&self) -> store::Schedule {
        store::Schedule {
            interval: self.interval.as_secs().max(1),
            first_within: self.first_check_within.as_secs(),
        }
    }
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            interval: Human::secs(900),
            master_interval: Human::secs(60),
            tick: Human::secs(60),
            metrics_listen: None,
            publish_listen: None,
            checker_id: String::new(),
            first_check_within: Human::secs(300),
            batch_max: 100,
            lease: Human::secs(600),
            listen_header_timeout: Human::secs(10),
            listen_max_connections: 256,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database: "sqlite://var/mirrors.db".into(),
            snapshot_path: PathBuf::from("var/snapshot.bin"),
            snapshot_signing_key: None,
            snapshot_growth_max: 4.0,
            snapshot_growth_floor_bytes: 1 << 20,
            master: MasterConfig::default(),
            http: HttpConfig::default(),
            crawl: CrawlConfig::default(),
            health: Thresholds::default(),
            daemon: DaemonConfig::default(),
            registry: RegistryConfig::default(),
            control: crate::control::config::ControlConfig::default(),
        }
    }
}

impl Config {
    pub fn load(cli: &crate::Cli) -> Result<Config> {
        let mut config: Config =
            shared::config::load(cli.config.as_deref()).map_err(Error::Config)?;
        if let Some(db) = &cli.database {
            config.database = db.clone();
        }
        Ok(config)
    }

    /// Opens the store (creating a SQLite file and its folder on first use).
    pub async fn open_store(&self) -> Result<Store> {
        prepare_sqlite_dir(&self.database)?;
        let store = Store::open(&self.database)
            .await
            .map_err(|source| Error::Open {
                url: redact(&self.database),
                source,
            })?;
        Ok(store)
    }

    /// Opens a store that must exist already, for commands that only read it: a mistyped
    /// `--database` is an error, not a new empty store.
    pub async fn open_existing_store(&self) -> Result<Store> {
        if let Some(path) = sqlite_file(&self.database) {
            if !path.is_file() {
                return Err(Error::NoStore(path.to_path_buf()));
            }
        }
        self.open_store().await
    }
}

/// `e`, with who holds `store` when a write was kept waiting.
pub async fn explain(store: &Store, e: Error) -> Error {
    match e {
        Error::Store(e) => Error::Store(store.explain(e).await),
        e => e,
    }
}

/// The file of a SQLite URL (`None` for other databases).
fn sqlite_file(url: &str) -> Option<&Path> {
    if url.contains("://") && !url.starts_with("sqlite:") {
        return None;
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    Some(Path::new(path.split('?').next().unwrap_or(path)))
}

/// Makes sure the folder of a SQLite file exists, so a first run just works.
fn prepare_sqlite_dir(url: &str) -> Result<()> {
    let Some(path) = sqlite_file(url) else {
        return Ok(());
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(Error::io("cannot create", parent))?;
    }
    Ok(())
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => url.to_string(),
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
        // Every setting, as documented in the example, is its default.
        assert_eq!(example, Config::default());
        assert!(toml::from_str::<Config>("[crawl]\nconcurency = 3\n")
            .unwrap_err()
            .to_string()
            .contains("unknown field"));
        assert!(
            toml::from_str::<Config>("[daemon]\ninterval = \"15 minutes\"\n")
                .unwrap_err()
                .to_string()
                .contains("not a duration")
        );
    }
}
