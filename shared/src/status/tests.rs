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
        c.sha256 = Some(version(now - H).sha256.into());
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
