//! Registry persistence: mirrors with their site, URLs, netblocks, ASNs, allowed countries and
//! cloud regions. Applying a registry is idempotent: unchanged mirrors are not touched.

use super::{col, Result, Store, StoreError};
use shared::registry::{Geo, Mirror, Protocol};
use shared::time::now;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use std::collections::HashMap;

/// What applying a registry changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: usize,
    pub removed: Vec<String>,
    /// Stored mirrors absent from the registry, kept because the import was not told to sync.
    pub kept: Vec<String>,
    /// Mirrors the control plane managed that a registry file now names: the registry
    /// manages them from now on.
    pub taken_over: Vec<String>,
}

impl ApplyOutcome {
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} added, {} updated, {} unchanged, {} removed",
            self.added.len(),
            self.updated.len(),
            self.unchanged,
            self.removed.len()
        );
        if !self.taken_over.is_empty() {
            s.push_str(&format!(
                "; {} registered through the control plane now managed by the registry",
                self.taken_over.join(", ")
            ));
        }
        if !self.kept.is_empty() {
            let (n, verb) = match self.kept.len() {
                1 => ("1 stored mirror is".to_string(), "was"),
                n => (format!("{n} stored mirrors are"), "were"),
            };
            s.push_str(&format!(
                "; {n} not in the registry and {verb} kept (use --sync to remove them)"
            ));
        }
        s
    }
}

pub(crate) fn opt_f64(row: &AnyRow, name: &str) -> Result<Option<f64>> {
    col::<Option<f64>>(row, name)
}

