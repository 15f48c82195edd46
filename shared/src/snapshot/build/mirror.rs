//! Each mirror as the snapshot carries it: whether it is served at all and over what
//! (its capabilities' health), to whom, where it is, and its history.

use super::input::*;
use crate::model::{Family, HealthState};
use crate::registry::{Mirror, Protocol};
use crate::snapshot::verdict::{Audience, NotServed, Source};
use crate::snapshot::SnapMirror;
use std::collections::HashMap;

/// A mirror's capabilities as the verdicts read them.
#[derive(Default)]
pub(super) struct Capabilities<'a> {
    pub(super) states: HashMap<&'a str, &'a CapabilityState>,
}

impl<'a> Capabilities<'a> {
    fn state(&self, capability: &str) -> Option<HealthState> {
        self.states.get(capability).map(|s| s.state)
    }
    pub(super) fn up(&self, capability: &str) -> bool {
        self.state(capability) == Some(HealthState::Up)
    }
    fn down(&self, capability: &str) -> Option<(String, String)> {
        let s = self.states.get(capability)?;
        (s.state == HealthState::Down).then(|| (capability.to_string(), s.reason.clone()))
    }
}

/// The mirror-wide part of its verdict.
pub(super) struct MirrorVerdict {
    pub(super) refused: Option<NotServed>,
    down: Vec<(String, String)>,
    ipv4: bool,
    ipv6: bool,
    /// Web protocols it may be served over (a URL, not down).
    pub(super) protocols: Vec<Protocol>,
}

pub(super) fn mirror_verdict(m: &Mirror, caps: &Capabilities) -> MirrorVerdict {
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
    if let Some(reason) = &m.held {
        return refuse(NotServed::Held {
            reason: reason.clone(),
        });
    }
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

pub(super) fn audience(m: &Mirror) -> Audience {
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
pub(super) struct Placement {
    country: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    country_from: Option<Source>,
    coordinates_from: Option<Source>,
    warnings: Vec<String>,
}

pub(super) fn place(m: &Mirror, located: Option<&Located>) -> Placement {
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

/// A mirror's history as the snapshot carries it (its recent errors are added with the
/// checks).
pub(super) fn record(
    m: &Mirror,
    activity: Option<&Activity>,
    caps: &Capabilities,
    mean_lag: Option<&(Option<i64>, Option<i64>)>,
    now: i64,
) -> crate::snapshot::history::Record {
    use crate::snapshot::history::{availability, timeline, DAY, MAX_CHANGES, WEEK};
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
    let mut capabilities: Vec<crate::snapshot::history::Capability> = caps
        .states
        .values()
        .map(|s| crate::snapshot::history::Capability {
            capability: s.capability.clone(),
            state: s.state,
            since: s.since,
            reason: s.reason.clone(),
        })
        .collect();
    capabilities.sort_by(|a, b| a.capability.cmp(&b.capability));
    crate::snapshot::history::Record {
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

/// The mirror as the snapshot carries it.
pub(super) fn snap_mirror(
    input: &SnapshotInput,
    id: i64,
    m: &Mirror,
    v: &MirrorVerdict,
    caps: &Capabilities,
    mean_lag: Option<&(Option<i64>, Option<i64>)>,
    now: i64,
) -> SnapMirror {
    let mut subnets = m.subnets.clone();
    if let Some(fetched) = input.fetched_subnets.get(&id) {
        subnets.extend(fetched.iter().filter(|n| !m.subnets.contains(n)));
    }
    let p = place(m, input.located.get(&id));
    SnapMirror {
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
        record: record(m, input.activity.get(&id), caps, mean_lag, now),
        maintenance: windows(input, id),
    }
}

/// The mirror's windows still to come or holding, and those ended that no good check has
/// confirmed yet (the store marks them `awaiting_check`), which hold until one does.
fn windows(input: &SnapshotInput, id: i64) -> Vec<crate::snapshot::maintenance::Window> {
    let mut out = input.maintenance.get(&id).cloned().unwrap_or_default();
    out.sort_by_key(|w| (w.from, w.until));
    out
}
