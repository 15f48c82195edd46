//! What the master published: each directory's repomd.xml versions, newest first, and each
//! version's package sample (what a new copy is looked for).

use crate::{col, Result, Store};
use shared::model::RepomdVersion;
use std::collections::HashMap;

impl Store {
    /// Records a repomd.xml version of a directory; returns false when it was already known.
    pub async fn record_repomd(&self, directory_id: i64, v: &RepomdVersion) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO repomd_versions (directory_id, size, timestamp, md5, sha1, sha256, sha512, first_seen)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (directory_id, sha256) DO NOTHING",
        )
        .bind(directory_id)
        .bind(v.size as i64)
        .bind(v.timestamp)
        .bind(&v.md5)
        .bind(&v.sha1)
        .bind(&v.sha256)
        .bind(&v.sha512)
        .bind(v.first_seen)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every directory's versions, newest first.
    pub async fn repomd_history(&self) -> Result<HashMap<i64, Vec<RepomdVersion>>> {
        let rows: Vec<DirVersion> = sqlx::query_as(
            "SELECT directory_id, size, timestamp, md5, sha1, sha256, sha512, first_seen
             FROM repomd_versions ORDER BY directory_id, first_seen DESC, id DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: HashMap<i64, Vec<RepomdVersion>> = HashMap::new();
        for DirVersion(dir, v) in rows {
            out.entry(dir).or_default().push(v);
        }
        Ok(out)
    }
    /// Records the packages sampled from a version's primary.xml (replacing any before).
    pub async fn record_sample(
        &self,
        directory_id: i64,
        sha256: &str,
        sample: &[(String, u64)],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let id: Option<i64> =
            sqlx::query("SELECT id FROM repomd_versions WHERE directory_id = $1 AND sha256 = $2")
                .bind(directory_id)
                .bind(sha256)
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| col(&row, "id"))
                .transpose()?;
        let Some(id) = id else {
            return Ok(());
        };
        sqlx::query("DELETE FROM package_samples WHERE version_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for (position, (href, size)) in sample.iter().enumerate() {
            sqlx::query(
                "INSERT INTO package_samples (version_id, position, href, size) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(position as i64)
            .bind(href)
            .bind(*size as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every version's sampled packages: (directory id, sha256) → (location, size).
    pub async fn samples(&self) -> Result<HashMap<(i64, String), Vec<(String, u64)>>> {
        let mut out: HashMap<(i64, String), Vec<(String, u64)>> = HashMap::new();
        for row in sqlx::query(
            "SELECT v.directory_id, v.sha256, s.href, s.size FROM package_samples s
               JOIN repomd_versions v ON v.id = s.version_id ORDER BY s.version_id, s.position",
        )
        .fetch_all(&self.pool)
        .await?
        {
            out.entry((col(&row, "directory_id")?, col(&row, "sha256")?))
                .or_default()
                .push((col(&row, "href")?, col::<i64>(&row, "size")?.max(0) as u64));
        }
        Ok(out)
    }
}

/// A directory's repomd.xml version, with the directory's id.
pub(crate) struct DirVersion(pub i64, pub RepomdVersion);

impl sqlx::FromRow<'_, sqlx::any::AnyRow> for DirVersion {
    fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<DirVersion> {
        use sqlx::Row;
        let v = RepomdVersion {
            size: row.try_get::<i64, _>("size")? as u64,
            timestamp: row.try_get("timestamp")?,
            md5: row.try_get("md5")?,
            sha1: row.try_get("sha1")?,
            sha256: row.try_get("sha256")?,
            sha512: row.try_get("sha512")?,
            first_seen: row.try_get("first_seen")?,
        };
        Ok(DirVersion(row.try_get("directory_id")?, v))
    }
}
