//! Published snapshots, and when mirrors first served each version (what propagation is
//! measured from).

use crate::{Result, Store};
use shared::snapshot::propagation::Arrival;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRecord {
    pub serial: i64,
    pub created_at: i64,
    pub path: String,
    pub sha256: String,
    pub size: i64,
    pub mirrors: i64,
    pub directories: i64,
}

impl Store {
    /// When mirrors first served the versions the master published since `since`, and
    /// every version found already there (when the checker started watching each copy).
    pub async fn arrivals_since(&self, since: i64) -> Result<Vec<Arrival>> {
        let rows: Vec<Arrived> = sqlx::query_as(
            "SELECT a.mirror_id, v.directory_id, v.sha256, a.first_served_at, a.observed
               FROM version_arrivals a JOIN repomd_versions v ON v.id = a.version_id
              WHERE v.first_seen >= $1 OR a.observed = 0",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|a| a.0).collect())
    }
    pub async fn record_snapshot(&self, r: &SnapshotRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO snapshots (serial, created_at, path, sha256, size, mirrors, directories)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(r.serial)
        .bind(r.created_at)
        .bind(&r.path)
        .bind(&r.sha256)
        .bind(r.size)
        .bind(r.mirrors)
        .bind(r.directories)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn latest_snapshot(&self) -> Result<Option<SnapshotRecord>> {
        Ok(sqlx::query_as(
            "SELECT serial, created_at, path, sha256, size, mirrors, directories FROM snapshots
             ORDER BY serial DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?)
    }
}

impl sqlx::FromRow<'_, sqlx::any::AnyRow> for SnapshotRecord {
    fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<SnapshotRecord> {
        use sqlx::Row;
        Ok(SnapshotRecord {
            serial: row.try_get("serial")?,
            created_at: row.try_get("created_at")?,
            path: row.try_get("path")?,
            sha256: row.try_get("sha256")?,
            size: row.try_get("size")?,
            mirrors: row.try_get("mirrors")?,
            directories: row.try_get("directories")?,
        })
    }
}

/// When a mirror was first seen serving a version.
pub(crate) struct Arrived(pub Arrival);

impl sqlx::FromRow<'_, sqlx::any::AnyRow> for Arrived {
    fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<Arrived> {
        use sqlx::Row;
        Ok(Arrived(Arrival {
            mirror_id: row.try_get("mirror_id")?,
            directory_id: row.try_get("directory_id")?,
            sha256: row.try_get("sha256")?,
            at: row.try_get("first_served_at")?,
            observed: crate::rows::flag(row, "observed")?,
        }))
    }
}
