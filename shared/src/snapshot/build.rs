//! Building a snapshot from what the checker knows. Pure: same input, same snapshot. The
//! input is in the snapshot's own terms; the store fills it (`Store::snapshot_input`).

use super::verdict::{Audience, NotServed, Source};
use super::{protocol_bit, DirMirror, DirRefused, SnapDirectory, SnapMirror, Snapshot, Version};
use crate::catalog::Catalog;
use crate::model::{CheckOutcome, Family, HealthState, RepomdVersion};
use crate::registry::{Mirror, Protocol};
use std::collections::HashMap;
use std::net::IpAddr;

/// What the builder reads.
#[derive(Debug, Clone)]
pub struct SnapshotInput {
    pub catalog: Catalog,
    /// Every registered mirror: (store id, mirror).
    pub mirrors: Vec<(i64, Mirror)>,
    /// Directory path → store id.
    pub directory_ids: HashMap<String, i64>,
    /// Store directory id → versions, newest first.
    pub history: HashMap<i64, Vec<RepomdVersion>>,
    /// Store directory id → when its alternates were expired (`expire-alternates`).
    pub expired: HashMap<i64, i64>,
    /// The latest check of each mirror × directory × protocol: only the fields verdicts need,
    /// so a crawl's worth stays small in memory.
    pub checks: Vec<DirCheck>,
    pub health: Vec<CapabilityState>,
    /// Subnets fetched from mirrors' `subnets_url`, by store id.
    pub fetched_subnets: HashMap<i64, Vec<ipnet::IpNet>>,
    /// Where GeoIP places the address the checker reached each mirror at, by store id.
    pub located: HashMap<i64, Located>,
    /// What the checker recorded of each mirror's recent past, by store id.
    pub activity: HashMap<i64, Activity>,
    /// When mirrors first served the versions published in the last 7 days.
    pub arrivals: Vec<super::propagation::Arrival>,
}

/// A mirror's recent past as the store keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// Its last crawl, and the age of its TIME file then.
    pub checked_at: Option<i64>,
    pub sync_age: Option<i64>,
    /// Its capabilities' state changes of the last 7 days.
    pub changes: Vec<super::history::Change>,
}

/// The latest check of a directory on a mirror over a protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirCheck {
    pub mirror_id: i64,
    pub directory_id: i64,
    pub protocol: Protocol,
    pub outcome: CheckOutcome,
    /// The copy's sha256, when one was read.
    pub sha256: Option<String>,
    /// The last copy that matched a version of the master, kept across failed checks.
    pub good_sha256: Option<String>,
    /// For an intermediate copy (behind, not a version the checker knows): how many versions
    /// behind, and for how long.
    pub versions_behind: Option<i64>,
    pub lag_seconds: Option<i64>,
    pub http_status: Option<i64>,
    pub error: Option<String>,
}

/// A mirror's health for one capability (`http`, `https`, `ipv4`, `ipv6`, `content`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityState {
    pub mirror_id: i64,
    pub capability: String,
    pub state: HealthState,
    pub reason: String,
    /// Since when it has been in this state.
    pub since: i64,
}

/// GeoIP's answer for the address the checker reached a mirror at.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub address: IpAddr,
    pub country: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// The versions a metalink offers at `now`, newest first: the current one, then each older
/// one until the version that replaced it is older than `window` seconds (MirrorManager's
/// rule: a mirror one sync behind stays usable right after a push however old the previous
/// push was). Versions replaced at or before `expired_at` (`expire-alternates`) are not
/// offered.
pub fn alternates(
    history: &[RepomdVersion],
    now: i64,
    window: u64,
    expired_at: Option<i64>,
) -> Vec<RepomdVersion> {
    let oldest = now.saturating_sub(window as i64);
    let mut out: Vec<RepomdVersion> = history.iter().take(1).cloned().collect();
    for pair in history.windows(2) {
        let replaced_at = pair[0].first_seen;
        if replaced_at < oldest || expired_at.is_some_and(|e| replaced_at <= e) {
            break;
        }
        out.push(pair[1].clone());
    }
    out
}

/// [`alternates`] with no expiry.
pub fn versions_in_window(history: &[RepomdVersion], now: i64, window: u64) -> Vec<RepomdVersion> {
    alternates(history, now, window, None)
}

/// A mirror's capabilities as the verdicts read them.
struct Capabilities<'a> {
    states: HashMap<&'a str, &'a CapabilityState>,
}

