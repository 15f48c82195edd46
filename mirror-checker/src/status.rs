//! The operator's view of one mirror: is it served, to whom, and if not, exactly why. The
//! verdicts are the snapshot's own: the store's state goes through the same pure
//! [`shared::snapshot::build`] a published snapshot comes from, so what this prints and what
//! the servers do cannot disagree.

use crate::config::Config;
use crate::error::{Error, Result};
use shared::model::{CheckOutcome, Family, HealthState};
use shared::snapshot::{self, Snapshot};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use store::Store;

pub async fn print(config: &Config, name: &str, json: bool) -> Result<()> {
    let store = config.open_existing_store().await?;
    if json {
        let snap = snapshot_now(&store).await?;
        let detail = shared::status::mirror(&snap, name)
            .ok_or_else(|| Error::UnknownMirror(name.to_string()))?;
        say!(
            "{}",
            serde_json::to_string_pretty(&detail).expect("serializable")
        );
    } else {
        crate::output::text(&render(&store, name).await?);
    }
    Ok(())
}

/// The snapshot the store would publish now.
async fn snapshot_now(store: &Store) -> Result<Snapshot> {
    let input = store.snapshot_input().await?.ok_or(Error::NoCatalog)?;
    Ok(snapshot::build(&input, 0, shared::time::now(), "status"))
}

/// One version's propagation as `propagation DIR --json` prints it.
#[derive(serde::Serialize)]
struct VersionReport {
    sha256: String,
    published_at: i64,
    carriers: u32,
    arrived: u32,
    p50: Option<i64>,
    p90: Option<i64>,
    p99: Option<i64>,
    behind: Vec<String>,
}

/// `propagation [DIR]`.
pub async fn propagation(
    config: &Config,
    directory: Option<&str>,
    versions: usize,
    json: bool,
) -> Result<()> {
    let store = config.open_existing_store().await?;
    let now = shared::time::now();
    let within = |t: Option<i64>| {
        t.map_or("not yet".to_string(), |s| {
            shared::duration::human_age(s.max(0) as u64)
        })
    };
    let Some(path) = directory else {
        let all = shared::status::propagation(&snapshot_now(&store).await?);
        if json {
            say!(
                "{}",
                serde_json::to_string_pretty(&all).expect("serializable")
            );
            return Ok(());
        }
        let width = all.iter().map(|p| p.path.len()).max().unwrap_or(9).max(9);
        say!(
            "{:<width$}  {:<10}  {:>9}  {:>7}  {:>7}  {:>7}  STILL BEHIND",
            "DIRECTORY",
            "PUBLISHED",
            "SERVING",
            "50%",
            "90%",
            "99%"
        );
        for p in &all {
            say!(
                "{:<width$}  {:<10}  {:>9}  {:>7}  {:>7}  {:>7}  {}",
                p.path,
                format!(
                    "{} ago",
                    shared::duration::human_age((now - p.published_at).max(0) as u64)
                ),
                format!("{}/{}", p.arrived, p.carriers),
                within(p.p50),
                within(p.p90),
                within(p.p99),
                match p.behind_count as usize {
                    0 => "none".to_string(),
                    n if n > p.behind.len() => {
                        format!("{} and {} more", p.behind.join(", "), n - p.behind.len())
                    }
                    _ => p.behind.join(", "),
                }
            );
        }
        say!(
            "SERVING: mirrors serving the current version (or a newer one) of those watched since \
             before its publication; 50/90/99%: how long after the publication that share of them \
             did. `propagation DIR` gives a directory's last versions."
        );
        return Ok(());
    };
    let input = store.snapshot_input().await?.ok_or(Error::NoCatalog)?;
    if !input.directory_ids.contains_key(path) {
        return Err(Error::Usage(format!(
            "no directory {path:?} in the catalog (`propagation` lists them)"
        )));
    }
    let reports: Vec<VersionReport> = snapshot::build::propagation_of(&input, path, versions)
        .into_iter()
        .map(|p| VersionReport {
            behind: p
                .behind
                .iter()
                .filter_map(|i| input.mirrors.get(*i as usize).map(|(_, m)| m.name.clone()))
                .collect(),
            sha256: p.sha256,
            published_at: p.published_at,
            carriers: p.carriers,
            arrived: p.arrived,
            p50: p.p50,
            p90: p.p90,
            p99: p.p99,
        })
        .collect();
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&reports).expect("serializable")
        );
        return Ok(());
    }
    say!("{path}: the last {} versions, newest first", reports.len());
    for r in &reports {
        say!(
            "  {} published {} ({}): {} of {} mirrors serve it; 50% after {}, 90% after {}, 99% after {}",
            &r.sha256[..r.sha256.len().min(12)],
            format!("{} ago", shared::duration::human_age((now - r.published_at).max(0) as u64)),
            shared::duration::utc_minute(r.published_at),
            r.arrived,
            r.carriers,
            within(r.p50),
            within(r.p90),
            within(r.p99)
        );
        if !r.behind.is_empty() {
            say!("    still behind: {}", r.behind.join(", "));
        }
    }
    Ok(())
}

