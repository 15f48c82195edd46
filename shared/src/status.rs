//! The public view of a snapshot: the network's summary and each mirror's state and reasons,
//! as the status pages, the JSON API and `mirror-checker status --json` show them. A pure
//! function of the snapshot, so they cannot disagree with the answers. Private details are
//! not in it: no contact, no netblocks, no ASNs (a private mirror's audience is said in
//! words only).
//!
//! Field names are part of the API (`/api/v1/...`): add fields, never rename or remove one
//! within a version.

use crate::model::Family;
use crate::registry::Protocol;
use crate::snapshot::{protocol_bit, DirMirror, NotServed, Snapshot};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The API's version, in its paths (`/api/v1/`).
pub const API_VERSION: u32 = 1;

/// The whole network: `/api/v1/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkStatus {
    pub api_version: u32,
    /// The snapshot this was built from.
    pub serial: u64,
    /// When the checker built that snapshot (Unix seconds).
    pub generated_at: i64,
    pub distribution: String,
    pub mirrors_total: usize,
    /// Mirrors served for at least one directory (to whomever their audience is).
    pub mirrors_served: usize,
    /// When the master last published a new version of any directory (Unix seconds).
    pub master_published_at: Option<i64>,
    /// Per release and repository: how many mirrors carry it current, behind, not served.
    pub coverage: Vec<Coverage>,
    pub mirrors: Vec<MirrorSummary>,
    /// How each directory's current version reached the mirrors, newest publication first.
    pub propagation: Vec<PropagationSummary>,
}

/// Mirrors named in a propagation summary at most.
pub const MAX_BEHIND_NAMED: usize = 20;

/// How a directory's current version reached the mirrors watched since before its
/// publication (whose arrival the checker could time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropagationSummary {
    pub path: String,
    /// When the master published it (Unix seconds).
    pub published_at: i64,
    pub carriers: u32,
    /// How many of them serve it (or a newer one).
    pub arrived: u32,
    /// Seconds from publication until 50%, 90%, 99% of the carriers served it; `null` while
    /// not reached.
    pub p50: Option<i64>,
    pub p90: Option<i64>,
    pub p99: Option<i64>,
    /// How many carriers do not serve it yet, and the first of them by name.
    pub behind_count: u32,
    pub behind: Vec<String>,
}

/// The propagation summaries of a snapshot, newest publication first (ties by path).
pub fn propagation(snap: &Snapshot) -> Vec<PropagationSummary> {
    let mut out: Vec<PropagationSummary> = snap
        .directories
        .iter()
        .zip(&snap.catalog.directories)
        .filter_map(|(d, c)| {
            let p = d.propagation.as_ref()?;
            Some(PropagationSummary {
                path: c.path.clone(),
                published_at: p.published_at,
                carriers: p.carriers,
                arrived: p.arrived,
                p50: p.p50,
                p90: p.p90,
                p99: p.p99,
                behind_count: p.behind.len() as u32,
                behind: p
                    .behind
                    .iter()
                    .take(MAX_BEHIND_NAMED)
                    .filter_map(|at| snap.mirrors.get(*at as usize).map(|m| m.name.clone()))
                    .collect(),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.published_at
            .cmp(&a.published_at)
            .then_with(|| a.path.cmp(&b.path))
    });
    out
}

/// One release's repository across the network. A mirror counts once: `current` when every
/// directory of it the mirror should carry is served at the master's current version,
/// `behind` when each is served but some on an older version still listed (an alternate),
/// `not_served` when any is not served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub release: String,
    pub repo: String,
    pub directories: usize,
    pub current: usize,
    pub behind: usize,
    pub not_served: usize,
}

/// A mirror's state at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum MirrorState {
    /// Served for every directory it should carry.
    Served,
    /// Served for some directories, not for others.
    Partly,
    /// Served for none.
    NotServed,
}

impl MirrorState {
    pub fn as_str(self) -> &'static str {
        match self {
            MirrorState::Served => "served",
            MirrorState::Partly => "partly served",
            MirrorState::NotServed => "not served",
        }
    }
}

/// One of a mirror's URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorUrl {
    pub protocol: String,
    pub url: String,
}

/// A capability (`http`, `https`, `ipv4`, `ipv6`) the health rule took out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Down {
    pub capability: String,
    pub reason: String,
}

