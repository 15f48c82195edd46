//! One mirror's view: its verdict for every directory and protocol it should carry, counted
//! into its row of the network's table, and in full for its own page.

use super::*;
use crate::model::Family;
use crate::registry::Protocol;
use crate::snapshot::{protocol_bit, DirMirror, NotServed, Snapshot};
use std::collections::HashMap;

/// A pair's standing, for counting.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Standing {
    Current,
    Behind,
    NotServed,
}

/// Each directory's entries by mirror, looked up once for all verdicts (a linear search per
/// verdict made the real registry's pages take 130 ms longer to build).
pub(super) struct Lookup<'a> {
    served: Vec<HashMap<u32, &'a DirMirror>>,
    refused: Vec<HashMap<(u32, u8), &'a NotServed>>,
}

impl<'a> Lookup<'a> {
    pub(super) fn new(snap: &'a Snapshot) -> Lookup<'a> {
        Lookup {
            served: snap
                .directories
                .iter()
                .map(|d| d.mirrors.iter().map(|dm| (dm.mirror, dm)).collect())
                .collect(),
            refused: snap
                .directories
                .iter()
                .map(|d| {
                    d.refused
                        .iter()
                        .map(|r| ((r.mirror, protocol_bit(r.protocol)), &r.reason))
                        .collect()
                })
                .collect(),
        }
    }
}

/// Every (directory index, protocol) a mirror should carry, with its verdict; `lookup` for
/// many mirrors, none for one.
pub(super) fn pairs(
    snap: &Snapshot,
    lookup: Option<&Lookup<'_>>,
    at: u32,
) -> Vec<(usize, Protocol, Result<u8, NotServed>)> {
    let m = &snap.mirrors[at as usize];
    let family = if m.ipv4 || !m.ipv6 {
        Family::V4
    } else {
        Family::V6
    };
    let mut out = Vec::new();
    for (i, d) in snap.catalog.mirrored() {
        let urls = match &d.module {
            None => Some(&m.urls),
            Some(module) => m.module_urls.get(module),
        };
        for protocol in [Protocol::Http, Protocol::Https] {
            if !urls.is_some_and(|u| u.contains_key(&protocol)) {
                continue;
            }
            // A directory the master has no version of yet is nobody's to carry.
            if snap.directories[i].versions.is_empty() {
                continue;
            }
            let verdict = match lookup {
                Some(lookup) => {
                    let bit = protocol_bit(protocol);
                    let served = lookup.served[i]
                        .get(&at)
                        .copied()
                        .filter(|dm| dm.protocols & bit != 0);
                    let refused = lookup.refused[i].get(&(at, bit)).copied();
                    snap.verdict_of(at, protocol, family, served, refused)
                }
                None => snap.verdict(i, at, protocol, family),
            };
            out.push((i, protocol, verdict.map(|s| s.behind)));
        }
    }
    out
}

pub(super) fn standing(v: &Result<u8, NotServed>) -> Standing {
    match v {
        Ok(0) => Standing::Current,
        Ok(_) => Standing::Behind,
        Err(_) => Standing::NotServed,
    }
}

/// A copy's lag at the snapshot's time: see [`DirectoryVerdict::lag_seconds`].
pub(super) fn lag(snap: &Snapshot, directory: usize, v: &Result<u8, NotServed>) -> Option<i64> {
    match v {
        Ok(0) => Some(0),
        Ok(k) => snap.directories[directory]
            .versions
            .get(usize::from(*k) - 1)
            .map(|lacked| (snap.created_at - lacked.first_seen).max(0)),
        Err(NotServed::Behind { for_secs, .. } | NotServed::Intermediate { for_secs, .. }) => {
            Some((*for_secs).max(0))
        }
        Err(_) => None,
    }
}

pub(super) fn summary(
    snap: &Snapshot,
    at: u32,
    pairs: &[(usize, Protocol, Result<u8, NotServed>)],
) -> MirrorSummary {
    let m = &snap.mirrors[at as usize];
    let count = |s: Standing| pairs.iter().filter(|p| standing(&p.2) == s).count();
    let (current, behind, not_served) = (
        count(Standing::Current),
        count(Standing::Behind),
        count(Standing::NotServed),
    );
    let served = current + behind;
    let state = match (served, not_served) {
        (0, _) => MirrorState::NotServed,
        (_, 0) => MirrorState::Served,
        _ => MirrorState::Partly,
    };
    let reason = match (&m.refused, state) {
        (Some(why), _) => Some(why.to_string()),
        (None, MirrorState::NotServed) if pairs.is_empty() => {
            Some("no directory of the catalog to carry at its URLs".to_string())
        }
        (None, MirrorState::NotServed) => pairs
            .iter()
            .find_map(|p| p.2.as_ref().err())
            .map(|why| why.to_string()),
        _ => None,
    };
    MirrorSummary {
        name: m.name.clone(),
        sponsor: m.record.sponsor.clone(),
        state,
        reason,
        audience: m.audience.to_string(),
        public: m.audience.is_public(),
        country: m.country.clone(),
        continent: m.continent.clone(),
        urls: m
            .urls
            .iter()
            .map(|(p, u)| MirrorUrl {
                protocol: p.to_string(),
                url: u.clone(),
            })
            .collect(),
        ipv4: m.ipv4,
        ipv6: m.ipv6,
        checked_pairs: pairs.len(),
        current,
        behind,
        not_served,
        completion: if pairs.is_empty() {
            0.0
        } else {
            served as f64 / pairs.len() as f64
        },
        down: m
            .down
            .iter()
            .map(|(c, r)| Down {
                capability: c.clone(),
                reason: r.clone(),
            })
            .collect(),
        warnings: m.warnings.clone(),
        checked_at: m.record.checked_at,
        synced_at: m.record.synced_at,
        availability_24h: m.record.availability_24h,
        availability_7d: m.record.availability_7d,
        lag_seconds: pairs.iter().filter_map(|(i, _, v)| lag(snap, *i, v)).max(),
        mean_lag_24h: m.record.mean_lag_24h,
        mean_lag_7d: m.record.mean_lag_7d,
    }
}

/// One mirror's status in full, or `None` when no mirror has that name.
pub fn mirror(snap: &Snapshot, name: &str) -> Option<MirrorDetail> {
    let at = snap.mirrors.iter().position(|m| m.name == name)? as u32;
    let m = &snap.mirrors[at as usize];
    let pairs = pairs(snap, None, at);
    let directories = pairs
        .iter()
        .map(|(i, protocol, v)| {
            let (verdict, versions_behind, detail) = match v {
                Ok(0) => ("current", Some(0), String::new()),
                Ok(k) => (
                    "behind",
                    Some(u32::from(*k)),
                    format!(
                        "{k} version{} behind{}, still listed as an alternate",
                        if *k == 1 { "" } else { "s" },
                        lag(snap, *i, v)
                            .map(|secs| format!(" for {}", crate::duration::human_age(secs as u64)))
                            .unwrap_or_default()
                    ),
                ),
                Err(why) => (
                    "not_served",
                    match why {
                        NotServed::Behind { versions, .. }
                        | NotServed::Intermediate { versions, .. } => Some(*versions),
                        _ => None,
                    },
                    why.to_string(),
                ),
            };
            DirectoryVerdict {
                path: snap.catalog.directories[*i].path.clone(),
                protocol: protocol.to_string(),
                verdict: verdict.to_string(),
                versions_behind,
                lag_seconds: lag(snap, *i, v),
                detail,
            }
        })
        .collect();
    let place = match (&m.country, m.country_from) {
        (Some(c), Some(from)) => format!("{c} (from {from})"),
        (Some(c), None) => c.clone(),
        _ => "unknown (no geolocation in the registry, and its address is not located yet)"
            .to_string(),
    };
    let coordinates = match (m.latitude, m.longitude, m.coordinates_from) {
        (Some(lat), Some(lon), Some(from)) => format!("{lat:.2}, {lon:.2} (from {from})"),
        (Some(lat), Some(lon), None) => format!("{lat:.2}, {lon:.2}"),
        _ => "unknown: only the global tier reaches it".to_string(),
    };
    Some(MirrorDetail {
        api_version: API_VERSION,
        serial: snap.serial,
        generated_at: snap.created_at,
        summary: summary(snap, at, &pairs),
        placement: format!("{place}; coordinates {coordinates}"),
        directories,
        capabilities: m.record.capabilities.clone(),
        timeline: m.record.timeline.clone(),
        changes: m.record.changes.clone(),
        errors: m
            .record
            .errors
            .iter()
            .map(|(path, protocol, error)| CheckError {
                path: path.clone(),
                protocol: protocol.clone(),
                error: error.clone(),
            })
            .collect(),
    })
}
