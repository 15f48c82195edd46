//! Helpers for the end-to-end tests: the workspace's programs as child processes, nginx sites
//! on loopback, tiny RPM repositories, HTTP on loopback, bounded waits. (Test support only,
//! hence one file a reader of any of the end-to-end tests can scan.)
//!
//! The tests run real tools (dnf, rpmbuild, createrepo_c, nginx, PostgreSQL). Where one is
//! missing they say which and how to get it, and skip; under CI (`CI` set) a missing tool is
//! a failure, because `.ci/run` installs them all.

pub mod browser;
mod control;
mod http;
mod nginx;
mod postgres;
mod proc;
mod rpms;
mod sim;

pub use control::*;
pub use http::*;
pub use nginx::*;
pub use postgres::*;
pub use proc::*;
pub use rpms::*;
pub use sim::*;

use sha2::{Digest, Sha256};
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// True when every tool is on PATH (and, with `root`, the test runs as root). Otherwise prints
/// why the test is skipped and returns false, or panics under CI.
pub fn tools_present(tools: &[&str], root: bool) -> bool {
    let mut missing: Vec<String> = tools
        .iter()
        .filter(|t| which(t).is_none())
        .map(|t| t.to_string())
        .collect();
    if root && !is_root() {
        missing.push("root (dnf installs into an install root and counts only as root)".into());
    }
    if missing.is_empty() {
        return true;
    }
    shared::testing::skip(&format!(
        "it needs {}; `./scripts/test` installs the tools as root \
         (apt-get install -y dnf dnf-plugins-core createrepo-c rpm nginx postgresql chromium \
         chromium-driver)",
        missing.join(", ")
    ));
    false
}

pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A program of this workspace, next to the test binaries (`./scripts/test` builds them;
/// by hand: `cargo build --workspace --bins`).
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the programs first (cargo build --workspace --bins)",
        path.display()
    );
    path
}

/// The project's root folder.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A port that was free a moment ago, for servers that cannot bind port 0 and say which
/// port they got (nginx, PostgreSQL): whoever starts one with it retries with another when
/// the port was taken in between. This workspace's programs bind port 0 and print their
/// address instead ([`Proc::server_address`], [`Proc::metrics_address`]). A process never
/// gets one port twice: the kernel may hand a closed port out again, and two sites given one
/// port would be one nginx server answering for both (nginx accepts the same `listen` twice).
pub fn candidate_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out after {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn sha256_file(path: &Path) -> String {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A temporary folder for a test's world, kept (and its path printed) when `E2E_KEEP` is set,
/// to look at the logs after a failure.
pub fn test_dir() -> tempfile::TempDir {
    let mut dir = tempfile::Builder::new().prefix("e2e-").tempdir().unwrap();
    if std::env::var_os("E2E_KEEP").is_some() {
        dir.disable_cleanup(true);
        eprintln!("keeping {}", dir.path().display());
    }
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two sites given one port would be one nginx server answering for both (nginx accepts
    /// the same `listen` twice): a test would then see one site's tree under another's name.
    #[test]
    fn candidate_ports_are_never_handed_out_twice() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..3000 {
            let port = candidate_port();
            assert!(seen.insert(port), "port {port} handed out twice");
        }
    }
}
