//! The checker's configuration file. Every setting has a default; command-line flags and
//! environment variables override the file.

use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Database URL: `sqlite://FILE` (the embedded default) or `postgres://...`.
    pub database: String,
    /// Where `snapshot` publishes by default.
    pub snapshot_path: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database: "sqlite://var/mirrors.db".into(),
            snapshot_path: PathBuf::from("var/snapshot.bin"),
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
