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

/// A fresh, empty store for a test on each available backend: SQLite always; PostgreSQL when
/// `MIRRORS_TEST_POSTGRES_URL` names a server where databases may be created (CI always sets
/// it, and there its absence is a failure, not a skip).
pub async fn test_stores(label: &str) -> Vec<(crate::store::Backend, crate::store::Store)> {
    let mut stores = vec![(
        crate::store::Backend::Sqlite,
        sqlite_test_store(label).await,
    )];
    if let Some(store) = postgres_test_store(label).await {
        stores.push((crate::store::Backend::Postgres, store));
    }
    stores
}

fn unique(label: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let clean: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "t_{clean}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A new SQLite store in a fresh temporary folder.
pub async fn sqlite_test_store(label: &str) -> crate::store::Store {
    let dir = std::env::temp_dir().join(unique(label));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    crate::store::Store::open(&format!("sqlite://{}", dir.join("store.db").display()))
        .await
        .expect("SQLite store opens")
}

/// The URL of a new, empty PostgreSQL database, or `None` (with the reason printed) when no
/// server was given.
pub async fn postgres_test_url(label: &str) -> Option<String> {
    use sqlx::Connection;
    let Ok(admin) = std::env::var("MIRRORS_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the PostgreSQL tests: set MIRRORS_TEST_POSTGRES_URL (scripts/pg-test-server start prints it)"
        );
        eprintln!("skipped PostgreSQL: MIRRORS_TEST_POSTGRES_URL is not set");
        return None;
    };
    sqlx::any::install_default_drivers();
    let name = unique(label);
    let mut conn = sqlx::AnyConnection::connect(&admin)
        .await
        .expect("the PostgreSQL test server answers");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("CREATE DATABASE");
    conn.close().await.ok();
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    Some(format!("{base}/{name}"))
}

async fn postgres_test_store(label: &str) -> Option<crate::store::Store> {
    let url = postgres_test_url(label).await?;
    Some(
        crate::store::Store::open(&url)
            .await
            .expect("PostgreSQL store opens"),
    )
}

/// A snapshot input in which every mirror holds every directory it has a URL for, at the one
/// version `version_of` gives (directories it gives none for have no version and no mirrors),
/// over healthy HTTP, HTTPS, IPv4 and IPv6. For tests and benchmarks of the server.
pub fn all_current_input(
    catalog: crate::catalog::Catalog,
    mirrors: Vec<crate::registry::Mirror>,
    version_of: impl Fn(&crate::catalog::Directory) -> Option<crate::store::RepomdVersion>,
) -> crate::snapshot::SnapshotInput {
    use crate::model::HealthState;
    use crate::registry::Protocol;
    use crate::snapshot::SeenCopy;
    use crate::store::HealthRecord;
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
        for (id, m) in &mirrors {
            for protocol in [Protocol::Http, Protocol::Https] {
                if m.base_url(d.module.as_deref(), protocol).is_some() {
                    checks.push(SeenCopy {
                        mirror_id: *id,
                        directory_id: i as i64,
                        protocol,
                        sha256: version.sha256.clone(),
                    });
                }
            }
        }
        history.insert(i as i64, vec![version]);
    }
    let health = mirrors
        .iter()
        .flat_map(|(id, _)| {
            ["http", "https", "ipv4", "ipv6"].map(|capability| HealthRecord {
                mirror_id: *id,
                capability: capability.into(),
                state: HealthState::Up,
                since: 0,
                reason: String::new(),
                consecutive_ok: 1,
                consecutive_failed: 0,
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
    }
}
