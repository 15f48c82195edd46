use super::*;
use crate::catalog::Catalog;
use crate::model::RepomdVersion;
use crate::model::{CheckOutcome, Family, HealthState};
use crate::registry::Mirror;
use crate::registry::Protocol;
use crate::snapshot::Audience;
use crate::snapshot::NotServed;
use crate::snapshot::{HTTP, HTTPS};
use crate::testing::example;

fn v(n: i64, first_seen: i64) -> RepomdVersion {
    RepomdVersion {
        size: 100,
        timestamp: first_seen - 60,
        md5: format!("{n:032x}"),
        sha1: format!("{n:040x}"),
        sha256: format!("{n:064x}"),
        sha512: format!("{n:0128x}"),
        first_seen,
    }
}

const H: i64 = 3600;
const NOW: i64 = 1_800_000_000;

#[test]
fn the_window_keeps_versions_replaced_recently() {
    // Newest first: v4 published 1 h ago, v3 5 h ago, v2 20 h ago, v1 30 h ago. Each older
    // version stays while the one that replaced it is younger than the window.
    let history = vec![
        v(4, NOW - H),
        v(3, NOW - 5 * H),
        v(2, NOW - 20 * H),
        v(1, NOW - 30 * H),
    ];
    let shas = |w: u64| {
        versions_in_window(&history, NOW, w)
            .iter()
            .map(|x| x.md5.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        shas(24 * 3600),
        vec![v(4, 0).md5, v(3, 0).md5, v(2, 0).md5, v(1, 0).md5],
        "v1 was replaced 20 h ago"
    );
    assert_eq!(shas(19 * 3600), vec![v(4, 0).md5, v(3, 0).md5, v(2, 0).md5]);
    assert_eq!(shas(4 * 3600), vec![v(4, 0).md5, v(3, 0).md5]);
    assert_eq!(shas(0), vec![v(4, 0).md5]);
    // The current version counts however old it is.
    assert_eq!(versions_in_window(&history[3..], NOW, 60).len(), 1);
    assert!(versions_in_window(&[], NOW, 100).is_empty());
}

/// MirrorManager's rule: a superseded version stays an alternate until the version that
/// replaced it is older than the window, however long ago it was itself published. A repo
/// pushed once a week keeps last week's version as an alternate right after a push.
#[test]
fn a_weekly_repo_keeps_last_weeks_version_right_after_a_push() {
    let window = 72 * 3600;
    let history = vec![
        v(3, NOW - H),
        v(2, NOW - 7 * 24 * H),
        v(1, NOW - 14 * 24 * H),
    ];
    let kept = |now: i64| {
        versions_in_window(&history, now, window)
            .iter()
            .map(|x| x.md5.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(kept(NOW), vec![v(3, 0).md5, v(2, 0).md5]);
    // Until v3 itself is older than the window.
    assert_eq!(kept(NOW + 71 * H), vec![v(3, 0).md5, v(2, 0).md5]);
    assert_eq!(kept(NOW + 73 * H), vec![v(3, 0).md5]);
}

/// A check that read a copy, classified the way the crawler does.
fn check(mirror: i64, dir: i64, protocol: Protocol, sha: Option<&str>) -> Option<DirCheck> {
    let sha = sha?.to_string();
    let known = (1..=4).any(|n| format!("{n:064x}") == sha);
    Some(DirCheck {
        mirror_id: mirror,
        directory_id: dir,
        protocol,
        outcome: if known {
            CheckOutcome::Behind
        } else {
            CheckOutcome::Unknown
        },
        good_sha256: known.then(|| sha.as_str().into()),
        sha256: Some(sha.into()),
        versions_behind: None,
        lag_seconds: None,
        http_status: Some(200),
        error: None,
    })
}

fn health(mirror: i64, capability: &str, state: HealthState) -> CapabilityState {
    CapabilityState {
        mirror_id: mirror,
        capability: capability.into(),
        state,
        reason: format!("{capability} {state}"),
        since: 0,
    }
}

#[test]
fn only_mirrors_holding_a_version_in_the_window_over_a_healthy_protocol_are_listed() {
    let catalog = Catalog::load(&example("catalog.toml")).unwrap();
    let directory_ids: HashMap<String, i64> = catalog
        .directories
        .iter()
        .enumerate()
        .map(|(i, d)| (d.path.clone(), 100 + i as i64))
        .collect();
    let dir = directory_ids["9.8/BaseOS/x86_64/os"];
    let source = directory_ids["9.8/BaseOS/Source"];
    let names = [
        "current",
        "one-behind",
        "three-behind",
        "unknown",
        "https-down",
        "disabled",
        "unapproved",
        "v6",
        "held",
    ];
    let mirrors: Vec<(i64, Mirror)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut m = Mirror::new(&format!("{n}.example.org"), "S");
            for p in [Protocol::Http, Protocol::Https] {
                m.urls.insert(p, format!("{p}://{n}.example.org/pub/"));
            }
            m.enabled = *n != "disabled";
            m.approved = *n != "unapproved";
            // An admin's hold wins over a file that says enabled and approved.
            m.held = (*n == "held").then(|| "serves malware".to_string());
            (i as i64 + 1, m)
        })
        .collect();
    // v1 was replaced 80 h ago, beyond the 72 h window.
    let history = vec![
        v(4, NOW - H),
        v(3, NOW - 5 * H),
        v(2, NOW - 80 * H),
        v(1, NOW - 96 * H),
    ];
    let sha = |n: i64| format!("{n:064x}");
    let mut checks = Vec::new();
    let mut healths = Vec::new();
    for (id, m) in &mirrors {
        let seen = match m.name.split('.').next().unwrap() {
            "one-behind" => Some(sha(3)),
            "three-behind" => Some(sha(1)),
            "unknown" => Some(sha(99)),
            _ => Some(sha(4)),
        };
        for p in [Protocol::Http, Protocol::Https] {
            checks.push(check(*id, dir, p, seen.as_deref()));
            checks.push(check(*id, source, p, seen.as_deref()));
            let state = if m.name.starts_with("https-down") && p == Protocol::Https {
                HealthState::Down
            } else {
                HealthState::Up
            };
            healths.push(health(*id, p.as_str(), state));
        }
        if m.name.starts_with("v6") {
            healths.push(health(*id, "ipv6", HealthState::Up));
            healths.push(health(*id, "ipv4", HealthState::Down));
        }
    }
    let input = SnapshotInput {
        catalog: catalog.clone(),
        mirrors,
        history: HashMap::from([(dir, history), (source, vec![v(4, NOW - H)])]),
        directory_ids,
        checks: checks.into_iter().flatten().collect(),
        health: healths,
        fetched_subnets: HashMap::new(),
        expired: HashMap::new(),
        located: HashMap::new(),
        activity: HashMap::new(),
        arrivals: Vec::new(),
        maintenance: HashMap::new(),
    };
    let snap = build(&input, 3, NOW, "test");
    assert_eq!(snap, build(&input, 3, NOW, "test"), "deterministic");
    assert_eq!(snap.mirrors.len(), 9, "every mirror, with its verdict");
    let refused: Vec<_> = snap
        .mirrors
        .iter()
        .filter_map(|m| m.refused.clone())
        .collect();
    let held = NotServed::Held {
        reason: "serves malware".into(),
    };
    assert_eq!(
        refused,
        vec![NotServed::Disabled, NotServed::NotApproved, held]
    );
    let d = &snap.directories[catalog.directory_index("9.8/BaseOS/x86_64/os").unwrap()];
    assert_eq!(
        d.versions.len(),
        3,
        "current plus the two alternates replaced within 3 days"
    );
    let three_behind = snap
        .mirrors
        .iter()
        .position(|m| m.name.starts_with("three-behind"))
        .unwrap() as u32;
    let dir_index = catalog.directory_index("9.8/BaseOS/x86_64/os").unwrap();
    assert_eq!(
        snap.verdict(dir_index, three_behind, Protocol::Https, Family::V4),
        Err(NotServed::Behind {
            versions: 3,
            for_secs: 80 * H
        })
    );
    assert_eq!(
        NotServed::Behind {
            versions: 3,
            for_secs: 80 * H
        }
        .to_string(),
        "behind by 3 versions for 3 d 8 h, beyond the alternates"
    );
    let listed: Vec<(&str, u8, u8)> = d
        .mirrors
        .iter()
        .map(|dm| {
            (
                snap.mirrors[dm.mirror as usize]
                    .name
                    .split('.')
                    .next()
                    .unwrap(),
                dm.protocols,
                dm.behind,
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            ("current", HTTP | HTTPS, 0),
            ("one-behind", HTTP | HTTPS, 1),
            ("https-down", HTTP, 0),
            ("v6", HTTP | HTTPS, 0)
        ]
    );
    let v6 = snap
        .mirrors
        .iter()
        .find(|m| m.name.starts_with("v6"))
        .unwrap();
    assert!(v6.ipv6 && !v6.ipv4);
    let current = snap
        .mirrors
        .iter()
        .find(|m| m.name.starts_with("current"))
        .unwrap();
    assert!(current.ipv4 && !current.ipv6);
    assert!(
        snap.directories[catalog.directory_index("9.8/BaseOS/Source").unwrap()]
            .mirrors
            .is_empty(),
        "vault-only directories list no mirrors"
    );
    assert_eq!(snap.up_to_date_pairs(), 4);
}

/// Registry values win; GeoIP of the checked address fills what the registry leaves out; a
/// country's centroid stands in for coordinates; a disagreeing registry country is a warning.
#[test]
fn mirrors_are_placed_by_registry_then_address_then_centroid() {
    use crate::snapshot::Source;
    let catalog = Catalog::load(&example("catalog.toml")).unwrap();
    let mk = |name: &str, country: Option<&str>| {
        let mut m = Mirror::new(name, "S");
        m.urls
            .insert(Protocol::Https, format!("https://{name}/pub/"));
        m.geo.country = country.map(str::to_string);
        m
    };
    let at = |ip: &str, country: Option<&str>, coords: Option<(f64, f64)>| Located {
        address: ip.parse().unwrap(),
        country: country.map(str::to_string),
        latitude: coords.map(|c| c.0),
        longitude: coords.map(|c| c.1),
    };
    let mirrors = vec![
        (1, mk("unregistered.example.si", None)),
        (2, mk("registered.example.de", Some("DE"))),
        (3, mk("disagrees.example.fr", Some("FR"))),
        (4, mk("country-only.example.jp", None)),
        (5, mk("nowhere.example.org", None)),
    ];
    let mut input = crate::testing::all_current_input(catalog, vec![], |_| None);
    input.mirrors = mirrors;
    input.located = HashMap::from([
        (1, at("193.2.1.66", Some("SI"), Some((46.05, 14.5)))),
        (2, at("198.51.100.2", Some("DE"), Some((50.1, 8.7)))),
        (3, at("198.51.100.3", Some("NL"), Some((52.4, 4.9)))),
        (4, at("2001:db8::4", Some("JP"), None)),
        (5, at("198.51.100.5", None, None)),
    ]);
    let snap = build(&input, 1, NOW, "test");
    let m = |name: &str| snap.mirrors.iter().find(|m| m.name == name).unwrap();
    let si = m("unregistered.example.si");
    assert_eq!(
        (si.country.as_deref(), si.continent.as_deref(), si.latitude),
        (Some("SI"), Some("EU"), Some(46.05))
    );
    assert_eq!(
        (si.country_from, si.coordinates_from),
        (Some(Source::Address), Some(Source::Address))
    );
    let de = m("registered.example.de");
    assert_eq!(
        (de.country_from, de.latitude),
        (Some(Source::Registry), Some(50.1))
    );
    assert_eq!(de.coordinates_from, Some(Source::Address));
    let fr = m("disagrees.example.fr");
    assert_eq!(fr.country.as_deref(), Some("FR"), "the registry wins");
    assert_eq!(fr.coordinates_from, Some(Source::CountryCentroid));
    assert_eq!(
        fr.warnings,
        vec!["the registry says FR; GeoIP puts its address 198.51.100.3 in NL".to_string()]
    );
    let jp = m("country-only.example.jp");
    assert_eq!(
        (jp.country.as_deref(), jp.coordinates_from),
        (Some("JP"), Some(Source::CountryCentroid))
    );
    assert_eq!(
        (jp.latitude, jp.longitude),
        crate::geo::centroid("JP").map_or((None, None), |c| (Some(c.0), Some(c.1)))
    );
    let nowhere = m("nowhere.example.org");
    assert_eq!((nowhere.country.as_deref(), nowhere.latitude), (None, None));
}

/// After `expire-alternates`, only mirrors with the newest version are served; a private
/// mirror marked `checked: false` is served, unchecked, to its own networks only, while a
/// checked one waits for its first check.
#[test]
fn expired_alternates_and_unchecked_private_mirrors() {
    let catalog = Catalog::load(&example("catalog.toml")).unwrap();
    let path = "9.8/BaseOS/x86_64/os";
    let index = catalog.directory_index(path).unwrap();
    let dir = index as i64;
    let mk = |name: &str, private: bool, checked: bool| {
        let mut m = Mirror::new(name, "S");
        m.urls
            .insert(Protocol::Https, format!("https://{name}/pub/"));
        m.private = private;
        m.checked = checked;
        if private {
            m.subnets = vec!["192.0.2.0/24".parse().unwrap()];
        }
        m
    };
    let mut input = crate::testing::all_current_input(catalog, vec![], |_| None);
    input.mirrors = vec![
        (1, mk("current.example.org", false, true)),
        (2, mk("behind.example.org", false, true)),
        (3, mk("firewalled.example.org", true, false)),
        (4, mk("private.example.org", true, true)),
    ];
    input.history = HashMap::from([(dir, vec![v(4, NOW - H), v(3, NOW - 5 * H)])]);
    input.checks = vec![
        check(1, dir, Protocol::Https, Some(&format!("{:064x}", 4))).unwrap(),
        check(2, dir, Protocol::Https, Some(&format!("{:064x}", 3))).unwrap(),
    ];
    input.health = [1, 2]
        .into_iter()
        .flat_map(|id| ["https", "ipv4", "ipv6"].map(|c| health(id, c, HealthState::Up)))
        .collect();
    let listed = |snap: &Snapshot| -> Vec<String> {
        snap.directories[index]
            .mirrors
            .iter()
            .map(|dm| snap.mirrors[dm.mirror as usize].name.clone())
            .collect()
    };
    let snap = build(&input, 1, NOW, "test");
    assert_eq!(
        listed(&snap),
        [
            "current.example.org",
            "behind.example.org",
            "firewalled.example.org"
        ]
    );
    let firewalled = snap
        .mirrors
        .iter()
        .find(|m| m.name.starts_with("firewalled"))
        .unwrap();
    assert_eq!(
        firewalled.audience,
        Audience::OwnNetworks { checked: false }
    );
    let private = snap
        .mirrors
        .iter()
        .find(|m| m.name.starts_with("private"))
        .unwrap();
    assert_eq!(private.refused, Some(NotServed::NotCheckedYet));

    input.expired = HashMap::from([(dir, NOW - 60)]);
    let snap = build(&input, 2, NOW, "test");
    assert_eq!(
        listed(&snap),
        ["current.example.org", "firewalled.example.org"]
    );
    let refused = &snap.directories[index].refused;
    assert_eq!(
        refused.iter().map(|r| r.reason.clone()).collect::<Vec<_>>(),
        vec![NotServed::Behind {
            versions: 1,
            for_secs: H
        }]
    );
    assert_eq!(
        refused[0].reason.to_string(),
        "behind by 1 version for 60 min, beyond the alternates"
    );
}