/// One mirror: a row of `/mirrors` and of `/api/v1/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MirrorSummary {
    pub name: String,
    pub sponsor: String,
    pub state: MirrorState,
    /// Why it is not served at all, when it is not.
    pub reason: Option<String>,
    /// To whom it is served, in words.
    pub audience: String,
    /// In the public pool (not private, not a cloud mirror).
    pub public: bool,
    pub country: Option<String>,
    pub continent: Option<String>,
    pub urls: Vec<MirrorUrl>,
    pub ipv4: bool,
    pub ipv6: bool,
    /// Directory × protocol pairs it should carry, and how they stand.
    pub checked_pairs: usize,
    pub current: usize,
    pub behind: usize,
    pub not_served: usize,
    /// Share of those pairs served (current or behind), 0 to 1.
    pub completion: f64,
    pub down: Vec<Down>,
    pub warnings: Vec<String>,
    /// When the checker last checked it (Unix seconds).
    pub checked_at: Option<i64>,
    /// When it last synced, by its TIME file.
    pub synced_at: Option<i64>,
    /// Share of the last 24 hours (7 days) at least one of its web protocols was up by the
    /// health rule, of the time its state was known; 0 to 1.
    pub availability_24h: Option<f64>,
    pub availability_7d: Option<f64>,
    /// Its worst directory's lag now, in seconds: how long ago the master published the
    /// first version that directory's copy lacks (0 when every copy is current; `null` when
    /// none of its copies can be told).
    pub lag_seconds: Option<i64>,
    /// Mean seconds from the master publishing a version until it served it, over the
    /// versions published in the last 24 hours (7 days): Arch Linux's `delay`, per version.
    pub mean_lag_24h: Option<i64>,
    pub mean_lag_7d: Option<i64>,
}

/// One directory over one protocol on one mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryVerdict {
    pub path: String,
    pub protocol: String,
    /// `current`, `behind` or `not_served`.
    pub verdict: String,
    /// Versions behind the master's current one (served or not), when known.
    pub versions_behind: Option<u32>,
    /// Seconds since the master published the first version this copy lacks (0 when
    /// current), when known.
    pub lag_seconds: Option<i64>,
    /// Why, in an operator's words (empty when current).
    pub detail: String,
}

/// One mirror in full: `/mirrors/{name}` and `/api/v1/mirrors/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MirrorDetail {
    pub api_version: u32,
    pub serial: u64,
    pub generated_at: i64,
    #[serde(flatten)]
    pub summary: MirrorSummary,
    /// Where it is placed and on whose word.
    pub placement: String,
    pub directories: Vec<DirectoryVerdict>,
    /// Every capability's state after the health rule, since when and why.
    pub capabilities: Vec<crate::snapshot::history::Capability>,
    /// The last 7 days: spans of up (`true`), down (`false`) or unknown (`null`).
    pub timeline: Vec<crate::snapshot::history::Span>,
    /// Its capabilities' state changes of the last 7 days, newest first.
    pub changes: Vec<crate::snapshot::history::Change>,
    /// Recent check errors.
    pub errors: Vec<CheckError>,
}

/// A check that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckError {
    pub path: String,
    pub protocol: String,
    pub error: String,
}

/// A pair's standing, for counting.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Standing {
    Current,
    Behind,
    NotServed,
}

/// Each directory's entries by mirror, looked up once for all verdicts (a linear search per
/// verdict made the real registry's pages take 130 ms longer to build).
struct Lookup<'a> {
    served: Vec<HashMap<u32, &'a DirMirror>>,
    refused: Vec<HashMap<(u32, u8), &'a NotServed>>,
}

