//! The example network's synthetic snapshot and the simulated network with its checker
//! settings, as several tests start them; and reading one series from a metrics page.

use super::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A snapshot of the example network in which every mirror is current everywhere
/// (`mirror-sim synthetic-snapshot`), written to `dir/snapshot.bin`.
pub fn example_snapshot(dir: &Path) -> PathBuf {
    let examples = project_root().join("deploy/examples");
    let snapshot = dir.join("snapshot.bin");
    let mut make = Command::new(workspace_bin("mirror-sim"));
    make.arg("synthetic-snapshot")
        .arg("--registry")
        .arg(examples.join("mirrors.d"))
        .arg("--catalog")
        .arg(examples.join("catalog.toml"))
        .arg("--out")
        .arg(&snapshot);
    run_ok(make, Duration::from_secs(60));
    snapshot
}

/// The example registry served by `mirror-sim serve` (realistic mix, filler packages) in
/// `dir/sim`, and a checker configuration reaching it, in `dir/checker.toml`, with short
/// timeouts and `extra` appended (a `[daemon]` section, say). The checker's store and
/// snapshot are `dir/mirrors.db` and `dir/snapshot.bin`.
pub struct SimNetwork {
    pub sim: Proc,
    pub config: PathBuf,
}

impl SimNetwork {
    pub fn start(dir: &Path, extra: &str, limit: Duration) -> SimNetwork {
        SimNetwork::start_with(dir, &[], extra, limit)
    }

    /// [`SimNetwork::start`] with more arguments for `mirror-sim serve`
    /// (`--publish-every N`, say).
    pub fn start_with(dir: &Path, sim_args: &[&str], extra: &str, limit: Duration) -> SimNetwork {
        let examples = project_root().join("deploy/examples");
        let mut sim = Command::new(workspace_bin("mirror-sim"));
        sim.args(["serve", "--mix", "realistic", "--synthetic-packages"])
            .args(sim_args)
            .arg("--registry")
            .arg(examples.join("mirrors.d"))
            .arg("--catalog")
            .arg(examples.join("catalog.toml"))
            .arg("--out")
            .arg(dir.join("sim"));
        let mut sim = Proc::spawn("mirror-sim", sim, &dir.join("sim.log"));
        sim.wait_for_log("serving", limit);
        let routes = fs::read_to_string(dir.join("sim/checker-network.toml")).unwrap();
        let config = dir.join("checker.toml");
        fs::write(
            &config,
            format!(
                "database = \"sqlite://{}\"\nsnapshot_path = \"{}\"\n\n{}\n[crawl]\nretries = 0\n\n{extra}",
                dir.join("mirrors.db").display(),
                dir.join("snapshot.bin").display(),
                routes.replace(
                    "[http]",
                    "[http]\nconnect_timeout = \"1s\"\nfirst_byte_timeout = \"2s\"\ntotal_timeout = \"3s\""
                )
            ),
        )
        .unwrap();
        SimNetwork { sim, config }
    }

    /// `mirror-checker --config CONFIG --log warn ARGS`.
    pub fn checker(&self, args: &[&str]) -> Command {
        let mut c = Command::new(workspace_bin("mirror-checker"));
        c.arg("--config")
            .arg(&self.config)
            .args(["--log", "warn"])
            .args(args);
        c
    }

    /// Makes a signing key at `key` (and `key.pub`) with `mirror-checker keygen` and has the
    /// checker sign its snapshots with it (a top-level setting: before every section).
    pub fn sign_snapshots(&self, key: &Path, limit: Duration) {
        let mut keygen = Command::new(workspace_bin("mirror-checker"));
        keygen.arg("keygen").arg(key);
        let out = run_ok(keygen, limit).text();
        assert!(out.contains("--snapshot-key"), "{out}");
        let config = fs::read_to_string(&self.config).unwrap();
        fs::write(
            &self.config,
            format!("snapshot_signing_key = \"{}\"\n{config}", key.display()),
        )
        .unwrap();
    }

    /// Loads the example catalog and imports the example registry into the checker's store.
    pub fn load_examples(&self, limit: Duration) {
        let examples = project_root().join("deploy/examples");
        let catalog = examples.join("catalog.toml").display().to_string();
        run_ok(self.checker(&["catalog", "load", &catalog]), limit);
        let registry = examples.join("mirrors.d").display().to_string();
        run_ok(
            self.checker(&["import-registry", &registry, "--sync"]),
            limit,
        );
    }
}

/// The value of one Prometheus sample (a metric name with its labels, as exposed), 0 when
/// absent.
pub fn metric(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}