impl Store {
    /// Stores the given mirrors: new ones are added, changed ones updated in place (same id,
    /// so their check history stays), unchanged ones left alone. With `sync`, stored mirrors
    /// missing from `mirrors` are removed; without it they are kept and listed. Mirrors
    /// registered through the control plane are never removed; one a registry file names
    /// becomes the registry's.
    pub async fn apply_registry(&self, mirrors: &[Mirror], sync: bool) -> Result<ApplyOutcome> {
        let stored = self.load_mirrors_with_ids().await?;
        let control = self.control_managed().await?;
        let by_name: HashMap<&str, &(i64, Mirror)> =
            stored.iter().map(|e| (e.1.name.as_str(), e)).collect();
        let mut outcome = ApplyOutcome::default();
        let mut tx = self.pool.begin().await?;
        let at = now();
        for m in mirrors {
            if control.contains(&m.name) {
                sqlx::query("UPDATE mirrors SET managed_by = 'registry' WHERE name = $1")
                    .bind(&m.name)
                    .execute(&mut *tx)
                    .await?;
                outcome.taken_over.push(m.name.clone());
            }
            match by_name.get(m.name.as_str()) {
                // An admin's hold is the store's, not the file's.
                Some((_, old)) if old.without_hold() == *m => outcome.unchanged += 1,
                Some(_) => {
                    write_mirror(&mut tx, m, at).await?;
                    outcome.updated.push(m.name.clone());
                }
                None => {
                    write_mirror(&mut tx, m, at).await?;
                    outcome.added.push(m.name.clone());
                }
            }
        }
        let incoming: std::collections::HashSet<&str> =
            mirrors.iter().map(|m| m.name.as_str()).collect();
        for (id, old) in &stored {
            if incoming.contains(old.name.as_str()) || control.contains(&old.name) {
                continue;
            }
            if sync {
                sqlx::query("DELETE FROM mirrors WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                outcome.removed.push(old.name.clone());
            } else {
                outcome.kept.push(old.name.clone());
            }
        }
        sqlx::query("DELETE FROM sites WHERE id NOT IN (SELECT site_id FROM mirrors)")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Every stored mirror, ordered by name.
    pub async fn load_mirrors(&self) -> Result<Vec<Mirror>> {
        Ok(self
            .load_mirrors_with_ids()
            .await?
            .into_iter()
            .map(|(_, m)| m)
            .collect())
    }

    /// Every stored mirror with its database id, ordered by name.
    pub async fn load_mirrors_with_ids(&self) -> Result<Vec<(i64, Mirror)>> {
        let rows: Vec<StoredMirror> = sqlx::query_as(
            "SELECT m.id, m.name, s.name AS sponsor, s.url AS sponsor_url, m.email, m.country,
                    m.state_province, m.city, m.latitude, m.longitude, m.bandwidth_mbps, m.private,
                    m.monopoly, m.subnets_url, m.cloud_type, m.update_frequency, m.enabled, m.approved,
                    m.checked, m.source_file, m.held_reason
             FROM mirrors m JOIN sites s ON s.id = m.site_id ORDER BY m.name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut mirrors: Vec<(i64, Mirror)> = rows.into_iter().map(|r| (r.0, r.1)).collect();
        let index: HashMap<i64, usize> = mirrors
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (*id, i))
            .collect();
        let corrupt = |what: String| StoreError::Corrupt(what);
        let urls: Vec<(i64, String, String, String)> =
            sqlx::query_as("SELECT mirror_id, module, protocol, url FROM mirror_urls")
                .fetch_all(&self.pool)
                .await?;
        for (id, module, protocol, url) in urls {
            let Some(&i) = index.get(&id) else { continue };
            let protocol = Protocol::parse(&protocol)
                .ok_or_else(|| corrupt(format!("unknown protocol {protocol:?}")))?;
            let m = &mut mirrors[i].1;
            if module.is_empty() {
                m.urls.insert(protocol, url);
            } else {
                m.module_urls
                    .entry(module)
                    .or_default()
                    .insert(protocol, url);
            }
        }
        for (id, cidr) in self
            .pairs::<String>(
                "SELECT mirror_id, cidr FROM mirror_netblocks ORDER BY mirror_id, position",
            )
            .await?
        {
            if let Some(&i) = index.get(&id) {
                let net = cidr
                    .parse()
                    .map_err(|_| corrupt(format!("bad CIDR {cidr:?}")))?;
                mirrors[i].1.subnets.push(net);
            }
        }
        for (id, asn) in self
            .pairs::<i64>("SELECT mirror_id, asn FROM mirror_asns ORDER BY mirror_id, position")
            .await?
        {
            if let Some(&i) = index.get(&id) {
                let asn = u32::try_from(asn).map_err(|_| corrupt(format!("bad ASN {asn}")))?;
                mirrors[i].1.asns.push(asn);
            }
        }
        for (id, country) in self
            .pairs::<String>(
                "SELECT mirror_id, country FROM mirror_countries_allowed ORDER BY mirror_id, position",
            )
            .await?
        {
            if let Some(&i) = index.get(&id) {
                mirrors[i].1.countries_allowed.push(country);
            }
        }
        for (id, region) in self
            .pairs::<String>(
                "SELECT mirror_id, region FROM mirror_cloud_regions ORDER BY mirror_id, position",
            )
            .await?
        {
            if let Some(&i) = index.get(&id) {
                mirrors[i].1.cloud_regions.push(region);
            }
        }
        Ok(mirrors)
    }

    /// (mirror id, value) rows of one of a mirror's lists.
    async fn pairs<T>(&self, sql: &str) -> Result<Vec<(i64, T)>>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + Send + Unpin,
    {
        Ok(sqlx::query_as(sql).fetch_all(&self.pool).await?)
    }
}

async fn site_id(tx: &mut Transaction<'_, Any>, m: &Mirror) -> Result<i64> {
    let url = m.sponsor_url.clone().unwrap_or_default();
    sqlx::query("INSERT INTO sites (name, url) VALUES ($1, $2) ON CONFLICT (name, url) DO NOTHING")
        .bind(&m.sponsor)
        .bind(&url)
        .execute(&mut **tx)
        .await?;
    let row = sqlx::query("SELECT id FROM sites WHERE name = $1 AND url = $2")
        .bind(&m.sponsor)
        .bind(&url)
        .fetch_one(&mut **tx)
        .await?;
    col(&row, "id")
}

pub(crate) async fn write_mirror(
    tx: &mut Transaction<'_, Any>,
    m: &Mirror,
    at: i64,
) -> Result<i64> {
    let site = site_id(tx, m).await?;
    let g = &m.geo;
    // An upsert keeps the row (and its id, which check history refers to) for a known name.
    let row = sqlx::query(
        "INSERT INTO mirrors (name, site_id, email, country, state_province, city, latitude,
           longitude, bandwidth_mbps, private, monopoly, subnets_url, cloud_type,
           update_frequency, enabled, approved, checked, source_file, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
           $19, $19)
         ON CONFLICT (name) DO UPDATE SET site_id = excluded.site_id, email = excluded.email,
           country = excluded.country, state_province = excluded.state_province,
           city = excluded.city, latitude = excluded.latitude, longitude = excluded.longitude,
           bandwidth_mbps = excluded.bandwidth_mbps, private = excluded.private,
           monopoly = excluded.monopoly, subnets_url = excluded.subnets_url,
           cloud_type = excluded.cloud_type, update_frequency = excluded.update_frequency,
           enabled = excluded.enabled, approved = excluded.approved, checked = excluded.checked,
           source_file = excluded.source_file, updated_at = excluded.updated_at
         RETURNING id",
    )
    .bind(&m.name)
    .bind(site)
    .bind(m.email.as_deref())
    .bind(g.country.as_deref())
    .bind(g.state_province.as_deref())
    .bind(g.city.as_deref())
    .bind(g.latitude)
    .bind(g.longitude)
    .bind(m.bandwidth_mbps.map(i64::from))
    .bind(m.private)
    .bind(m.monopoly)
    .bind(m.subnets_url.as_deref())
    .bind(m.cloud_type.as_deref())
    .bind(m.update_frequency.as_deref())
    .bind(m.enabled)
    .bind(m.approved)
    .bind(m.checked)
    .bind(m.source_file.as_deref())
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    let id: i64 = col(&row, "id")?;
    for table in [
        "mirror_urls",
        "mirror_netblocks",
        "mirror_asns",
        "mirror_countries_allowed",
        "mirror_cloud_regions",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE mirror_id = $1"))
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    // Collected first: an iterator of closures held across the awaits below would make
    // the future not `Send` (the control plane writes mirrors from its handlers).
    let mut rows: Vec<(&str, Protocol, &str)> = Vec::new();
    for (p, u) in &m.urls {
        rows.push(("", *p, u));
    }
    for (module, urls) in &m.module_urls {
        for (p, u) in urls {
            rows.push((module, *p, u));
        }
    }
    for (module, protocol, url) in rows {
        sqlx::query(
            "INSERT INTO mirror_urls (mirror_id, module, protocol, url) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(module)
        .bind(protocol.as_str())
        .bind(url)
        .execute(&mut **tx)
        .await?;
    }
    for (pos, net) in m.subnets.iter().enumerate() {
        sqlx::query("INSERT INTO mirror_netblocks (mirror_id, position, cidr) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(pos as i64)
            .bind(net.to_string())
            .execute(&mut **tx)
            .await?;
    }
    for (pos, asn) in m.asns.iter().enumerate() {
        sqlx::query("INSERT INTO mirror_asns (mirror_id, position, asn) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(pos as i64)
            .bind(i64::from(*asn))
            .execute(&mut **tx)
            .await?;
    }
    for (pos, country) in m.countries_allowed.iter().enumerate() {
        sqlx::query("INSERT INTO mirror_countries_allowed (mirror_id, position, country) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(pos as i64)
            .bind(country)
            .execute(&mut **tx)
            .await?;
    }
    for (pos, region) in m.cloud_regions.iter().enumerate() {
        sqlx::query(
            "INSERT INTO mirror_cloud_regions (mirror_id, position, region) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(pos as i64)
        .bind(region)
        .execute(&mut **tx)
        .await?;
    }
    Ok(id)
}

/// A stored mirror's own row (its lists are read apart), with its store id.
struct StoredMirror(i64, Mirror);

impl sqlx::FromRow<'_, AnyRow> for StoredMirror {
    fn from_row(row: &AnyRow) -> sqlx::Result<StoredMirror> {
        use sqlx::Row;
        let flag = |name: &str| crate::rows::flag(row, name);
        let sponsor_url: String = row.try_get("sponsor_url")?;
        let bandwidth: Option<i64> = row.try_get("bandwidth_mbps")?;
        let mut m = Mirror::new(
            &row.try_get::<String, _>("name")?,
            &row.try_get::<String, _>("sponsor")?,
        );
        m.sponsor_url = Some(sponsor_url).filter(|u| !u.is_empty());
        m.email = row.try_get("email")?;
        m.geo = Geo {
            country: row.try_get("country")?,
            state_province: row.try_get("state_province")?,
            city: row.try_get("city")?,
            latitude: row.try_get("latitude")?,
            longitude: row.try_get("longitude")?,
        };
        m.bandwidth_mbps = bandwidth.map(|b| b as u32);
        m.private = flag("private")?;
        m.monopoly = flag("monopoly")?;
        m.subnets_url = row.try_get("subnets_url")?;
        m.cloud_type = row.try_get("cloud_type")?;
        m.update_frequency = row.try_get("update_frequency")?;
        m.enabled = flag("enabled")?;
        m.approved = flag("approved")?;
        m.checked = flag("checked")?;
        m.source_file = row.try_get("source_file")?;
        m.held = row.try_get("held_reason")?;
        Ok(StoredMirror(row.try_get("id")?, m))
    }
}