/// `mirrors`: every mirror (or those matching the filters) with its state.
pub async fn list(
    config: &Config,
    state: Option<crate::cli::StateFilter>,
    country: Option<&str>,
    json: bool,
) -> Result<()> {
    use crate::cli::StateFilter;
    use shared::status::MirrorState;
    let store = config.open_existing_store().await?;
    let network = shared::status::network(&snapshot_now(&store).await?);
    let rows: Vec<_> = network
        .mirrors
        .iter()
        .filter(|m| match state {
            None => true,
            Some(StateFilter::Served) => m.state == MirrorState::Served,
            Some(StateFilter::Partly) => m.state == MirrorState::Partly,
            Some(StateFilter::NotServed) => m.state == MirrorState::NotServed,
            Some(StateFilter::Unserved) => m.state != MirrorState::Served,
        })
        .filter(|m| {
            country.is_none_or(|c| {
                m.country
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(c))
            })
        })
        .collect();
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&rows).expect("serializable")
        );
        return Ok(());
    }
    let width = rows.iter().map(|m| m.name.len()).max().unwrap_or(6).max(6);
    say!(
        "{:<width$}  {:<7}  {:<13}  {:>9}  {:>7}  {:<12}  WHY NOT / SERVED TO",
        "MIRROR",
        "COUNTRY",
        "STATE",
        "SERVED",
        "LAG",
        "CHECKED"
    );
    let now = shared::time::now();
    for m in &rows {
        say!(
            "{:<width$}  {:<7}  {:<13}  {:>9}  {:>7}  {:<12}  {}",
            m.name,
            m.country.as_deref().unwrap_or("?"),
            m.state.as_str(),
            format!("{}/{}", m.current + m.behind, m.checked_pairs),
            match m.lag_seconds {
                Some(0) => "0".to_string(),
                Some(s) => shared::duration::human_age(s.max(0) as u64),
                None => "?".to_string(),
            },
            m.checked_at.map_or("never".to_string(), |t| format!(
                "{} ago",
                shared::duration::human_age((now - t).max(0) as u64)
            )),
            m.reason.as_deref().unwrap_or(&m.audience)
        );
    }
    say!(
        "{} of {} mirrors listed; {} served. LAG: how long ago the master published the first \
         version its worst directory lacks. `status NAME` says why, directory by directory.",
        rows.len(),
        network.mirrors_total,
        network.mirrors_served
    );
    Ok(())
}

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

