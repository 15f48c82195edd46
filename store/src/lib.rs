//! The store, the checker's state between runs: registry, catalog, upstream repodata history, check results, health and
//! published snapshots, in SQLite (the embedded default: one file, WAL) or PostgreSQL (when
//! several processes or machines share the state), behind one interface. Queries are written
//! once, in the SQL both accept; the schema lives in `migrations/` and is applied at open.

mod catalog;
mod changes;
mod control;
mod crawl_writer;
mod health;
mod located;
mod maintenance;
mod mirrors;
mod outbox;
mod ownership;
mod registrations;
mod results;
mod rows;

mod schedule;
mod snapshot_input;
mod snapshots;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod tokens;
mod upstream;
mod webhooks;
mod work;

pub use changes::PendingChange;
pub use control::{AuditEntry, LinkUse};
pub use crawl_writer::{CrawlRun, CrawlWriter, MirrorStats};
pub use health::{HealthEvent, HealthRecord};
pub use located::{FetchedSubnets, SubnetChange};
pub use maintenance::{MaintenanceWindow, WindowPlan};
pub use mirrors::ApplyOutcome;
pub use outbox::{Delivery, OutboxMessage, Outgoing};
pub use ownership::Ownership;
pub use registrations::{Registration, RegistrationState};
pub use results::CheckRecord;
pub use schedule::{Claim, Schedule, ScheduleRow};
pub use snapshot_input::{dir_check, Hashes};
pub use snapshots::SnapshotRecord;
pub use tokens::{ApiToken, TokenUse};
pub use webhooks::Webhook;
pub use work::{Holders, Work, STALE_SECS};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::AnyPool;
use sqlx::ConnectOptions;
use std::borrow::Cow;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How long a SQLite writer waits for another's write lock before giving up: well over the
/// longest write transaction (a crawl's last step, moving its staged results; measured in
/// BENCHMARKS.md).
pub const BUSY_TIMEOUT_SECS: u64 = 30;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        if let sqlx::Error::Database(db) = &e {
            // SQLITE_BUSY (5) and SQLITE_LOCKED (6).
            if matches!(db.code().as_deref(), Some("5" | "6")) {
                return StoreError::Busy(Holders::default());
            }
        }
        StoreError::Query(e)
    }
}

/// A database error said once: the database's own message without sqlx's wrapping.
fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: use sqlite://FILE or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("cannot open the database: {}", describe(.0))]
    Open(sqlx::Error),
    #[error("cannot apply the database schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {}", describe(.0))]
    Query(sqlx::Error),
    /// SQLite's write lock is held by another process for longer than the busy timeout;
    /// [`Store::explain`] says who is working on the store.
    #[error(
        "the store is locked: another process has held its write lock for longer than this one \
         waits{0}"
    )]
    Busy(Holders),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A handle to the store; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "registry catalog checks",
        include_str!("../migrations/sqlite/0001_registry_catalog_checks.sql"),
    ),
    (
        2,
        "crawl runs",
        include_str!("../migrations/sqlite/0002_crawl_runs.sql"),
    ),
    (
        3,
        "mirror crawl stats",
        include_str!("../migrations/sqlite/0003_mirror_crawl_stats.sql"),
    ),
    (
        4,
        "crawl schedule",
        include_str!("../migrations/sqlite/0004_crawl_schedule.sql"),
    ),
    (
        5,
        "verdicts placement",
        include_str!("../migrations/sqlite/0005_verdicts_placement.sql"),
    ),
    (
        6,
        "offhost redirects",
        include_str!("../migrations/sqlite/0006_offhost_redirects.sql"),
    ),
    (
        7,
        "crawl staging",
        include_str!("../migrations/sqlite/0007_crawl_staging.sql"),
    ),
    (
        8,
        "version arrivals, package samples, full rechecks",
        include_str!("../migrations/sqlite/0008_arrivals_samples.sql"),
    ),
    (
        9,
        "control plane",
        include_str!("../migrations/sqlite/0009_control_plane.sql"),
    ),
    (
        10,
        "registrations",
        include_str!("../migrations/sqlite/0010_registrations.sql"),
    ),
    (
        11,
        "api tokens",
        include_str!("../migrations/sqlite/0011_api_tokens.sql"),
    ),
    (
        12,
        "ownership recheck",
        include_str!("../migrations/sqlite/0012_ownership_recheck.sql"),
    ),
    (
        13,
        "pending changes",
        include_str!("../migrations/sqlite/0013_pending_changes.sql"),
    ),
    (
        14,
        "admin holds",
        include_str!("../migrations/sqlite/0014_admin_holds.sql"),
    ),
    (
        15,
        "mirror revision",
        include_str!("../migrations/sqlite/0015_mirror_revision.sql"),
    ),
    (
        16,
        "maintenance windows",
        include_str!("../migrations/sqlite/0016_maintenance_windows.sql"),
    ),
    (
        17,
        "outbox",
        include_str!("../migrations/sqlite/0017_outbox.sql"),
    ),
    (
        18,
        "mail opt-outs",
        include_str!("../migrations/sqlite/0018_mail_optouts.sql"),
    ),
    (
        19,
        "webhooks",
        include_str!("../migrations/sqlite/0019_webhooks.sql"),
    ),
];