impl<'a> Lookup<'a> {
    fn new(snap: &'a Snapshot) -> Lookup<'a> {
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
fn pairs(
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

fn standing(v: &Result<u8, NotServed>) -> Standing {
    match v {
        Ok(0) => Standing::Current,
        Ok(_) => Standing::Behind,
        Err(_) => Standing::NotServed,
    }
}

/// A copy's lag at the snapshot's time: see [`DirectoryVerdict::lag_seconds`].
fn lag(snap: &Snapshot, directory: usize, v: &Result<u8, NotServed>) -> Option<i64> {
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

fn summary(
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

/// The network's status.
pub fn network(snap: &Snapshot) -> NetworkStatus {
    let mut mirrors = Vec::with_capacity(snap.mirrors.len());
    // (release, repo) → (directories, per mirror its worst standing)
    let mut repos: BTreeMap<(String, String), (usize, BTreeMap<u32, Standing>)> = BTreeMap::new();
    for (i, d) in snap.catalog.mirrored() {
        if !snap.directories[i].versions.is_empty() {
            repos
                .entry((d.release.clone(), d.repo.clone()))
                .or_default()
                .0 += 1;
        }
    }
    let lookup = Lookup::new(snap);
    for at in 0..snap.mirrors.len() as u32 {
        let pairs = pairs(snap, Some(&lookup), at);
        for (i, _, v) in &pairs {
            let d = &snap.catalog.directories[*i];
            let worst = repos
                .get_mut(&(d.release.clone(), d.repo.clone()))
                .expect("every pair's directory is counted")
                .1
                .entry(at)
                .or_insert(Standing::Current);
            *worst = (*worst).max(standing(v));
        }
        mirrors.push(summary(snap, at, &pairs));
    }
    let coverage = repos
        .into_iter()
        .map(|((release, repo), (directories, by))| {
            let n = |s: Standing| by.values().filter(|w| **w == s).count();
            Coverage {
                release,
                repo,
                directories,
                current: n(Standing::Current),
                behind: n(Standing::Behind),
                not_served: n(Standing::NotServed),
            }
        })
        .collect();
    NetworkStatus {
        api_version: API_VERSION,
        serial: snap.serial,
        generated_at: snap.created_at,
        distribution: snap.catalog.spec.distribution.clone(),
        mirrors_total: snap.mirrors.len(),
        mirrors_served: mirrors
            .iter()
            .filter(|m| m.state != MirrorState::NotServed)
            .count(),
        master_published_at: snap
            .directories
            .iter()
            .filter_map(|d| d.versions.first().map(|v| v.first_seen))
            .max(),
        coverage,
        mirrors,
        propagation: propagation(snap),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RepomdVersion;
    use crate::testing::{all_current_input, example, make_missing, take_down};

    fn version(first_seen: i64) -> RepomdVersion {
        RepomdVersion {
            size: 1,
            timestamp: first_seen,
            md5: "m".into(),
            sha1: "s".into(),
            sha256: format!("sha{first_seen}"),
            sha512: "x".into(),
            first_seen,
        }
    }

    /// The example network, every mirror current, then three changed: one missing a
    /// directory, one disabled, one whose HTTPS is down. The counts, states and reasons the
    /// pages show follow.
    #[test]
    fn states_counts_and_reasons_follow_the_verdicts() {
        let catalog = crate::catalog::Catalog::load(&example("catalog.toml")).unwrap();
        let mut registry = crate::registry::import_dir(&example("mirrors.d"))
            .unwrap()
            .mirrors;
        let public: Vec<String> = registry
            .iter()
            .filter(|m| {
                !m.private
                    && m.cloud_type.is_none()
                    && m.urls.contains_key(&crate::registry::Protocol::Http)
                    && m.urls.contains_key(&crate::registry::Protocol::Https)
            })
            .map(|m| m.name.clone())
            .collect();
        let (missing, disabled, no_https) = (&public[0], &public[1], &public[2]);
        registry
            .iter_mut()
            .filter(|m| &m.name == disabled)
            .for_each(|m| m.enabled = false);
        let mut input = all_current_input(catalog, registry, |_| Some(version(1_000)));
        let id = |name: &str| {
            input
                .mirrors
                .iter()
                .find(|(_, m)| m.name == name)
                .unwrap()
                .0
        };
        let (missing_id, no_https_id) = (id(missing), id(no_https));
        make_missing(&mut input, missing_id, "9.8/BaseOS/x86_64/os");
        take_down(&mut input, no_https_id, "https", "certificate expired", 0);
        let snap = crate::snapshot::build(&input, 7, 2_000, "test");
        let status = network(&snap);
        assert_eq!(status.serial, 7);
        assert_eq!(status.mirrors_total, snap.mirrors.len());
        assert_eq!(
            status.mirrors_served,
            snap.mirrors.iter().filter(|m| m.refused.is_none()).count(),
            "served unless refused whole (disabled, not approved): {:#?}",
            status
                .mirrors
                .iter()
                .map(|m| (&m.name, m.state, &m.reason))
                .collect::<Vec<_>>()
        );
        assert_eq!(status.master_published_at, Some(1_000));
        let row = |name: &str| status.mirrors.iter().find(|m| m.name == name).unwrap();

        let m = row(missing);
        assert_eq!(m.state, MirrorState::Partly);
        assert_eq!(
            (m.not_served, m.behind),
            (2, 0),
            "HTTP and HTTPS of one directory"
        );
        assert_eq!(m.current + m.not_served, m.checked_pairs);
        let detail = mirror(&snap, missing).unwrap();
        let refused: Vec<_> = detail
            .directories
            .iter()
            .filter(|d| d.verdict == "not_served")
            .collect();
        assert_eq!(refused.len(), 2);
        assert!(refused
            .iter()
            .all(|d| d.path == "9.8/BaseOS/x86_64/os" && d.detail == "missing (HTTP 404)"));

        let m = row(disabled);
        assert_eq!(m.state, MirrorState::NotServed);
        assert_eq!(
            m.reason.as_deref(),
            Some("disabled in the registry (enabled: false)")
        );

        let m = row(no_https);
        assert_eq!(m.state, MirrorState::Partly, "HTTP still served");
        assert_eq!(
            m.down,
            vec![Down {
                capability: "https".into(),
                reason: "certificate expired".into()
            }]
        );
        assert!((m.completion - 0.5).abs() < 1e-9, "{}", m.completion);

        // BaseOS 9.8: the missing mirror is not served there, the disabled one not at all.
        let baseos = status
            .coverage
            .iter()
            .find(|c| c.release == "9.8" && c.repo == "baseos")
            .unwrap_or_else(|| panic!("{:#?}", status.coverage));
        assert!(baseos.not_served >= 2, "{baseos:?}");
        assert_eq!(
            baseos.current + baseos.behind + baseos.not_served,
            status
                .mirrors
                .iter()
                .filter(|m| m.checked_pairs > 0)
                .count(),
            "every mirror that carries BaseOS counts once: {baseos:?}"
        );
        assert!(mirror(&snap, "no.such.mirror").is_none());
        // The list (verdicts looked up once for all) and each mirror's page (looked up one
        // by one) agree.
        for m in &status.mirrors {
            assert_eq!(&mirror(&snap, &m.name).unwrap().summary, m);
        }
        // Private details are not in the JSON.
        let json = serde_json::to_string(&status).unwrap();
        for m in &snap.mirrors {
            for net in &m.subnets {
                assert!(!json.contains(&net.to_string()), "{net} shown");
            }
        }
    }

    /// A new version published an hour ago: mirrors still on the previous one are served
    /// as alternates, behind by one version for an hour; one that already has it is
    /// current, and its mean lag is the time it took.
    #[test]
    fn lags_follow_the_masters_publications() {
        const H: i64 = 3600;
        let now = 100 * H;
        let catalog = crate::catalog::Catalog::load(&example("catalog.toml")).unwrap();
        let registry = crate::registry::import_dir(&example("mirrors.d"))
            .unwrap()
            .mirrors;
        let mut input = all_current_input(catalog, registry, |_| Some(version(50 * H)));
        let path = "9.8/BaseOS/x86_64/os";
        let dir = input.directory_ids[path];
        input
            .history
            .get_mut(&dir)
            .unwrap()
            .insert(0, version(now - H));
        // The first mirror carrying it got the new version 20 minutes after publication.
        let fast = input
            .checks
            .iter()
            .find(|c| c.directory_id == dir)
            .unwrap()
            .mirror_id;
        for c in input
            .checks
            .iter_mut()
            .filter(|c| c.directory_id == dir && c.mirror_id == fast)
        {
            c.sha256 = Some(version(now - H).sha256);
            c.good_sha256 = c.sha256.clone();
        }
        for (sha, at, observed) in [(50 * H, 60 * H, false), (now - H, now - 40 * 60, true)] {
            input.arrivals.push(crate::snapshot::propagation::Arrival {
                mirror_id: fast,
                directory_id: dir,
                sha256: version(sha).sha256,
                at,
                observed,
            });
        }
        let snap = crate::snapshot::build(&input, 1, now, "test");
        let status = network(&snap);
        let fast_name = &input
            .mirrors
            .iter()
            .find(|(id, _)| *id == fast)
            .unwrap()
            .1
            .name;
        let served = status
            .mirrors
            .iter()
            .filter(|m| m.state == MirrorState::Served);
        assert!(served.clone().count() > 3);
        for m in served {
            let detail = mirror(&snap, &m.name).unwrap();
            let copy: Vec<_> = detail
                .directories
                .iter()
                .filter(|d| d.path == path)
                .collect();
            if &m.name == fast_name {
                assert_eq!(m.lag_seconds, Some(0));
                assert_eq!(m.mean_lag_24h, Some(20 * 60), "{m:?}");
                assert_eq!(m.mean_lag_7d, Some(20 * 60));
                assert!(copy.iter().all(|d| d.verdict == "current"));
            } else if !copy.is_empty() {
                assert_eq!(m.lag_seconds, Some(H), "{m:?}");
                assert_eq!(m.mean_lag_24h, None, "never watched: {m:?}");
                for d in copy {
                    assert_eq!(
                        (d.verdict.as_str(), d.versions_behind, d.lag_seconds),
                        ("behind", Some(1), Some(H))
                    );
                    assert_eq!(
                        d.detail,
                        "1 version behind for 60 min, still listed as an alternate"
                    );
                }
            }
        }
    }
}