impl<'a> Capabilities<'a> {
    fn state(&self, capability: &str) -> Option<HealthState> {
        self.states.get(capability).map(|s| s.state)
    }
    fn up(&self, capability: &str) -> bool {
        self.state(capability) == Some(HealthState::Up)
    }
    fn down(&self, capability: &str) -> Option<(String, String)> {
        let s = self.states.get(capability)?;
        (s.state == HealthState::Down).then(|| (capability.to_string(), s.reason.clone()))
    }
}

/// The mirror-wide part of its verdict.
struct MirrorVerdict {
    refused: Option<NotServed>,
    down: Vec<(String, String)>,
    ipv4: bool,
    ipv6: bool,
    /// Web protocols it may be served over (a URL, not down).
    protocols: Vec<Protocol>,
}

fn mirror_verdict(m: &Mirror, caps: &Capabilities) -> MirrorVerdict {
    let web: Vec<Protocol> = [Protocol::Http, Protocol::Https]
        .into_iter()
        .filter(|p| m.urls.contains_key(p) || m.module_urls.values().any(|u| u.contains_key(p)))
        .collect();
    let refuse = |r: NotServed| MirrorVerdict {
        refused: Some(r),
        down: Vec::new(),
        ipv4: false,
        ipv6: false,
        protocols: Vec::new(),
    };
    if !m.enabled {
        return refuse(NotServed::Disabled);
    }
    if !m.approved {
        return refuse(NotServed::NotApproved);
    }
    if !m.checked {
        return MirrorVerdict {
            refused: None,
            down: Vec::new(),
            ipv4: true,
            ipv6: true,
            protocols: web,
        };
    }
    if caps.states.is_empty() {
        return refuse(NotServed::NotCheckedYet);
    }
    let mut down = Vec::new();
    let mut protocols = Vec::new();
    for p in &web {
        match caps.down(p.as_str()) {
            Some(d) => down.push(d),
            None if caps.state(p.as_str()).is_some() => protocols.push(*p),
            None => {}
        }
    }
    let (v4, v6) = (Family::V4.as_str(), Family::V6.as_str());
    let (mut ipv4, ipv6) = (caps.up(v4), caps.up(v6));
    down.extend(caps.down(v4));
    down.extend(caps.down(v6));
    if caps.state(v4).is_none() && caps.state(v6).is_none() {
        // Families were not probed separately: the mirror was reached over IPv4.
        ipv4 = true;
    }
    // What made it unservable: its protocols, else its address families.
    let families = [v4, v6];
    let cause: Vec<&(String, String)> = down
        .iter()
        .filter(|(c, _)| families.contains(&c.as_str()) != protocols.is_empty())
        .collect();
    let refused = (protocols.is_empty() || (!ipv4 && !ipv6)).then(|| match cause.first() {
        None => NotServed::NotCheckedYet,
        Some((_, reason)) => NotServed::Down {
            capability: cause
                .iter()
                .map(|(c, _)| c.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            reason: reason.clone(),
        },
    });
    MirrorVerdict {
        refused,
        down,
        ipv4,
        ipv6,
        protocols,
    }
}

fn audience(m: &Mirror) -> Audience {
    if m.private {
        Audience::OwnNetworks { checked: m.checked }
    } else if let Some(provider) = &m.cloud_type {
        Audience::Cloud {
            provider: provider.clone(),
            regions: m.cloud_regions.clone(),
        }
    } else if !m.countries_allowed.is_empty() {
        Audience::Countries(m.countries_allowed.clone())
    } else {
        Audience::Everyone
    }
}

/// Where a mirror is: the registry's values win; GeoIP of its address fills what the registry
/// leaves out; a country's centroid stands in for missing coordinates. A registry country
/// GeoIP disagrees with is a warning, not an override.
struct Placement {
    country: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    country_from: Option<Source>,
    coordinates_from: Option<Source>,
    warnings: Vec<String>,
}

fn place(m: &Mirror, located: Option<&Located>) -> Placement {
    let mut warnings = Vec::new();
    let geoip_country = located.and_then(|l| l.country.clone());
    let (country, country_from) = match (&m.geo.country, &geoip_country) {
        (Some(c), _) => (Some(c.clone()), Some(Source::Registry)),
        (None, Some(c)) => (Some(c.clone()), Some(Source::Address)),
        (None, None) => (None, None),
    };
    if let (Some(registry), Some(geoip), Some(l)) = (&m.geo.country, &geoip_country, located) {
        if registry != geoip {
            warnings.push(format!(
                "the registry says {registry}; GeoIP puts its address {} in {geoip}",
                l.address
            ));
        }
    }
    let geoip_coordinates = located
        .filter(|_| geoip_country == country)
        .and_then(|l| l.latitude.zip(l.longitude));
    let (coordinates, coordinates_from) = if let Some(c) = m.geo.latitude.zip(m.geo.longitude) {
        (Some(c), Some(Source::Registry))
    } else if let Some(c) = geoip_coordinates {
        (Some(c), Some(Source::Address))
    } else if let Some(c) = country.as_deref().and_then(crate::geo::centroid) {
        (Some(c), Some(Source::CountryCentroid))
    } else {
        (None, None)
    };
    Placement {
        country,
        latitude: coordinates.map(|c| c.0),
        longitude: coordinates.map(|c| c.1),
        country_from,
        coordinates_from,
        warnings,
    }
}

/// One directory over one protocol, from its latest check.
fn directory_verdict(
    check: Option<&DirCheck>,
    offered: &[Version],
    history: &[RepomdVersion],
    content_up: bool,
    now: i64,
) -> Result<(u8, bool), NotServed> {
    let Some(c) = check else {
        return Err(NotServed::NotCheckedYet);
    };
    let position = |sha: &str| offered.iter().position(|v| v.sha256 == sha);
    let held = |fallback_allowed: bool, otherwise: NotServed| match c
        .good_sha256
        .as_deref()
        .and_then(position)
    {
        Some(k) if fallback_allowed => Ok((k.min(u8::MAX as usize) as u8, true)),
        _ => Err(otherwise),
    };
    match c.outcome {
        CheckOutcome::Current | CheckOutcome::Behind => {
            let sha = c.sha256.as_deref().unwrap_or_default();
            if let Some(k) = position(sha) {
                return Ok((k.min(u8::MAX as usize) as u8, false));
            }
            match history.iter().position(|v| v.sha256 == sha) {
                Some(k) if k > 0 => Err(NotServed::Behind {
                    versions: k as u32,
                    for_secs: now - history[k - 1].first_seen,
                }),
                // Current when checked, superseded since.
                Some(_) => Err(NotServed::Behind {
                    versions: 0,
                    for_secs: 0,
                }),
                None => Err(NotServed::Intermediate {
                    versions: c.versions_behind.unwrap_or(1).max(1) as u32,
                    for_secs: c.lag_seconds.unwrap_or(0),
                }),
            }
        }
        CheckOutcome::Missing => Err(NotServed::Missing {
            status: c.http_status.unwrap_or(404) as u16,
        }),
        CheckOutcome::Unknown => held(content_up, NotServed::UnknownContent),
        // Its repomd.xml is the one dnf gets: no earlier copy can stand in.
        CheckOutcome::Incomplete => Err(NotServed::HalfSynced {
            problem: c.error.clone().unwrap_or_else(|| "files missing".into()),
        }),
        // The protocol is up (a down one never gets here): the health rule is still weighing
        // the failure.
        CheckOutcome::Error => held(
            true,
            NotServed::CheckFailed {
                reason: c.error.clone().unwrap_or_else(|| "failed".into()),
            },
        ),
    }
}

/// Each mirror's copy of each directory as the lag and propagation figures read it, by
/// (mirror store id, directory store id).
fn copies(input: &SnapshotInput) -> HashMap<(i64, i64), super::propagation::Copy> {
    use super::propagation::Copy;
    let position: HashMap<(i64, &str), usize> = input
        .history
        .iter()
        .flat_map(|(dir, h)| {
            h.iter()
                .enumerate()
                .map(|(k, v)| ((*dir, v.sha256.as_str()), k))
        })
        .collect();
    let mut copies: HashMap<(i64, i64), Copy> = HashMap::new();
    for c in &input.checks {
        if !matches!(c.outcome, CheckOutcome::Current | CheckOutcome::Behind) {
            continue;
        }
        let Some(&k) = c
            .sha256
            .as_deref()
            .and_then(|sha| position.get(&(c.directory_id, sha)))
        else {
            continue;
        };
        let copy = copies.entry((c.mirror_id, c.directory_id)).or_default();
        copy.holds = Some(copy.holds.map_or(k, |held| held.min(k)));
    }
    for a in &input.arrivals {
        if let Some(&k) = position.get(&(a.directory_id, a.sha256.as_str())) {
            copies
                .entry((a.mirror_id, a.directory_id))
                .or_default()
                .add(k, a);
        }
    }
    copies
}

/// How the last `n` versions of the directory at `path` reached the mirrors, newest first;
/// `behind` holds indices into `input.mirrors`. Empty for a directory the store does not
/// know.
pub fn propagation_of(
    input: &SnapshotInput,
    path: &str,
    n: usize,
) -> Vec<super::propagation::Propagation> {
    let Some(dir) = input.directory_ids.get(path) else {
        return Vec::new();
    };
    let copies = copies(input);
    let of: Vec<(u32, &super::propagation::Copy)> = input
        .mirrors
        .iter()
        .enumerate()
        .filter_map(|(i, (id, _))| copies.get(&(*id, *dir)).map(|c| (i as u32, c)))
        .collect();
    let history = input.history.get(dir).map(Vec::as_slice).unwrap_or(&[]);
    (0..n.min(history.len()))
        .filter_map(|k| super::propagation::report(history, k, &of))
        .collect()
}

/// Each mirror's mean lag over the last 24 hours and 7 days, by store id.
fn mean_lags(
    input: &SnapshotInput,
    copies: &HashMap<(i64, i64), super::propagation::Copy>,
    now: i64,
) -> HashMap<i64, (Option<i64>, Option<i64>)> {
    use super::history::{DAY, WEEK};
    use super::propagation::{lags, mean};
    let mut by_mirror: HashMap<i64, (Vec<i64>, Vec<i64>)> = HashMap::new();
    for ((mirror, dir), copy) in copies {
        let Some(history) = input.history.get(dir) else {
            continue;
        };
        let week = lags(history, copy, now, WEEK);
        let day = lags(history, copy, now, DAY);
        let entry = by_mirror.entry(*mirror).or_default();
        entry.0.extend(day);
        entry.1.extend(week);
    }
    by_mirror
        .into_iter()
        .map(|(id, (day, week))| (id, (mean(&day), mean(&week))))
        .collect()
}

/// A mirror's history as the snapshot carries it (its recent errors are added with the
/// checks).
fn record(
    m: &Mirror,
    activity: Option<&Activity>,
    caps: &Capabilities,
    mean_lag: Option<&(Option<i64>, Option<i64>)>,
    now: i64,
) -> super::history::Record {
    use super::history::{availability, timeline, DAY, MAX_CHANGES, WEEK};
    let empty = Activity::default();
    let a = activity.unwrap_or(&empty);
    let web: Vec<(String, crate::model::HealthState)> = [Protocol::Http, Protocol::Https]
        .into_iter()
        .filter(|p| m.urls.contains_key(p))
        .map(|p| {
            let state = caps
                .state(p.as_str())
                .unwrap_or(crate::model::HealthState::Unknown);
            (p.as_str().to_string(), state)
        })
        .collect();
    let week = timeline(&a.changes, &web, now, WEEK);
    let mut changes = a.changes.clone();
    changes.sort_by_key(|c| std::cmp::Reverse(c.at));
    changes.truncate(MAX_CHANGES);
    let mut capabilities: Vec<super::history::Capability> = caps
        .states
        .values()
        .map(|s| super::history::Capability {
            capability: s.capability.clone(),
            state: s.state,
            since: s.since,
            reason: s.reason.clone(),
        })
        .collect();
    capabilities.sort_by(|a, b| a.capability.cmp(&b.capability));
    super::history::Record {
        sponsor: m.sponsor.clone(),
        sponsor_url: m.sponsor_url.clone(),
        capabilities,
        checked_at: a.checked_at,
        synced_at: a.checked_at.zip(a.sync_age).map(|(at, age)| at - age),
        availability_24h: availability(&timeline(&a.changes, &web, now, DAY)),
        availability_7d: availability(&week),
        mean_lag_24h: mean_lag.and_then(|l| l.0),
        mean_lag_7d: mean_lag.and_then(|l| l.1),
        timeline: week,
        changes,
        errors: Vec::new(),
    }
}

pub fn build(input: &SnapshotInput, serial: u64, now: i64, generator: &str) -> Snapshot {
    let catalog = &input.catalog;
    let mut health: HashMap<i64, Capabilities> = HashMap::new();
    for h in &input.health {
        health
            .entry(h.mirror_id)
            .or_insert_with(|| Capabilities {
                states: HashMap::new(),
            })
            .states
            .insert(h.capability.as_str(), h);
    }
    let none = Capabilities {
        states: HashMap::new(),
    };

    let copies = copies(input);
    let lags = mean_lags(input, &copies, now);
    let mut mirrors = Vec::with_capacity(input.mirrors.len());
    // Snapshot index → (store id, the mirror, its verdict).
    let mut verdicts = Vec::with_capacity(input.mirrors.len());
    let mut index: HashMap<i64, u32> = HashMap::new();
    for (id, m) in &input.mirrors {
        let caps = health.get(id).unwrap_or(&none);
        let v = mirror_verdict(m, caps);
        let mut subnets = m.subnets.clone();
        if let Some(fetched) = input.fetched_subnets.get(id) {
            subnets.extend(fetched.iter().filter(|n| !m.subnets.contains(n)));
        }
        let p = place(m, input.located.get(id));
        index.insert(*id, mirrors.len() as u32);
        mirrors.push(SnapMirror {
            name: m.name.clone(),
            refused: v.refused.clone(),
            audience: audience(m),
            down: v.down.clone(),
            continent: p
                .country
                .as_deref()
                .and_then(crate::geo::continent_of)
                .map(str::to_string),
            country: p.country,
            latitude: p.latitude,
            longitude: p.longitude,
            country_from: p.country_from,
            coordinates_from: p.coordinates_from,
            warnings: p.warnings,
            bandwidth_mbps: m.bandwidth_mbps,
            private: m.private,
            monopoly: m.monopoly,
            asns: m.asns.clone(),
            subnets,
            countries_allowed: m.countries_allowed.clone(),
            urls: m.urls.clone(),
            module_urls: m.module_urls.clone(),
            ipv4: v.ipv4,
            ipv6: v.ipv6,
            record: record(m, input.activity.get(id), caps, lags.get(id), now),
        });
        verdicts.push((*id, m, v, caps.up("content")));
    }

    let mut checks: HashMap<(i64, i64, Protocol), &DirCheck> = HashMap::new();
    for c in &input.checks {
        checks.insert((c.mirror_id, c.directory_id, c.protocol), c);
    }
    // Each mirror's recent errors, by directory path, a few of them.
    let paths: HashMap<i64, &str> = input
        .directory_ids
        .iter()
        .map(|(p, id)| (*id, p.as_str()))
        .collect();
    for c in &input.checks {
        let (Some(error), Some(&at)) = (&c.error, index.get(&c.mirror_id)) else {
            continue;
        };
        let path = paths.get(&c.directory_id).copied().unwrap_or("?");
        mirrors[at as usize].record.errors.push((
            path.to_string(),
            c.protocol.to_string(),
            error.clone(),
        ));
    }
    for m in &mut mirrors {
        m.record.errors.sort();
        m.record.errors.truncate(super::history::MAX_ERRORS);
    }
    let empty = Vec::new();
    let mut directories: Vec<SnapDirectory> =
        vec![SnapDirectory::default(); catalog.directories.len()];
    for (i, d) in catalog.directories.iter().enumerate() {
        let Some(&store_id) = input.directory_ids.get(&d.path) else {
            continue;
        };
        let history = input.history.get(&store_id).unwrap_or(&empty);
        let out = &mut directories[i];
        out.versions = alternates(
            history,
            now,
            catalog.alternates_window_secs(),
            input.expired.get(&store_id).copied(),
        )
        .iter()
        .map(Version::from)
        .collect();
        if d.vault_only {
            continue;
        }
        let of_directory: Vec<(u32, &super::propagation::Copy)> = verdicts
            .iter()
            .enumerate()
            .filter_map(|(at, (id, ..))| copies.get(&(*id, store_id)).map(|c| (at as u32, c)))
            .collect();
        out.propagation = super::propagation::report(history, 0, &of_directory);
        for (at, (id, m, v, content_up)) in verdicts.iter().enumerate() {
            if v.refused.is_some() {
                continue;
            }
            let (mut protocols, mut held, mut behind) = (0u8, 0u8, u8::MAX);
            for &p in &v.protocols {
                if m.base_url(d.module.as_deref(), p).is_none() {
                    continue;
                }
                let verdict = if m.checked {
                    directory_verdict(
                        checks.get(&(*id, store_id, p)).copied(),
                        &out.versions,
                        history,
                        *content_up,
                        now,
                    )
                } else {
                    Ok((0, false))
                };
                match verdict {
                    Ok((k, was_held)) => {
                        protocols |= protocol_bit(p);
                        if was_held {
                            held |= protocol_bit(p);
                        }
                        behind = behind.min(k);
                    }
                    Err(reason) => out.refused.push(DirRefused {
                        mirror: at as u32,
                        protocol: p,
                        reason,
                    }),
                }
            }
            if protocols != 0 {
                out.mirrors.push(DirMirror {
                    mirror: at as u32,
                    protocols,
                    behind,
                    held,
                });
            }
        }
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
