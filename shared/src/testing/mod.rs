//! Helpers for tests and benchmarks in every crate of the workspace: where the shared test data
//! (the real AlmaLinux registry, GeoIP databases) lives, and how a test that cannot run says so.
//!
//! A test that lacks what it needs calls [`skip`]: under CI (`CI` set) that is a failure,
//! since CI installs everything; elsewhere it prints why and records the test in the file
//! `MIRRORS_TEST_SKIP_LOG` names, so `scripts/test` counts it as skipped, not passed.

use std::path::PathBuf;

/// The workspace root (the folder holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the shared crate sits inside the workspace")
        .to_path_buf()
}

/// The running test cannot run here, for `reason`: a failure under CI; elsewhere printed and
/// recorded as skipped. The caller returns after it.
pub fn skip(reason: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    if std::env::var_os("CI").is_some() {
        panic!("{test} must run under CI, but {reason}");
    }
    eprintln!("skipped: {test}: {reason}");
    if let Some(log) = std::env::var_os("MIRRORS_TEST_SKIP_LOG") {
        use std::io::Write;
        let line = format!("{test}\t{}\n", reason.replace(['\n', '\t'], " "));
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// `all` for assertions: false when there is nothing to test, since an `all` over an empty
/// list proves nothing (a test that finds no mirrors must not pass by finding none).
pub trait AllOf: Iterator + Sized {
    fn all_of(self, mut pred: impl FnMut(Self::Item) -> bool) -> bool {
        let mut any = false;
        for item in self {
            any = true;
            if !pred(item) {
                return false;
            }
        }
        any
    }
}

impl<I: Iterator> AllOf for I {}

/// The folder of external test data (the real registry, whole-Internet GeoIP databases):
/// `MIRRORS_DATA` when set, else `../shared/data` beside the project. The scripts read the
/// same variable.
pub fn data_dir() -> PathBuf {
    std::env::var_os("MIRRORS_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/data"))
}

/// `<data>/<rel>` ([`data_dir`]), or `None` when absent, the test then being skipped (see
/// [`skip`]: under CI that fails the test).
pub fn shared_data(rel: &str) -> Option<PathBuf> {
    let path = data_dir().join(rel);
    if path.exists() {
        Some(path)
    } else {
        skip(&format!(
            "{} is not present beside the project",
            path.display()
        ));
        None
    }
}

/// Files shipped with the project under `deploy/examples`.
pub fn example(rel: &str) -> PathBuf {
    workspace_root().join("deploy/examples").join(rel)
}

/// A snapshot input in which every mirror holds every directory it has a URL for, at the one
/// version `version_of` gives (directories it gives none for have no version and no mirrors),
/// over healthy HTTP, HTTPS, IPv4 and IPv6. For tests and benchmarks of the server.
pub fn all_current_input(
    catalog: crate::catalog::Catalog,
    mirrors: Vec<crate::registry::Mirror>,
    version_of: impl Fn(&crate::catalog::Directory) -> Option<crate::model::RepomdVersion>,
) -> crate::snapshot::SnapshotInput {
    use crate::model::CheckOutcome;
    use crate::model::HealthState;
    use crate::registry::Protocol;
    use crate::snapshot::{CapabilityState, DirCheck};
    let mirrors: Vec<(i64, crate::registry::Mirror)> = mirrors
        .into_iter()
        .enumerate()
        .map(|(i, m)| (i as i64, m))
        .collect();
    let mut history = std::collections::HashMap::new();
    let mut checks = Vec::new();
    for (i, d) in catalog.mirrored() {
        let Some(version) = version_of(d) else {
            continue;
        };
        let sha: std::sync::Arc<str> = version.sha256.as_str().into();
        for (id, m) in &mirrors {
            for protocol in [Protocol::Http, Protocol::Https] {
                if m.base_url(d.module.as_deref(), protocol).is_some() {
                    checks.push(DirCheck {
                        mirror_id: *id,
                        directory_id: i as i64,
                        protocol,
                        outcome: CheckOutcome::Current,
                        sha256: Some(sha.clone()),
                        good_sha256: Some(sha.clone()),
                        versions_behind: Some(0),
                        lag_seconds: Some(0),
                        http_status: Some(200),
                        error: None,
                    });
                }
            }
        }
        history.insert(i as i64, vec![version]);
    }
    let health = mirrors
        .iter()
        .flat_map(|(id, _)| {
            ["http", "https", "ipv4", "ipv6"].map(|capability| CapabilityState {
                mirror_id: *id,
                capability: capability.into(),
                state: HealthState::Up,
                reason: String::new(),
                since: 0,
            })
        })
        .collect();
    crate::snapshot::SnapshotInput {
        directory_ids: catalog
            .directories
            .iter()
            .enumerate()
            .map(|(i, d)| (d.path.clone(), i as i64))
            .collect(),
        catalog,
        mirrors,
        history,
        checks,
        health,
        fetched_subnets: std::collections::HashMap::new(),
        expired: std::collections::HashMap::new(),
        located: std::collections::HashMap::new(),
        activity: std::collections::HashMap::new(),
        arrivals: Vec::new(),
        maintenance: std::collections::HashMap::new(),
    }
}

/// Makes `mirror_id`'s copy of the directory at `path` missing (a 404) in `input`.
pub fn make_missing(input: &mut crate::snapshot::SnapshotInput, mirror_id: i64, path: &str) {
    let dir = input.directory_ids[path];
    for c in input
        .checks
        .iter_mut()
        .filter(|c| c.mirror_id == mirror_id && c.directory_id == dir)
    {
        c.outcome = crate::model::CheckOutcome::Missing;
        c.http_status = Some(404);
        c.sha256 = None;
        c.good_sha256 = None;
    }
}

/// Takes `mirror_id`'s `capability` down in `input`, for `reason`, since `since`.
pub fn take_down(
    input: &mut crate::snapshot::SnapshotInput,
    mirror_id: i64,
    capability: &str,
    reason: &str,
    since: i64,
) {
    for h in input
        .health
        .iter_mut()
        .filter(|h| h.mirror_id == mirror_id && h.capability == capability)
    {
        h.state = crate::model::HealthState::Down;
        h.reason = reason.into();
        h.since = since;
    }
}

pub mod smtp;
