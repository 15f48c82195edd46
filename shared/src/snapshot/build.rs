//! Building a snapshot from what the checker knows. Pure: same input, same snapshot. The
//! input is in the snapshot's own terms; the store fills it (`Store::snapshot_input`).

use super::{protocol_bit, DirMirror, SnapDirectory, SnapMirror, Snapshot, Version};
use crate::catalog::Catalog;
use crate::model::{Family, HealthState, RepomdVersion};
use crate::registry::Mirror;
use std::collections::HashMap;

/// What the builder reads.
#[derive(Debug, Clone)]
pub struct SnapshotInput {
    pub catalog: Catalog,
    /// (store id, mirror)
    pub mirrors: Vec<(i64, Mirror)>,
    /// Directory path → store id.
    pub directory_ids: HashMap<String, i64>,
    /// Store directory id → versions, newest first.
    pub history: HashMap<i64, Vec<RepomdVersion>>,
    /// What each check found: only the fields the snapshot needs, so a crawl's worth stays
    /// small in memory.
    pub checks: Vec<SeenCopy>,
    pub health: Vec<CapabilityState>,
    /// Subnets fetched from mirrors' `subnets_url`, by store id.
    pub fetched_subnets: HashMap<i64, Vec<ipnet::IpNet>>,
}

/// A copy of a directory's repomd.xml a check found on a mirror over a protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenCopy {
    pub mirror_id: i64,
    pub directory_id: i64,
    pub protocol: crate::registry::Protocol,
    pub sha256: String,
}

/// A mirror's health for one capability (`http`, `https`, `ipv4`, `ipv6`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityState {
    pub mirror_id: i64,
    pub capability: String,
    pub state: HealthState,
}

/// The versions a metalink offers at `now`: the newest, then the older ones the master
/// published (first seen) no more than `window` seconds ago, newest first.
pub fn versions_in_window(history: &[RepomdVersion], now: i64, window: u64) -> Vec<RepomdVersion> {
    let oldest = now.saturating_sub(window as i64);
    let mut out: Vec<RepomdVersion> = history.iter().take(1).cloned().collect();
    out.extend(
        history
            .iter()
            .skip(1)
            .take_while(|v| v.first_seen >= oldest)
            .cloned(),
    );
    out
}

pub fn build(input: &SnapshotInput, serial: u64, now: i64, generator: &str) -> Snapshot {
    let catalog = &input.catalog;
    let health: HashMap<(i64, &str), HealthState> = input
        .health
        .iter()
        .map(|h| ((h.mirror_id, h.capability.as_str()), h.state))
        .collect();
    let up = |id: i64, capability: &str| health.get(&(id, capability)) == Some(&HealthState::Up);

    let mut mirrors = Vec::new();
    let mut index: HashMap<i64, u32> = HashMap::new();
    for (id, m) in &input.mirrors {
        if !m.enabled || !m.approved {
            continue;
        }
        let (mut ipv4, ipv6) = (up(*id, Family::V4.as_str()), up(*id, Family::V6.as_str()));
        if !ipv4 && !ipv6 {
            // Families were not probed separately: the mirror was reached over IPv4.
            ipv4 = true;
        }
        let mut subnets = m.subnets.clone();
        if let Some(fetched) = input.fetched_subnets.get(id) {
            subnets.extend(fetched.iter().filter(|n| !m.subnets.contains(n)));
        }
        index.insert(*id, mirrors.len() as u32);
        mirrors.push(SnapMirror {
            name: m.name.clone(),
            country: m.geo.country.clone(),
            continent: m.continent().map(str::to_string),
            latitude: m.geo.latitude,
            longitude: m.geo.longitude,
            bandwidth_mbps: m.bandwidth_mbps,
            private: m.private,
            monopoly: m.monopoly,
            asns: m.asns.clone(),
            subnets,
            countries_allowed: m.countries_allowed.clone(),
            urls: m.urls.clone(),
            module_urls: m.module_urls.clone(),
            ipv4,
            ipv6,
        });
    }

    let mut directories: Vec<SnapDirectory> =
        vec![SnapDirectory::default(); catalog.directories.len()];
    let mut by_store_id: HashMap<i64, usize> = HashMap::new();
    for (i, d) in catalog.directories.iter().enumerate() {
        let Some(&store_id) = input.directory_ids.get(&d.path) else {
            continue;
        };
        by_store_id.insert(store_id, i);
        if let Some(history) = input.history.get(&store_id) {
            directories[i].versions =
                versions_in_window(history, now, catalog.alternates_window_secs())
                    .iter()
                    .map(Version::from)
                    .collect();
        }
    }
    // (directory index, snapshot mirror) → (protocol bits, versions behind)
    let mut found: HashMap<(usize, u32), (u8, u8)> = HashMap::new();
    for check in &input.checks {
        let (Some(&dir), Some(&mirror)) = (
            by_store_id.get(&check.directory_id),
            index.get(&check.mirror_id),
        ) else {
            continue;
        };
        let bit = protocol_bit(check.protocol);
        if bit == 0
            || catalog.directories[dir].vault_only
            || !up(check.mirror_id, check.protocol.as_str())
        {
            continue;
        }
        let seen = &check.sha256;
        let Some(behind) = directories[dir]
            .versions
            .iter()
            .position(|v| &v.sha256 == seen)
        else {
            continue;
        };
        let entry = found.entry((dir, mirror)).or_insert((0, u8::MAX));
        entry.0 |= bit;
        entry.1 = entry.1.min(behind.min(u8::MAX as usize) as u8);
    }
    let mut pairs: Vec<_> = found.into_iter().collect();
    pairs.sort_unstable_by_key(|((dir, mirror), _)| (*dir, *mirror));
    for ((dir, mirror), (protocols, behind)) in pairs {
        directories[dir].mirrors.push(DirMirror {
            mirror,
            protocols,
            behind,
        });
    }
    Snapshot {
        serial,
        created_at: now,
        generator: generator.to_string(),
        catalog: catalog.clone(),
        mirrors,
        directories,
    }
}

#[cfg(test)]
mod tests;
