//! Helpers for tests and benchmarks in every crate of the workspace: where the shared test data
//! (the real AlmaLinux registry, GeoIP databases) lives.

use std::path::PathBuf;

/// The workspace root (the folder holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the shared crate sits inside the workspace")
        .to_path_buf()
}

/// `../shared/data/<rel>` beside the project, or `None` with a printed reason when absent.
pub fn shared_data(rel: &str) -> Option<PathBuf> {
    let path = workspace_root().join("../shared/data").join(rel);
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "skipped: {} is not present beside the project",
            path.display()
        );
        None
    }
}

/// Files shipped with the project under `deploy/examples`.
pub fn example(rel: &str) -> PathBuf {
    workspace_root().join("deploy/examples").join(rel)
}
