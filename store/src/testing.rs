//! Test helpers for every crate that uses the store: a fresh store per test on each backend.

/// A fresh, empty store for a test on each available backend: SQLite always; PostgreSQL when
/// `MIRRORS_TEST_POSTGRES_URL` names a server where databases may be created (CI always sets
/// it, and there its absence is a failure, not a skip).
pub async fn test_stores(label: &str) -> Vec<(crate::Backend, crate::Store)> {
    let mut stores = vec![(crate::Backend::Sqlite, sqlite_test_store(label).await)];
    if let Some(store) = postgres_test_store(label).await {
        stores.push((crate::Backend::Postgres, store));
    }
    stores
}

fn unique(label: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = shared::time::clock_noise();
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
pub async fn sqlite_test_store(label: &str) -> crate::Store {
    let dir = std::env::temp_dir().join(unique(label));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    crate::Store::open(&format!("sqlite://{}", dir.join("store.db").display()))
        .await
        .expect("SQLite store opens")
}

/// The URL of a new, empty PostgreSQL database, or `None` (with the reason printed) when no
/// server was given.
pub async fn postgres_test_url(label: &str) -> Option<String> {
    use sqlx::Connection;
    let Ok(admin) = std::env::var("MIRRORS_TEST_POSTGRES_URL") else {
        shared::testing::skip(
            "its PostgreSQL half needs MIRRORS_TEST_POSTGRES_URL (scripts/pg-test-server start prints it)",
        );
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

async fn postgres_test_store(label: &str) -> Option<crate::Store> {
    let url = postgres_test_url(label).await?;
    Some(
        crate::Store::open(&url)
            .await
            .expect("PostgreSQL store opens"),
    )
}
