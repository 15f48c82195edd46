//! Catalog persistence: the spec as TOML, and one row per directory with a stable id that
//! upstream history and check results refer to.

use super::{col, Result, Store, StoreError};
use shared::catalog::{Catalog, CatalogSpec};
use shared::time::now;
use std::collections::HashMap;

impl Store {
    /// Stores the catalog. Directories keep their ids across saves; those no longer in the
    /// catalog are marked inactive, not deleted, so their history stays readable.
    pub async fn save_catalog(&self, catalog: &Catalog) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO catalog (id, spec, updated_at) VALUES (1, $1, $2)
             ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
        )
        .bind(catalog.spec.to_toml())
        .bind(now())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE directories SET active = $1")
            .bind(false)
            .execute(&mut *tx)
            .await?;
        for d in &catalog.directories {
            sqlx::query(
                "INSERT INTO directories (path, release, repo, arch, module, vault_only, active)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (path) DO UPDATE SET release = excluded.release, repo = excluded.repo,
                   arch = excluded.arch, module = excluded.module, vault_only = excluded.vault_only,
                   active = excluded.active",
            )
            .bind(&d.path)
            .bind(&d.release)
            .bind(&d.repo)
            .bind(&d.arch)
            .bind(d.module.as_deref())
            .bind(d.vault_only)
            .bind(true)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The stored catalog, or `None` before one was saved.
    pub async fn load_catalog(&self) -> Result<Option<Catalog>> {
        let Some(row) = sqlx::query("SELECT spec FROM catalog WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let text: String = col(&row, "spec")?;
        let spec = CatalogSpec::from_toml(&text, "stored catalog")
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Catalog::from_spec(spec)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// Path → id of every active directory.
    pub async fn directory_ids(&self) -> Result<HashMap<String, i64>> {
        let rows = sqlx::query("SELECT id, path FROM directories WHERE active = $1")
            .bind(true)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((col(r, "path")?, col(r, "id")?)))
            .collect()
    }

    /// Emergency expiry (like MirrorManager's emergency-expire-repo): from now on the named
    /// directories' versions superseded so far are no longer alternates, so only mirrors with
    /// the newest version are served until the mirrors catch up. Returns how many directories
    /// were expired.
    pub async fn expire_alternates(&self, directory_ids: &[i64], at: i64) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let mut n = 0;
        for id in directory_ids {
            n += sqlx::query("UPDATE directories SET alternates_expired_at = $1 WHERE id = $2")
                .bind(at)
                .bind(*id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Directory id → when its alternates were last expired.
    pub async fn alternates_expiry(&self) -> Result<HashMap<i64, i64>> {
        let rows = sqlx::query(
            "SELECT id, alternates_expired_at FROM directories
             WHERE alternates_expired_at IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((col(r, "id")?, col(r, "alternates_expired_at")?)))
            .collect()
    }
}
