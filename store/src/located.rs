//! What the checker learns about a mirror beyond its checks: where GeoIP places the address
//! it reached the mirror at, and the subnets fetched from the mirror's `subnets` URL (the last
//! good list, kept when a fetch fails, with a log of each change).

use super::{col, Result, Store};
use ipnet::IpNet;
use shared::snapshot::Located;
use std::collections::HashMap;

/// A change to a mirror's fetched subnets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetChange {
    pub mirror_id: i64,
    pub at: i64,
    pub added: Vec<IpNet>,
    pub removed: Vec<IpNet>,
}

/// The state of a mirror's subnets URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedSubnets {
    pub mirror_id: i64,
    /// The last good list.
    pub cidrs: Vec<IpNet>,
    pub fetched_at: Option<i64>,
    pub attempted_at: i64,
    pub last_error: Option<String>,
}

pub(crate) fn parse_cidrs(text: &str) -> Vec<IpNet> {
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

fn join(nets: &[IpNet]) -> String {
    nets.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl Store {
    pub async fn record_located(&self, mirror_id: i64, l: &Located, at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO mirror_located (mirror_id, address, country, latitude, longitude, located_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (mirror_id) DO UPDATE SET address = excluded.address,
               country = excluded.country, latitude = excluded.latitude,
               longitude = excluded.longitude, located_at = excluded.located_at
             WHERE mirror_located.address IS DISTINCT FROM excluded.address
               OR mirror_located.country IS DISTINCT FROM excluded.country
               OR mirror_located.latitude IS DISTINCT FROM excluded.latitude
               OR mirror_located.longitude IS DISTINCT FROM excluded.longitude",
        )
        .bind(mirror_id)
        .bind(l.address.to_string())
        .bind(l.country.as_deref())
        .bind(l.latitude)
        .bind(l.longitude)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn located(&self) -> Result<HashMap<i64, Located>> {
        let rows = sqlx::query(
            "SELECT mirror_id, address, country, latitude, longitude FROM mirror_located",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::new();
        for r in &rows {
            let address: String = col(r, "address")?;
            let Ok(address) = address.parse() else {
                continue;
            };
            out.insert(
                col(r, "mirror_id")?,
                Located {
                    address,
                    country: col(r, "country")?,
                    latitude: super::mirrors::opt_f64(r, "latitude")?,
                    longitude: super::mirrors::opt_f64(r, "longitude")?,
                },
            );
        }
        Ok(out)
    }

    /// Records a fetch of a mirror's subnets URL: a good list replaces the last one (and a
    /// difference is logged, returned); a failure keeps the last good list and records why.
    pub async fn record_subnets_fetch(
        &self,
        mirror_id: i64,
        result: std::result::Result<Vec<IpNet>, String>,
        at: i64,
    ) -> Result<Option<SubnetChange>> {
        let mut tx = self.pool.begin().await?;
        let previous = sqlx::query("SELECT cidrs FROM mirror_fetched_subnets WHERE mirror_id = $1")
            .bind(mirror_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| col::<String>(&r, "cidrs"))
            .transpose()?
            .map(|t| parse_cidrs(&t));
        let change = match result {
            Ok(nets) => {
                let old = previous.clone().unwrap_or_default();
                let added: Vec<IpNet> = nets.iter().filter(|n| !old.contains(n)).copied().collect();
                let removed: Vec<IpNet> =
                    old.iter().filter(|n| !nets.contains(n)).copied().collect();
                sqlx::query(
                    "INSERT INTO mirror_fetched_subnets (mirror_id, cidrs, fetched_at, attempted_at, last_error)
                     VALUES ($1, $2, $3, $3, NULL)
                     ON CONFLICT (mirror_id) DO UPDATE SET cidrs = excluded.cidrs,
                       fetched_at = excluded.fetched_at, attempted_at = excluded.attempted_at,
                       last_error = NULL",
                )
                .bind(mirror_id)
                .bind(join(&nets))
                .bind(at)
                .execute(&mut *tx)
                .await?;
                if added.is_empty() && removed.is_empty() {
                    None
                } else {
                    sqlx::query(
                        "INSERT INTO subnet_changes (mirror_id, at, added, removed) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(mirror_id)
                    .bind(at)
                    .bind(join(&added))
                    .bind(join(&removed))
                    .execute(&mut *tx)
                    .await?;
                    Some(SubnetChange {
                        mirror_id,
                        at,
                        added,
                        removed,
                    })
                }
            }
            Err(error) => {
                sqlx::query(
                    "INSERT INTO mirror_fetched_subnets (mirror_id, cidrs, fetched_at, attempted_at, last_error)
                     VALUES ($1, '', NULL, $2, $3)
                     ON CONFLICT (mirror_id) DO UPDATE SET attempted_at = excluded.attempted_at,
                       last_error = excluded.last_error",
                )
                .bind(mirror_id)
                .bind(at)
                .bind(&error)
                .execute(&mut *tx)
                .await?;
                None
            }
        };
        tx.commit().await?;
        Ok(change)
    }

    pub async fn fetched_subnets(&self) -> Result<Vec<FetchedSubnets>> {
        Ok(sqlx::query_as(
            "SELECT mirror_id, cidrs, fetched_at, attempted_at, last_error
             FROM mirror_fetched_subnets ORDER BY mirror_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn subnet_changes(&self, mirror_id: i64, limit: i64) -> Result<Vec<SubnetChange>> {
        Ok(sqlx::query_as(
            "SELECT mirror_id, at, added, removed FROM subnet_changes WHERE mirror_id = $1
             ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(mirror_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}

impl sqlx::FromRow<'_, sqlx::any::AnyRow> for FetchedSubnets {
    fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<FetchedSubnets> {
        use sqlx::Row;
        Ok(FetchedSubnets {
            mirror_id: row.try_get("mirror_id")?,
            cidrs: parse_cidrs(&row.try_get::<String, _>("cidrs")?),
            fetched_at: row.try_get("fetched_at")?,
            attempted_at: row.try_get("attempted_at")?,
            last_error: row.try_get("last_error")?,
        })
    }
}

impl sqlx::FromRow<'_, sqlx::any::AnyRow> for SubnetChange {
    fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<SubnetChange> {
        use sqlx::Row;
        let cidrs =
            |name: &str| -> sqlx::Result<_> { Ok(parse_cidrs(&row.try_get::<String, _>(name)?)) };
        Ok(SubnetChange {
            mirror_id: row.try_get("mirror_id")?,
            at: row.try_get("at")?,
            added: cidrs("added")?,
            removed: cidrs("removed")?,
        })
    }
}