/// Everything `status` prints, as text.
pub async fn render(store: &Store, name: &str) -> Result<String> {
    let mirrors = store.load_mirrors_with_ids().await?;
    let Some((id, mirror)) = mirrors.iter().find(|(_, m)| m.name == name) else {
        return Err(Error::UnknownMirror(name.to_string()));
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}  (sponsor: {})", mirror.name, mirror.sponsor);
    let input = store.snapshot_input().await?.ok_or(Error::NoCatalog)?;
    let snap = snapshot::build(&input, 0, shared::time::now(), "status");
    out.push_str(&verdicts(&snap, name).unwrap_or_default());
    if let Some(l) = input.located.get(id) {
        let geoip = match (&l.country, l.latitude.zip(l.longitude)) {
            (Some(c), Some((lat, lon))) => format!("GeoIP: {c}, {lat:.2}, {lon:.2}"),
            (Some(c), None) => format!("GeoIP: {c}, no coordinates"),
            (None, _) => "not in the GeoIP database, or none is configured".to_string(),
        };
        let _ = writeln!(out, "  reached at {} ({geoip})", l.address);
    }
    if let Some(f) = store
        .fetched_subnets()
        .await?
        .into_iter()
        .find(|f| f.mirror_id == *id)
    {
        let _ = writeln!(
            out,
            "  subnets from {}: {} networks{}",
            mirror.subnets_url.as_deref().unwrap_or("its URL"),
            f.cidrs.len(),
            f.last_error.as_deref().map_or(String::new(), |e| format!(
                "; the last fetch failed ({e}), the last good list is kept"
            ))
        );
    }
    let health: Vec<_> = store
        .load_health()
        .await?
        .into_iter()
        .filter(|h| h.mirror_id == *id)
        .collect();
    if !health.is_empty() {
        let _ = writeln!(out, "  capabilities (after the health rule):");
    }
    for h in &health {
        let mark = match h.state {
            HealthState::Up => "up  ",
            HealthState::Down => "DOWN",
            HealthState::Unknown => "?   ",
        };
        let since = if h.since > 0 {
            format!(
                " (since {} ago, {})",
                shared::duration::human_age((shared::time::now() - h.since).max(0) as u64),
                shared::duration::utc_minute(h.since)
            )
        } else {
            String::new()
        };
        let _ = writeln!(out, "    {mark} {:<8} {}{since}", h.capability, h.reason);
    }
    for (capability, meaning) in [
        (
            "sync",
            "sync: the age of the mirror's TIME file, which its sync job writes; for \
             information: whether a directory is served depends on its repodata matching the \
             master's",
        ),
        (
            "content",
            "content: whether the mirror's copies match versions the master published",
        ),
    ] {
        if health.iter().any(|h| h.capability == capability) {
            let _ = writeln!(out, "    ({meaning})");
        }
    }
    let checks: Vec<_> = store
        .load_checks()
        .await?
        .into_iter()
        .filter(|c| c.mirror_id == *id)
        .collect();
    let mut by_outcome: BTreeMap<(String, CheckOutcome), usize> = BTreeMap::new();
    for c in &checks {
        *by_outcome
            .entry((c.protocol.to_string(), c.outcome))
            .or_default() += 1;
    }
    for ((protocol, outcome), n) in by_outcome {
        let _ = writeln!(out, "  {protocol:<5} {outcome:<15} {n} directories");
    }
    if let Some(st) = store
        .mirror_stats()
        .await?
        .into_iter()
        .find(|s| s.mirror_id == *id)
    {
        let sync = st.sync_age.map_or("no TIME file".to_string(), |a| {
            format!(
                "TIME file {} old",
                shared::duration::human_age(a.max(0) as u64)
            )
        });
        let _ = writeln!(
            out,
            "  last crawl at {}: {} requests, {} body bytes, {} answered 304; {sync}",
            st.checked_at, st.requests, st.bytes, st.not_modified
        );
        if !st.redirects_to.is_empty() {
            let _ = writeln!(
                out,
                "  redirects to other hosts: {} (followed)",
                st.redirects_to.join(", ")
            );
        }
    }
    if let Some(row) = store
        .schedule_rows()
        .await?
        .into_iter()
        .find(|r| r.mirror_id == *id)
    {
        let now = shared::time::now();
        let due = if row.due_at <= now {
            "due now".to_string()
        } else {
            format!(
                "next check in {}",
                shared::duration::human_age((row.due_at - now) as u64)
            )
        };
        let by = match (&row.last_checked_by, row.last_checked_at) {
            (Some(by), Some(at)) => format!("; last checked at {at} by {by}"),
            _ => String::new(),
        };
        let held = match (&row.holder, row.lease_until) {
            (Some(h), Some(until)) if until >= now => format!("; being checked by {h}"),
            _ => String::new(),
        };
        let _ = writeln!(out, "  {due}{by}{held}");
    }
    let events = store.health_events(*id, 10).await?;
    if !events.is_empty() {
        let _ = writeln!(out, "  recent changes:");
        for e in events {
            let _ = writeln!(
                out,
                "    {} {}: {} -> {}: {}",
                e.at, e.capability, e.old_state, e.new_state, e.reason
            );
        }
    }
    Ok(out)
}