const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "registry catalog checks",
        include_str!("../migrations/postgres/0001_registry_catalog_checks.sql"),
    ),
    (
        2,
        "crawl runs",
        include_str!("../migrations/postgres/0002_crawl_runs.sql"),
    ),
    (
        3,
        "mirror crawl stats",
        include_str!("../migrations/postgres/0003_mirror_crawl_stats.sql"),
    ),
    (
        4,
        "crawl schedule",
        include_str!("../migrations/postgres/0004_crawl_schedule.sql"),
    ),
    (
        5,
        "verdicts placement",
        include_str!("../migrations/postgres/0005_verdicts_placement.sql"),
    ),
    (
        6,
        "offhost redirects",
        include_str!("../migrations/postgres/0006_offhost_redirects.sql"),
    ),
    (
        7,
        "crawl staging",
        include_str!("../migrations/postgres/0007_crawl_staging.sql"),
    ),
    (
        8,
        "version arrivals, package samples, full rechecks",
        include_str!("../migrations/postgres/0008_arrivals_samples.sql"),
    ),
    (
        9,
        "control plane",
        include_str!("../migrations/postgres/0009_control_plane.sql"),
    ),
    (
        10,
        "registrations",
        include_str!("../migrations/postgres/0010_registrations.sql"),
    ),
    (
        11,
        "api tokens",
        include_str!("../migrations/postgres/0011_api_tokens.sql"),
    ),
    (
        12,
        "ownership recheck",
        include_str!("../migrations/postgres/0012_ownership_recheck.sql"),
    ),
    (
        13,
        "pending changes",
        include_str!("../migrations/postgres/0013_pending_changes.sql"),
    ),
    (
        14,
        "admin holds",
        include_str!("../migrations/postgres/0014_admin_holds.sql"),
    ),
    (
        15,
        "mirror revision",
        include_str!("../migrations/postgres/0015_mirror_revision.sql"),
    ),
    (
        16,
        "maintenance windows",
        include_str!("../migrations/postgres/0016_maintenance_windows.sql"),
    ),
    (
        17,
        "outbox",
        include_str!("../migrations/postgres/0017_outbox.sql"),
    ),
    (
        18,
        "mail opt-outs",
        include_str!("../migrations/postgres/0018_mail_optouts.sql"),
    ),
    (
        19,
        "webhooks",
        include_str!("../migrations/postgres/0019_webhooks.sql"),
    ),
];

fn migrator(backend: Backend) -> Migrator {
    let list = match backend {
        Backend::Sqlite => SQLITE_MIGRATIONS,
        Backend::Postgres => POSTGRES_MIGRATIONS,
    };
    Migrator {
        migrations: Cow::Owned(
            list.iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect(),
        ),
        ..Migrator::DEFAULT
    }
}

impl Store {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    /// `sqlite://path/to/file.db` creates the file; a bare path is taken as SQLite too.
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_with(url, Duration::from_secs(BUSY_TIMEOUT_SECS)).await
    }

    /// [`Store::open`] with SQLite's wait for another writer's lock set to `busy`.
    pub async fn open_with(url: &str, busy: Duration) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let sep = if rest.contains('?') { '&' } else { '?' };
            let mode = if rest.contains("mode=") {
                String::new()
            } else {
                format!("{sep}mode=rwc")
            };
            (Backend::Sqlite, format!("sqlite://{rest}{mode}"))
        } else if !url.contains("://") && !url.is_empty() {
            (Backend::Sqlite, format!("sqlite://{url}?mode=rwc"))
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        // Large reads (a crawl's results) are expected; only really slow statements are news.
        let connect: AnyConnectOptions = url.parse().map_err(StoreError::Open)?;
        let connect = connect
            .log_statements(log::LevelFilter::Trace)
            .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(10));
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        let options = match backend {
            Backend::Sqlite => {
                // One connection first, set up as the pool's will be: a refusal (a full disk,
                // a read-only file) is then reported as SQLite's reason, where the pool would
                // retry until its timeout and say only that it timed out.
                use sqlx::Connection;
                let mut first = sqlx::AnyConnection::connect_with(&connect)
                    .await
                    .map_err(StoreError::Open)?;
                setup_sqlite(&mut first, busy)
                    .await
                    .map_err(StoreError::Open)?;
                first.close().await.ok();
                // One writer at a time is SQLite's rule; a small pool avoids lock contention.
                options
                    .max_connections(4)
                    .after_connect(move |conn, _| Box::pin(setup_sqlite(conn, busy)))
            }
            Backend::Postgres => options.max_connections(8),
        };
        let pool = options
            .connect_with(connect)
            .await
            .map_err(StoreError::Open)?;
        migrator(backend).run(&pool).await?;
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// What every SQLite connection is set up with.
async fn setup_sqlite(conn: &mut sqlx::AnyConnection, busy: Duration) -> sqlx::Result<()> {
    sqlx::query(&format!("PRAGMA busy_timeout = {}", busy.as_millis()))
        .execute(&mut *conn)
        .await?;
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&mut *conn)
        .await?;
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut *conn)
        .await?;
    sqlx::query("PRAGMA synchronous = NORMAL")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Reads a column, turning a decode failure into a clear error.
pub(crate) fn col<T>(row: &AnyRow, name: &str) -> Result<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    use sqlx::Row;
    row.try_get(name).map_err(StoreError::Query)
}

#[cfg(test)]
mod tests;
