//! The verdict part of a mirror's status, from a snapshot: served or not, to whom, where it
//! is placed, and per directory what is not served and why.

use shared::model::Family;
use shared::snapshot::Snapshot;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The verdict part of the status, from a snapshot: served or not, to whom, where the mirror
/// is placed, its capabilities, and per directory what is not served and why.
pub fn verdicts(snap: &Snapshot, name: &str) -> Option<String> {
    let at = snap.mirrors.iter().position(|m| m.name == name)? as u32;
    let m = &snap.mirrors[at as usize];
    let mut out = String::new();
    if let Some(why) = &m.refused {
        let _ = writeln!(out, "  NOT SERVED: {why}");
    } else {
        let _ = writeln!(out, "  served to {}", m.audience);
    }
    let place = match (&m.country, m.country_from) {
        (Some(c), Some(from)) => format!("{c} (from {from})"),
        _ => "unknown (no geolocation in the registry, and its address is not located yet)"
            .to_string(),
    };
    let coordinates = match (m.latitude, m.longitude, m.coordinates_from) {
        (Some(lat), Some(lon), Some(from)) => format!("{lat:.2}, {lon:.2} (from {from})"),
        _ => "unknown: only the global tier reaches it".to_string(),
    };
    let _ = writeln!(out, "  placed in {place}; coordinates {coordinates}");
    for w in &m.warnings {
        let _ = writeln!(out, "  warning: {w}");
    }
    if m.refused.is_some() {
        return Some(out);
    }
    for (family, flag) in [(Family::V4, m.ipv4), (Family::V6, m.ipv6)] {
        if !flag {
            let why = m
                .down
                .iter()
                .find(|(c, _)| c == family.as_str())
                .map_or("not reached over it".to_string(), |(_, r)| r.clone());
            let _ = writeln!(out, "  not served over {family}: {why}");
        }
    }
    // Per directory and protocol, grouped by verdict.
    let (mut served, mut held) = (0usize, 0usize);
    let mut refused: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let family = if m.ipv4 { Family::V4 } else { Family::V6 };
    for (i, d) in snap.catalog.mirrored() {
        for protocol in [
            shared::registry::Protocol::Http,
            shared::registry::Protocol::Https,
        ] {
            let urls = match &d.module {
                None => Some(&m.urls),
                Some(module) => m.module_urls.get(module),
            };
            if !urls.is_some_and(|u| u.contains_key(&protocol)) {
                continue;
            }
            match snap.verdict(i, at, protocol, family) {
                Ok(s) => {
                    served += 1;
                    held += usize::from(s.held);
                }
                Err(why) => refused
                    .entry(format!("{protocol}: {why}"))
                    .or_default()
                    .push(d.path.clone()),
            }
        }
    }
    let _ = writeln!(
        out,
        "  {served} directory × protocol pairs served{}, {} not",
        if held > 0 {
            format!(
                " ({held} on the last good copy: their latest check failed, and the health \
                 rule has not taken the mirror out)"
            )
        } else {
            String::new()
        },
        refused.values().map(Vec::len).sum::<usize>()
    );
    for (why, paths) in &refused {
        let shown: Vec<&str> = paths.iter().take(3).map(String::as_str).collect();
        let more = paths.len().saturating_sub(shown.len());
        let _ = writeln!(
            out,
            "    not served, {why}: {}{}",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    Some(out)
}
