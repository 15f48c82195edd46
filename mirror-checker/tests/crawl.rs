//! The checker against a simulated mirror network: every outcome the crawl must recognise,
//! the alternates window, hysteresis, the 70% rule, interruption and conditional requests.

use mirror_checker::config::Config;
use mirror_checker::http::{ConnectTo, HttpConfig};
use mirror_checker::service::Checker;
use mirror_sim::{Behavior, Families, Mix, Profile, Sim, SimOptions};
use shared::catalog::Catalog;
use shared::duration::Human;
use shared::model::{CheckOutcome, HealthState};
use shared::registry::{Mirror, Protocol};
use shared::snapshot;
use shared::testing::example;
use shared::testing::AllOf;
use std::collections::HashMap;
use std::time::Duration;
use store::CheckRecord;
use tokio_util::sync::CancellationToken;

const DAY: i64 = 86_400;

fn mirror(name: &str) -> Mirror {
    let mut m = Mirror::new(name, "Sim");
    m.urls.insert(Protocol::Http, format!("http://{name}/pub/"));
    m.urls
        .insert(Protocol::Https, format!("https://{name}/pub/"));
    m.module_urls.insert(
        "kitten".into(),
        [(Protocol::Https, format!("https://{name}/kitten/"))].into(),
    );
    m.geo.country = Some("DE".into());
    m
}

struct Net {
    sim: Sim,
    checker: Checker,
    catalog: Catalog,
    _dir: tempfile::TempDir,
}

impl Net {
    async fn start(profiles: &[(&str, Behavior, Families)], mix: Mix) -> Net {
        let catalog = Catalog::load(&example("catalog.toml")).unwrap();
        let mirrors: Vec<Mirror> = profiles.iter().map(|(n, _, _)| mirror(n)).collect();
        let overrides = profiles
            .iter()
            .map(|(n, b, f)| {
                (
                    n.to_string(),
                    Profile {
                        behavior: *b,
                        families: *f,
                    },
                )
            })
            .collect();
        let sim = Sim::start(
            &catalog,
            &mirrors,
            SimOptions {
                overrides,
                mix,
                ..SimOptions::default()
            },
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, sim.ca_pem()).unwrap();
        let mut config = Config {
            database: format!("sqlite://{}", dir.path().join("state.db").display()),
            snapshot_path: dir.path().join("snapshot.bin"),
            ..Config::default()
        };
        config.master.url = sim.master_url();
        config.master.modules = sim.master_module_urls();
        config.master.vault = sim.vault_url();
        config.http = HttpConfig {
            connect_to: sim
                .routes()
                .iter()
                .map(|r| ConnectTo {
                    host: r.host.clone(),
                    port: r.port,
                    addrs: r.addrs.clone(),
                })
                .collect(),
            extra_ca_files: vec![ca],
            connect_timeout: Human::millis(1000),
            first_byte_timeout: Human::millis(1500),
            total_timeout: Human::millis(2000),
            ..HttpConfig::default()
        };
        config.crawl.retry_backoff = Human::millis(10);
        let checker = Checker::new(config).await.unwrap();
        checker.store.save_catalog(&catalog).await.unwrap();
        checker.store.apply_registry(&mirrors, true).await.unwrap();
        Net {
            sim,
            checker,
            catalog,
            _dir: dir,
        }
    }

    async fn checks_of(&self, name: &str) -> Vec<CheckRecord> {
        let id = self.id(name).await;
        self.checker
            .store
            .load_checks()
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.mirror_id == id)
            .collect()
    }

    async fn id(&self, name: &str) -> i64 {
        self.checker
            .store
            .load_mirrors_with_ids()
            .await
            .unwrap()
            .into_iter()
            .find(|(_, m)| m.name == name)
            .unwrap()
            .0
    }

    async fn health(&self, name: &str, capability: &str) -> (HealthState, String) {
        let id = self.id(name).await;
        let h = self
            .checker
            .store
            .load_health()
            .await
            .unwrap()
            .into_iter()
            .find(|h| h.mirror_id == id && h.capability == capability);
        h.map_or((HealthState::Unknown, String::new()), |h| {
            (h.state, h.reason)
        })
    }

    fn snapshot(&self) -> snapshot::Snapshot {
        snapshot::read(&self.checker.config.snapshot_path).unwrap()
    }

    /// Directories listing `name` in the snapshot, with the protocol bits.
    fn listed(&self, name: &str) -> Vec<(String, u8)> {
        let snap = self.snapshot();
        let Some(index) = snap.mirrors.iter().position(|m| m.name == name) else {
            return Vec::new();
        };
        snap.directories
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                d.mirrors
                    .iter()
                    .find(|m| m.mirror as usize == index)
                    .map(|m| (snap.catalog.directories[i].path.clone(), m.protocols))
            })
            .collect()
    }

    /// The master publishes versions 2..=4 with first-seen times 5, 4 and 1 days ago, and the
    /// current one now: a mirror one version behind is within the 3-day window, three behind
    /// is not.
    async fn publish_history(&self) {
        let now = shared::time::now();
        self.checker.scan(now - 5 * DAY).await.unwrap();
        for at in [now - 4 * DAY, now - DAY, now] {
            self.sim.publish();
            let report = self.checker.scan(at).await.unwrap();
            assert!(report.errors.is_empty(), "{:?}", report.errors);
        }
        assert_eq!(self.sim.version(), 4);
    }
}

fn outcomes(checks: &[CheckRecord], protocol: Protocol) -> HashMap<CheckOutcome, usize> {
    let mut out = HashMap::new();
    for c in checks.iter().filter(|c| c.protocol == protocol) {
        *out.entry(c.outcome).or_default() += 1;
    }
    out
}

fn errors(checks: &[CheckRecord]) -> Vec<String> {
    checks.iter().filter_map(|c| c.error.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_outcome_is_recognised_and_only_servable_copies_are_listed() {
    use Behavior::*;
    let d = Families::Dual;
    let net = Net::start(
        &[
            ("current.sim.test", Current, d),
            ("current2.sim.test", Current, d),
            ("current3.sim.test", Current, d),
            ("current4.sim.test", Current, d),
            ("behind1.sim.test", Behind(1), d),
            ("behind3.sim.test", Behind(3), d),
            ("missing.sim.test", MissingRepos, d),
            ("notfound.sim.test", NotFound, d),
            ("error.sim.test", ServerError, d),
            ("slow.sim.test", Slow(Duration::from_millis(100)), d),
            ("hang.sim.test", HangAfterHeaders, d),
            ("truncated.sim.test", Truncated, d),
            ("oversized.sim.test", Oversized(100 << 20), d),
            ("loop.sim.test", RedirectLoop, d),
            ("selfsigned.sim.test", SelfSigned, d),
            ("refused.sim.test", Refused, d),
            ("v4only.sim.test", Current, Families::V4),
            ("v6only.sim.test", Current, Families::V6),
        ],
        Mix::Realistic,
    )
    .await;
    net.publish_history().await;
    let summary = net
        .checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    assert!(!summary.judgement.run.ignored, "{}", summary.describe());
    let dirs = net.catalog.mirrored().count();
    let main_dirs = net
        .catalog
        .mirrored()
        .filter(|(_, d)| d.module.is_none())
        .count();

    let current = net.checks_of("current.sim.test").await;
    assert_eq!(
        outcomes(&current, Protocol::Https),
        HashMap::from([(CheckOutcome::Current, dirs)])
    );
    assert_eq!(
        outcomes(&current, Protocol::Http),
        HashMap::from([(CheckOutcome::Current, main_dirs)])
    );
    assert_eq!(net.listed("current.sim.test").len(), dirs);
    assert_eq!(
        net.health("current.sim.test", "content").await,
        (HealthState::Up, format!("all {dirs} directories current"))
    );

    let behind1 = net.checks_of("behind1.sim.test").await;
    assert!(behind1
        .iter()
        .all_of(|c| c.outcome == CheckOutcome::Behind && c.versions_behind == Some(1)));
    let lag = behind1[0].lag_seconds.unwrap();
    assert!(
        (0..600).contains(&lag),
        "the version it lacks was published just now: {lag}"
    );
    assert_eq!(
        net.listed("behind1.sim.test").len(),
        dirs,
        "one behind is served through the alternates"
    );

    let behind3 = net.checks_of("behind3.sim.test").await;
    assert!(behind3
        .iter()
        .all_of(|c| c.outcome == CheckOutcome::Behind && c.versions_behind == Some(3)));
    assert!(
        net.listed("behind3.sim.test").is_empty(),
        "three behind is outside the window"
    );
    let (state, reason) = net.health("behind3.sim.test", "content").await;
    assert_eq!(state, HealthState::Down);
    assert!(reason.contains("3 versions behind for 4 d"), "{reason}");
    // The snapshot says the same, per directory.
    let snap = net.snapshot();
    let at = snap
        .mirrors
        .iter()
        .position(|m| m.name == "behind3.sim.test")
        .unwrap() as u32;
    let base = net.catalog.directory_index("9.8/BaseOS/x86_64/os").unwrap();
    let why = snap
        .verdict(base, at, Protocol::Https, shared::model::Family::V4)
        .unwrap_err()
        .to_string();
    assert!(why.starts_with("behind by 3 versions for 4 d"), "{why}");

    let missing = net.checks_of("missing.sim.test").await;
    let listed: Vec<String> = net
        .listed("missing.sim.test")
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert!(
        !listed.is_empty() && listed.iter().all_of(|p| p.contains("/BaseOS/")),
        "{listed:?}"
    );
    assert!(missing
        .iter()
        .any(|c| c.outcome == CheckOutcome::Missing && c.http_status == Some(404)));

    let notfound = net.checks_of("notfound.sim.test").await;
    assert!(notfound
        .iter()
        .all_of(|c| c.outcome == CheckOutcome::Missing));
    assert_eq!(
        net.health("notfound.sim.test", "https").await.0,
        HealthState::Up,
        "a 404 is an answer"
    );

    let error = net.checks_of("error.sim.test").await;
    assert!(error
        .iter()
        .all_of(|c| c.outcome == CheckOutcome::Error && c.error.as_deref() == Some("HTTP 500")));
    assert_eq!(
        net.health("error.sim.test", "http").await,
        (HealthState::Down, "http: HTTP 500".into())
    );

    assert_eq!(net.listed("slow.sim.test").len(), dirs);

    for (name, fragment) in [
        ("hang.sim.test", "timed out"),
        ("truncated.sim.test", "body truncated"),
        (
            "oversized.sim.test",
            "response larger than 1048576 bytes; cut",
        ),
        ("loop.sim.test", "redirect loop"),
        ("refused.sim.test", "connection failed"),
    ] {
        let checks = net.checks_of(name).await;
        assert!(
            checks.iter().all_of(|c| c.outcome == CheckOutcome::Error),
            "{name}"
        );
        let errs = errors(&checks);
        assert!(
            errs.iter().any(|e| e.contains(fragment)),
            "{name}: {errs:?}"
        );
        assert!(net.listed(name).is_empty(), "{name}");
    }
    // A hanging or refusing host is not knocked on for every directory: the breaker stops it.
    for name in ["hang.sim.test", "refused.sim.test"] {
        let errs = errors(&net.checks_of(name).await);
        assert!(
            errs.iter().filter(|e| e.starts_with("not tried:")).count() > errs.len() / 2,
            "{name}: {errs:?}"
        );
    }
    let (hang_requests, _, _) = net.sim.stats("hang.sim.test");
    assert!(
        hang_requests < 40,
        "{hang_requests} requests to a hanging host"
    );

    let selfsigned = net.checks_of("selfsigned.sim.test").await;
    assert!(outcomes(&selfsigned, Protocol::Https).get(&CheckOutcome::Error) == Some(&dirs));
    assert!(
        errors(&selfsigned)
            .iter()
            .any(|e| e.contains("certificate not trusted")),
        "{:?}",
        errors(&selfsigned)
    );
    assert_eq!(
        outcomes(&selfsigned, Protocol::Http),
        HashMap::from([(CheckOutcome::Current, main_dirs)])
    );
    let listed = net.listed("selfsigned.sim.test");
    assert!(
        !listed.is_empty() && listed.iter().all_of(|(_, bits)| *bits == snapshot::HTTP),
        "served over http only: {listed:?}"
    );
    let (state, reason) = net.health("selfsigned.sim.test", "https").await;
    assert_eq!(state, HealthState::Down);
    assert!(
        reason.starts_with("https: TLS: certificate not trusted"),
        "{reason}"
    );

    let snap = net.snapshot();
    let v4 = snap
        .mirrors
        .iter()
        .find(|m| m.name == "v4only.sim.test")
        .unwrap();
    assert!(v4.ipv4 && !v4.ipv6);
    assert_eq!(
        net.health("v4only.sim.test", "ipv6").await,
        (
            HealthState::Down,
            "ipv6: the host has no ipv6 address".into()
        )
    );
    if net.sim.http_v6.is_some() {
        let v6 = snap
            .mirrors
            .iter()
            .find(|m| m.name == "v6only.sim.test")
            .unwrap();
        assert!(v6.ipv6 && !v6.ipv4);
        let dual = snap
            .mirrors
            .iter()
            .find(|m| m.name == "current.sim.test")
            .unwrap();
        assert!(dual.ipv4 && dual.ipv6);
        assert_eq!(net.listed("v6only.sim.test").len(), dirs);
    } else {
        shared::testing::skip("its IPv6 part needs ::1, which this machine does not have");
    }
    // The snapshot's versions: current plus the alternates whose replacement is younger than
    // the window (v3 was replaced now, v2 a day ago, v1 four days ago: v3 and v2 stay).
    assert_eq!(snap.directories[base].versions.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_crawl_uses_conditional_requests_and_a_new_version_is_picked_up() {
    let names: Vec<String> = (0..6).map(|i| format!("m{i}.sim.test")).collect();
    let profiles: Vec<(&str, Behavior, Families)> = names
        .iter()
        .map(|n| (n.as_str(), Behavior::Current, Families::V4))
        .collect();
    let net = Net::start(&profiles, Mix::AllCurrent).await;
    let first = net
        .checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(first.judgement.run.not_modified, 0);
    let checks = first.judgement.run.checks;
    let second = net
        .checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        second.judgement.run.not_modified, checks,
        "every unchanged repomd.xml answered 304"
    );
    assert_eq!(net.sim.total_not_modified() as i64, checks);
    // What each mirror cost is kept per mirror: after the second crawl, only 304s.
    let stats = net.checker.store.mirror_stats().await.unwrap();
    assert_eq!(stats.len(), 6);
    assert_eq!(stats.iter().map(|s| s.not_modified).sum::<i64>(), checks);
    assert!(
        stats
            .iter()
            .all_of(|s| s.requests > s.not_modified && s.bytes < 1000 && s.sync_age.is_some()),
        "{stats:?}"
    );
    assert_eq!(
        second
            .judgement
            .by_outcome
            .get(&CheckOutcome::Current)
            .copied(),
        Some(checks as usize)
    );

    // The master publishes; the next crawl sees the new version on every mirror.
    net.sim.publish();
    let third = net
        .checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        third.scan.as_ref().unwrap().new_versions.len(),
        net.catalog.mirrored().count()
    );
    assert_eq!(third.judgement.run.not_modified, 0);
    assert_eq!(
        third
            .judgement
            .by_outcome
            .get(&CheckOutcome::Current)
            .copied(),
        Some(checks as usize)
    );
    assert_eq!(net.snapshot().serial, 3);

    // What ops see: bounded labels, coverage per directory, publish age.
    let metrics = net.checker.metrics.render();
    for expected in [
        "mirror_checker_checks_total{outcome=\"current\"}",
        "mirror_checker_not_modified_total",
        "mirror_checker_mirrors{capability=\"https\",state=\"up\"} 6",
        "mirror_checker_directory_mirrors{directory=\"9.8/BaseOS/x86_64/os\"} 6",
        "mirror_checker_upstream_age_seconds{directory=\"9.8/BaseOS/x86_64/os\"}",
        "mirror_checker_snapshot_serial 3",
        "mirror_checker_runs_total{applied=\"true\"} 3",
    ] {
        assert!(
            metrics.contains(expected),
            "{expected} missing from:\n{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_spreads_checks_publishes_and_stops_cleanly() {
    let names: Vec<String> = (0..4).map(|i| format!("d{i}.sim.test")).collect();
    let profiles: Vec<(&str, Behavior, Families)> = names
        .iter()
        .map(|n| (n.as_str(), Behavior::Current, Families::V4))
        .collect();
    let mut net = Net::start(&profiles, Mix::AllCurrent).await;
    net.checker.config.daemon.interval = Human::secs(2);
    net.checker.config.daemon.tick = Human::secs(1);
    // Port 0: the daemon binds a free port and says which.
    net.checker.config.daemon.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let checker = std::sync::Arc::new(net.checker);
    let running = tokio::spawn({
        let checker = checker.clone();
        async move { checker.daemon(stop).await }
    });
    // Within a few intervals every mirror has been checked, more than once.
    let mut served = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(snap) = snapshot::read(&checker.config.snapshot_path) {
            served = snap
                .directories
                .iter()
                .map(|d| d.mirrors.len())
                .sum::<usize>();
            if served == 4 * net.catalog.mirrored().count() {
                break;
            }
        }
    }
    assert_eq!(served, 4 * net.catalog.mirrored().count());
    let metrics_addr = *checker
        .metrics_addr
        .get()
        .expect("the daemon listens for metrics");
    let body = reqwest_like_get(metrics_addr).await;
    assert!(body.contains("mirror_checker_snapshot_serial"), "{body}");
    cancel.cancel();
    running.await.unwrap().unwrap();
    let runs = checker.store.crawl_runs(100).await.unwrap();
    assert!(runs.len() >= 2, "batches: {}", runs.len());
    assert!(runs.iter().all_of(|r| r.checker == checker.id));
    // The shared schedule: every mirror checked by this checker, none left claimed, and the
    // leader's role handed back at the clean stop.
    let rows = checker.store.schedule_rows().await.unwrap();
    assert_eq!(rows.len(), 4);
    for row in &rows {
        assert!(row.checks >= 1, "{row:?}");
        assert_eq!(row.last_checked_by.as_deref(), Some(checker.id.as_str()));
        assert_eq!(row.holder, None, "{row:?}");
    }
    assert_eq!(checker.store.lease("leader").await.unwrap(), None);
    net.checker = match std::sync::Arc::try_unwrap(checker) {
        Ok(c) => c,
        Err(_) => panic!("the daemon let go of the checker"),
    };
}

/// On an unchanged network the daemon publishes no new snapshot: it writes a heartbeat
/// that only says the snapshot in use is still fresh (it published a new serial every tick:
/// serial 40 after 8 minutes in the demo).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_network_gets_a_heartbeat_not_a_new_snapshot() {
    let names: Vec<String> = (0..3).map(|i| format!("h{i}.sim.test")).collect();
    let profiles: Vec<(&str, Behavior, Families)> = names
        .iter()
        .map(|n| (n.as_str(), Behavior::Current, Families::V4))
        .collect();
    let mut net = Net::start(&profiles, Mix::AllCurrent).await;
    net.checker.config.daemon.interval = Human::secs(1);
    net.checker.config.daemon.tick = Human::millis(300);
    net.checker.config.daemon.first_check_within = Human::secs(1);
    let cancel = CancellationToken::new();
    let checker = std::sync::Arc::new(net.checker);
    let running = tokio::spawn({
        let (checker, stop) = (checker.clone(), cancel.clone());
        async move { checker.daemon(stop).await }
    });
    // Every mirror checked at least `n` times (at most 20 s).
    let checked = |n: i64| {
        let checker = checker.clone();
        async move {
            for _ in 0..200 {
                let rows = checker.store.schedule_rows().await.unwrap();
                if rows.len() == 3 && rows.iter().all(|r| r.checks >= n) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("the mirrors were not checked {n} times");
        }
    };
    checked(2).await;
    // Once the leader has published what the checks found, a tick that finds nothing new
    // writes a heartbeat at that serial (at most 20 s: on a loaded machine the first
    // checks' results can take a few ticks to publish).
    let path = checker.config.snapshot_path.clone();
    let mut first = None;
    for _ in 0..200 {
        let published = snapshot::read(&path).ok();
        let heartbeat = snapshot::read_freshness(&path, None);
        if let (Some(s), Some((serial, _))) = (published, heartbeat) {
            if s.serial == serial {
                first = Some(s);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = first.expect("no heartbeat at the published serial within 20 s");
    let rows = checker.store.schedule_rows().await.unwrap();
    let checks_then = rows.iter().map(|r| r.checks).max().unwrap_or(0);
    checked(checks_then + 3).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let later = snapshot::read(&checker.config.snapshot_path).unwrap();
    cancel.cancel();
    running.await.unwrap().unwrap();
    assert_eq!(
        later.serial, first.serial,
        "three more checks of every unchanged mirror published no new snapshot"
    );
    let (serial, fresh_at) = snapshot::read_freshness(&checker.config.snapshot_path, None)
        .expect("a heartbeat beside the snapshot");
    assert_eq!(serial, first.serial);
    assert!(
        fresh_at > first.created_at,
        "the heartbeat is newer than the snapshot: {fresh_at} vs {}",
        first.created_at
    );
}

/// A GET over a plain TCP socket: enough for a metrics endpoint.
async fn reqwest_like_get(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_most_checks_fail_the_run_changes_nothing() {
    let mut profiles = vec![("good.sim.test", Behavior::Current, Families::V4)];
    let names: Vec<String> = (0..5).map(|i| format!("down{i}.sim.test")).collect();
    profiles.extend(
        names
            .iter()
            .map(|n| (n.as_str(), Behavior::Refused, Families::V4)),
    );
    let net = Net::start(&profiles, Mix::AllCurrent).await;
    // Every mirror has a contact: none is told anything of a run set aside.
    let mut emailed: Vec<Mirror> = profiles.iter().map(|(n, _, _)| mirror(n)).collect();
    for m in &mut emailed {
        m.email = Some("op@example.org".into());
    }
    net.checker
        .store
        .apply_registry(&emailed, true)
        .await
        .unwrap();
    // Six mirrors are a sample the rule may judge here (the default asks for 20).
    let mut config = net.checker.config.clone();
    config.crawl.ignore_min_mirrors = 6;
    let checker = Checker::new(config).await.unwrap();
    let summary = checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    assert!(summary.judgement.run.ignored, "{}", summary.describe());
    assert_eq!(
        summary.judgement.run.note,
        "180 of 216 checks of 6 mirrors failed (over 70%): the checker's own network is the likely problem, so no mirror's state was changed; failing: 1 of 1 registrations; most failed: down0.sim.test (36 of 36), down1.sim.test (36 of 36), down2.sim.test (36 of 36), down3.sim.test (36 of 36), down4.sim.test (36 of 36)"
    );

    assert!(summary.snapshot.is_none());
    assert!(
        net.checker.store.load_health().await.unwrap().is_empty(),
        "no state changed"
    );
    assert!(net.checker.store.load_checks().await.unwrap().is_empty());
    let told = net.checker.store.deliveries(None, 10).await.unwrap();
    assert!(told.is_empty(), "nothing told of a run set aside: {told:?}");
    let runs = net.checker.store.crawl_runs(5).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].ignored);
    assert!(
        !net.checker.config.snapshot_path.exists(),
        "nothing was published"
    );
    // Under the default, 12 mirror checks (this run and the one before) are too few to tell
    // the checker's network from the mirrors': each mirror is judged by its own health rule.
    let small = net
        .checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    assert!(!small.judgement.run.ignored, "{}", small.describe());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_crawl_leaves_the_previous_snapshot_in_place() {
    let net = Net::start(
        &[
            ("ok.sim.test", Behavior::Current, Families::V4),
            ("hang.sim.test", Behavior::HangAfterHeaders, Families::V4),
        ],
        Mix::AllCurrent,
    )
    .await;
    let first = net
        .checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    let before = std::fs::read(&net.checker.config.snapshot_path).unwrap();
    let checks_before = net.checker.store.load_checks().await.unwrap();
    net.sim.publish();
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        trigger.cancel();
    });
    let err = net.checker.crawl(None, &cancel).await.unwrap_err();
    assert!(matches!(err, mirror_checker::Error::Interrupted), "{err}");
    assert_eq!(
        std::fs::read(&net.checker.config.snapshot_path).unwrap(),
        before,
        "the snapshot file is untouched"
    );
    assert_eq!(
        net.checker.store.load_checks().await.unwrap(),
        checks_before,
        "no result was written"
    );
    assert_eq!(
        net.checker
            .store
            .latest_snapshot()
            .await
            .unwrap()
            .unwrap()
            .serial,
        first.snapshot.unwrap().serial
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failure_does_not_drop_a_mirror_and_one_success_does_not_readmit_it() {
    let net = Net::start(
        &[
            ("flaky.sim.test", Behavior::Current, Families::V4),
            ("steady.sim.test", Behavior::Current, Families::V4),
        ],
        Mix::AllCurrent,
    )
    .await;
    net.checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        net.health("flaky.sim.test", "https").await.0,
        HealthState::Up
    );
    // Break flaky's https by pointing the checker at a port where nothing listens.
    let mut config = net.checker.config.clone();
    for r in &mut config.http.connect_to {
        if r.host == "flaky.sim.test" && r.port == 443 {
            r.addrs = vec![net.sim.refused];
        }
    }
    let broken = Checker::new(config).await.unwrap();
    broken.crawl(None, &CancellationToken::new()).await.unwrap();
    let (state, reason) = net.health("flaky.sim.test", "https").await;
    assert_eq!(state, HealthState::Up, "{reason}");
    assert!(reason.contains("1 of 2 failed runs"), "{reason}");
    assert!(!net.listed("flaky.sim.test").is_empty());
    broken.crawl(None, &CancellationToken::new()).await.unwrap();
    assert_eq!(
        net.health("flaky.sim.test", "https").await.0,
        HealthState::Down
    );
    let listed = net.listed("flaky.sim.test");
    assert!(
        listed.iter().all_of(|(_, bits)| *bits == snapshot::HTTP),
        "https no longer served: {listed:?}"
    );
    net.checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    let (state, reason) = net.health("flaky.sim.test", "https").await;
    assert_eq!(state, HealthState::Down, "one success does not readmit it");
    assert!(reason.contains("recovering: 1 of 2"), "{reason}");
    net.checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        net.health("flaky.sim.test", "https").await.0,
        HealthState::Up
    );
    let id = net.id("flaky.sim.test").await;
    let events = net.checker.store.health_events(id, 10).await.unwrap();
    let https: Vec<_> = events
        .iter()
        .filter(|e| e.capability == "https")
        .map(|e| (e.old_state, e.new_state))
        .collect();
    assert_eq!(
        https,
        vec![
            (HealthState::Down, HealthState::Up),
            (HealthState::Up, HealthState::Down),
            (HealthState::Unknown, HealthState::Up)
        ]
    );
}

/// A crawl where everything about one mirror fails: its health says "1 of 2 failed runs before
/// it is taken out", so it must still be served; the second such crawl takes it out, and the
/// snapshot says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failed_crawl_does_not_take_a_mirror_out_of_the_answers() {
    let net = Net::start(
        &[
            ("flaky.sim.test", Behavior::Current, Families::V4),
            ("steady1.sim.test", Behavior::Current, Families::V4),
            ("steady2.sim.test", Behavior::Current, Families::V4),
        ],
        Mix::AllCurrent,
    )
    .await;
    net.checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    let before = net.listed("flaky.sim.test");
    assert!(!before.is_empty());
    let mut config = net.checker.config.clone();
    for r in &mut config.http.connect_to {
        if r.host == "flaky.sim.test" {
            r.addrs = vec![net.sim.refused];
        }
    }
    let broken = Checker::new(config).await.unwrap();
    broken.crawl(None, &CancellationToken::new()).await.unwrap();
    for capability in ["http", "https"] {
        let (state, reason) = net.health("flaky.sim.test", capability).await;
        assert_eq!(state, HealthState::Up, "{reason}");
    }
    assert_eq!(
        net.listed("flaky.sim.test"),
        before,
        "still up by the health rule, so still served"
    );
    // The operator is told the same: served, on the last good copy.
    let status = mirror_checker::report::render(&net.checker.store, "flaky.sim.test")
        .await
        .unwrap();
    assert!(status.contains("  served to everyone"), "{status}");
    assert!(status.contains("on the last good copy"), "{status}");
    assert!(
        status.contains("1 of 2 failed runs before it is taken out"),
        "{status}"
    );
    broken.crawl(None, &CancellationToken::new()).await.unwrap();
    assert_eq!(
        net.health("flaky.sim.test", "https").await.0,
        HealthState::Down
    );
    assert!(net.listed("flaky.sim.test").is_empty());
    let status = mirror_checker::report::render(&net.checker.store, "flaky.sim.test")
        .await
        .unwrap();
    assert!(
        status.contains("  NOT SERVED: http, https down: http: connection failed"),
        "{status}"
    );
    // Each capability says since when, in human terms and in UTC.
    let https = status
        .lines()
        .find(|l| l.trim_start().starts_with("DOWN https"))
        .unwrap_or_else(|| panic!("{status}"));
    assert!(
        https.contains(" (since ") && https.contains(" ago, ") && https.ends_with(" UTC)"),
        "{https}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_each_mirror_was_reached_at_is_recorded_and_placed() {
    let Some(city) = shared::testing::shared_data("geoip/GeoLite2-City-Test.mmdb") else {
        return;
    };
    let net = Net::start(
        &[("placed.sim.test", Behavior::Current, Families::V4)],
        Mix::AllCurrent,
    )
    .await;
    let mut config = net.checker.config.clone();
    config.crawl.geoip = Some(city);
    let checker = Checker::new(config).await.unwrap();
    checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    let located = checker.store.located().await.unwrap();
    let ids = checker.store.load_mirrors_with_ids().await.unwrap();
    let id = ids
        .iter()
        .find(|(_, m)| m.name == "placed.sim.test")
        .unwrap()
        .0;
    let l = &located[&id];
    assert!(l.address.is_loopback(), "{l:?}");
    assert_eq!(l.country, None, "loopback is in no GeoIP database");
    let status = mirror_checker::report::render(&checker.store, "placed.sim.test")
        .await
        .unwrap();
    assert!(
        status.contains(&format!(
            "  reached at {} (not in the GeoIP database",
            l.address
        )),
        "{status}"
    );
}

/// The 70% rule judges a meaningful sample: a daemon tick holding one broken mirror is judged
/// together with the runs before it, not set aside as if the checker's network were down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_broken_mirror_alone_in_a_tick_is_not_set_aside() {
    let names: Vec<String> = (0..6).map(|i| format!("m{i}.sim.test")).collect();
    let profiles: Vec<(&str, Behavior, Families)> = names
        .iter()
        .map(|n| (n.as_str(), Behavior::Current, Families::V4))
        .collect();
    let net = Net::start(&profiles, Mix::AllCurrent).await;
    let mut config = net.checker.config.clone();
    config.crawl.ignore_min_mirrors = 5;
    let checker = Checker::new(config.clone()).await.unwrap();
    checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    for r in &mut config.http.connect_to {
        if r.host == "m0.sim.test" {
            r.addrs = vec![net.sim.refused];
        }
    }
    let broken = Checker::new(config).await.unwrap();
    let id = broken
        .store
        .load_mirrors_with_ids()
        .await
        .unwrap()
        .into_iter()
        .find(|(_, m)| m.name == "m0.sim.test")
        .unwrap()
        .0;
    let only: std::collections::HashSet<i64> = [id].into();
    for _ in 0..2 {
        let summary = broken
            .crawl(Some(&only), &CancellationToken::new())
            .await
            .unwrap();
        assert!(
            !summary.judgement.run.ignored,
            "{}",
            summary.judgement.run.note
        );
    }
    assert_eq!(
        net.health("m0.sim.test", "https").await.0,
        HealthState::Down,
        "two failed runs take it down"
    );
}

/// `subnets` given as a URL is fetched with each check: the list reaches the snapshot, a
/// failed fetch keeps the last good list, and each change is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subnets_url_is_fetched_kept_when_it_fails_and_its_changes_recorded() {
    use std::sync::{Arc, Mutex};
    let net = Net::start(
        &[("campus.sim.test", Behavior::Current, Families::V4)],
        Mix::AllCurrent,
    )
    .await;
    // The operator's list, served on loopback: (status, body).
    let served: Arc<Mutex<(u16, String)>> = Arc::new(Mutex::new((
        200,
        r#"["192.0.2.0/24", "2001:db8:5::/48"]"#.into(),
    )));
    let app = {
        let served = served.clone();
        axum::Router::new().route(
            "/subnets.json",
            axum::routing::get(move || {
                let (status, body) = served.lock().unwrap().clone();
                async move { (http::StatusCode::from_u16(status).unwrap(), body) }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/subnets.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut m = mirror("campus.sim.test");
    m.subnets_url = Some(url.clone());
    net.checker.store.apply_registry(&[m], true).await.unwrap();
    let mut config = net.checker.config.clone();
    config.http.allow_internal = vec!["127.0.0.0/8".parse().unwrap()];
    let checker = Checker::new(config).await.unwrap();
    let id = net.id("campus.sim.test").await;
    let nets = |snap: &snapshot::Snapshot| {
        snap.mirrors
            .iter()
            .find(|m| m.name == "campus.sim.test")
            .unwrap()
            .subnets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };

    checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(nets(&net.snapshot()), ["192.0.2.0/24", "2001:db8:5::/48"]);

    *served.lock().unwrap() = (500, "oops".into());
    checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        nets(&net.snapshot()),
        ["192.0.2.0/24", "2001:db8:5::/48"],
        "the last good list is kept"
    );
    let status = mirror_checker::report::render(&checker.store, "campus.sim.test")
        .await
        .unwrap();
    assert!(
        status.contains(&format!(
            "subnets from {url}: 2 networks; the last fetch failed (HTTP 500), the last good list is kept"
        )),
        "{status}"
    );

    *served.lock().unwrap() = (200, r#"["192.0.2.0/24", "198.51.100.0/24"]"#.into());
    checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(nets(&net.snapshot()), ["192.0.2.0/24", "198.51.100.0/24"]);
    let changes = checker.store.subnet_changes(id, 10).await.unwrap();
    let latest = &changes[0];
    assert_eq!(
        (
            latest
                .added
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            latest
                .removed
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        ),
        (
            vec!["198.51.100.0/24".to_string()],
            vec!["2001:db8:5::/48".to_string()]
        )
    );
}

/// The vault releases' repomd.xml are read from the vault, so that a metalink for a vault
/// release carries their checksums.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vault_releases_repomd_is_read_once_found() {
    let net = Net::start(
        &[("m.sim.test", Behavior::Current, Families::V4)],
        Mix::AllCurrent,
    )
    .await;
    let report = net.checker.scan(shared::time::now()).await.unwrap();
    let vault_dirs = net.catalog.directories.iter().filter(|d| d.vault).count();
    assert_eq!(
        (report.vault_found, report.vault_missing),
        (vault_dirs, 0),
        "{report:?}"
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    net.checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    let snap = net.snapshot();
    let at = snap
        .catalog
        .directory_index("9.7/BaseOS/x86_64/os")
        .unwrap();
    assert_eq!(snap.directories[at].versions.len(), 1);
    // Within the rescan interval (6 h) the vault is not looked at again.
    let again = net.checker.scan(shared::time::now()).await.unwrap();
    assert_eq!((again.vault_found, again.vault_missing), (0, 0));
}

/// What a mirror sends reaches reasons bounded and with its control characters escaped: a
/// terminal escape sequence, a 900 kB element name and a NUL were stored raw before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_from_a_mirror_is_bounded_and_escaped_where_it_enters() {
    let net = Net::start(
        &[("good.sim.test", Behavior::Current, Families::V4)],
        Mix::AllCurrent,
    )
    .await;
    let body = format!(
        "<?xml version=\"1.0\"?><repomd><a\u{1b}]0;owned\u{7}\u{1b}[2J{}\u{0}></b></repomd>",
        "x".repeat(900_000)
    );
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move { (http::StatusCode::OK, body) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/pub/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut hostile = Mirror::new("hostile.sim.test", "Sim");
    hostile.urls.insert(Protocol::Http, base);
    let mut config = net.checker.config.clone();
    config.http.max_body_bytes = 2 << 20;
    config.http.allow_internal = vec!["127.0.0.0/8".parse().unwrap()];
    let checker = Checker::new(config).await.unwrap();
    checker
        .store
        .apply_registry(&[mirror("good.sim.test"), hostile], true)
        .await
        .unwrap();
    checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    let clean = |what: &str, text: &str| {
        assert!(
            text.chars().count() <= 400,
            "{what}: {} characters",
            text.len()
        );
        assert!(
            !text.chars().any(char::is_control),
            "{what}: control characters in {text:?}"
        );
    };
    let id = net.id("hostile.sim.test").await;
    let checks = checker.store.load_checks().await.unwrap();
    let errors: Vec<&String> = checks
        .iter()
        .filter(|c| c.mirror_id == id)
        .filter_map(|c| c.error.as_ref())
        .collect();
    assert!(!errors.is_empty());
    for e in errors {
        clean("check", e);
        assert!(e.contains("\\u{1b}"), "escaped, not dropped: {e}");
    }
    for h in checker.store.load_health().await.unwrap() {
        clean("health", &h.reason);
    }
    let status = mirror_checker::report::render(&checker.store, "hostile.sim.test")
        .await
        .unwrap();
    assert!(!status.contains('\u{1b}') && !status.contains('\0'));
}

/// The checker does not connect to internal addresses, named in a mirror's URL or reached
/// by a redirect, unless `[http] allow_internal` lists them; addresses of static routes
/// (the operator's own) are used as given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_addresses_are_not_connected_to_unless_allowed() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let net = Net::start(
        &[("good.sim.test", Behavior::Current, Families::V4)],
        Mix::AllCurrent,
    )
    .await;
    // An internal service that must never be reached.
    let hits = Arc::new(AtomicUsize::new(0));
    let inside = {
        let hits = hits.clone();
        axum::Router::new().fallback(move || {
            hits.fetch_add(1, Ordering::SeqCst);
            async { "secret" }
        })
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let secret = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, inside).await });
    // A mirror, reached through a static route, that redirects there.
    let to = format!("http://{secret}/");
    let redirector = axum::Router::new().fallback(move || {
        let to = to.clone();
        async move { (http::StatusCode::FOUND, [(http::header::LOCATION, to)]) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect_at = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, redirector).await });

    let mut config = net.checker.config.clone();
    config.http.connect_to.push(ConnectTo {
        host: "redirects.sim.test".into(),
        port: 80,
        addrs: vec![redirect_at],
    });
    let checker = Checker::new(config.clone()).await.unwrap();
    let mut direct = Mirror::new("direct.sim.test", "Sim");
    direct
        .urls
        .insert(Protocol::Http, format!("http://{secret}/pub/"));
    let mut decimal = Mirror::new("decimal.sim.test", "Sim");
    decimal.urls.insert(
        Protocol::Http,
        format!(
            "http://{}:{}/pub/",
            u32::from(std::net::Ipv4Addr::new(127, 0, 0, 2)),
            secret.port()
        ),
    );
    let mut redirects = Mirror::new("redirects.sim.test", "Sim");
    redirects
        .urls
        .insert(Protocol::Http, "http://redirects.sim.test/pub/".into());
    checker
        .store
        .apply_registry(&[mirror("good.sim.test"), direct, decimal, redirects], true)
        .await
        .unwrap();
    checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the internal service was reached"
    );
    let checks = checker.store.load_checks().await.unwrap();
    for name in ["direct.sim.test", "decimal.sim.test", "redirects.sim.test"] {
        let id = net.id(name).await;
        let errors: Vec<&str> = checks
            .iter()
            .filter(|c| c.mirror_id == id)
            .filter_map(|c| c.error.as_deref())
            .collect();
        assert!(
            !errors.is_empty() && errors.iter().all(|e| e.contains("internal address")),
            "{name}: {errors:?}"
        );
    }
    // Allowed, the same mirror is reached.
    config.http.allow_internal = vec!["127.0.0.2/32".parse().unwrap()];
    let allowed = Checker::new(config).await.unwrap();
    allowed
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    assert!(hits.load(Ordering::SeqCst) > 0);
}

/// Redirects to another host are a common mirror set-up: followed by default (to public
/// addresses), recorded and shown in status; refused when `follow_offhost_redirects` is off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_to_another_host_are_followed_recorded_and_can_be_refused() {
    let net = Net::start(
        &[("good.sim.test", Behavior::Current, Families::V4)],
        Mix::AllCurrent,
    )
    .await;
    // front.sim.test sends every request on to good.sim.test, the same path.
    let front = axum::Router::new().fallback(|uri: http::Uri| async move {
        (
            http::StatusCode::FOUND,
            [(http::header::LOCATION, format!("http://good.sim.test{uri}"))],
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front_at = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, front).await });
    let mut config = net.checker.config.clone();
    config.http.connect_to.push(ConnectTo {
        host: "front.sim.test".into(),
        port: 80,
        addrs: vec![front_at],
    });
    let mut m = Mirror::new("front.sim.test", "Sim");
    m.urls
        .insert(Protocol::Http, "http://front.sim.test/pub/".into());
    let checker = Checker::new(config.clone()).await.unwrap();
    checker
        .store
        .apply_registry(&[mirror("good.sim.test"), m], true)
        .await
        .unwrap();
    checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    let id = net.id("front.sim.test").await;
    let checks = checker.store.load_checks().await.unwrap();
    assert!(checks
        .iter()
        .filter(|c| c.mirror_id == id)
        .all_of(|c| c.outcome == CheckOutcome::Current));
    let status = mirror_checker::report::render(&checker.store, "front.sim.test")
        .await
        .unwrap();
    assert!(
        status.contains("redirects to other hosts: good.sim.test (followed)"),
        "{status}"
    );

    config.http.follow_offhost_redirects = false;
    let strict = Checker::new(config).await.unwrap();
    strict.crawl(None, &CancellationToken::new()).await.unwrap();
    let errors: Vec<String> = strict
        .store
        .load_checks()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.mirror_id == id)
        .filter_map(|c| c.error)
        .collect();
    assert!(
        !errors.is_empty()
            && errors
                .iter()
                .all(|e| e.contains("to another host (good.sim.test)")),
        "{errors:?}"
    );
}

/// A mirror whose repomd.xml is current but whose files are not (half-synced: the previous
/// version's files; or files of another size) breaks dnf for its users: the crawl looks at
/// every file a new copy's repomd.xml names, once per copy, and such a directory is not
/// served, with a reason naming the file. A consistent copy one version behind is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_synced_and_wrong_size_copies_are_caught_once_per_version() {
    use Behavior::*;
    let v4 = Families::V4;
    let net = Net::start(
        &[
            ("good.sim.test", Current, v4),
            ("good2.sim.test", Current, v4),
            ("good3.sim.test", Current, v4),
            ("behind.sim.test", Behind(1), v4),
            ("half.sim.test", HalfSynced, v4),
            ("wrong.sim.test", WrongSize, v4),
            ("nopkgs.sim.test", PackagesMissing, v4),
        ],
        Mix::AllCurrent,
    )
    .await;
    // At version 1 the half-synced mirror has nothing older to lag on: publish version 2.
    net.checker.scan(shared::time::now() - 3600).await.unwrap();
    net.sim.publish();
    net.checker.scan(shared::time::now()).await.unwrap();
    let before = net.sim.stats("good.sim.test").0;
    net.checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    let first = net.sim.stats("good.sim.test").0 - before;
    let snap = net.snapshot();
    let checks = net.checks_of("good.sim.test").await;
    for name in ["good.sim.test", "behind.sim.test"] {
        let of = net.checks_of(name).await;
        assert!(
            of.iter()
                .all_of(|c| matches!(c.outcome, CheckOutcome::Current | CheckOutcome::Behind)),
            "{name}: {:?}",
            errors(&of)
        );
        assert_eq!(net.listed(name).len(), checks_dirs(&checks), "{name}");
    }
    for (name, file, problem) in [
        (
            "half.sim.test",
            "repomd.xml names repodata/",
            "which is missing (HTTP 404)",
        ),
        (
            "wrong.sim.test",
            "repomd.xml names repodata/",
            "bytes where repomd.xml says",
        ),
        // Packages sampled from the master's primary.xml of the version.
        (
            "nopkgs.sim.test",
            "primary.xml lists Packages/sim-",
            "which is missing (HTTP 404)",
        ),
    ] {
        let of = net.checks_of(name).await;
        assert!(
            of.iter().all_of(|c| c.outcome == CheckOutcome::Incomplete
                && c.error
                    .as_deref()
                    .is_some_and(|e| e.starts_with(file) && e.contains(problem))),
            "{name}: {of:?}"
        );
        assert!(net.listed(name).is_empty(), "{name} is listed");
        let at = snap.mirrors.iter().position(|m| m.name == name).unwrap() as u32;
        let why = snap
            .verdict(0, at, Protocol::Https, shared::model::Family::V4)
            .unwrap_err()
            .to_string();
        assert!(why.starts_with(&format!("half-synced: {file}")), "{why}");
        let status = shared::status::mirror(&snap, name).unwrap();
        assert!(
            status
                .summary
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("half-synced")),
            "{:?}",
            status.summary.reason
        );
    }

    // The next crawl: unchanged copies are not looked at again (304s, no file requests); a
    // half-synced one is fetched whole and looked at again.
    let before = net.sim.stats("good.sim.test").0;
    let half_304 = net.sim.stats("half.sim.test").1;
    net.checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    let second = net.sim.stats("good.sim.test").0 - before;
    // Four or five metadata files and two sampled packages per directory (its copies over
    // HTTP and HTTPS are one tree, looked at once).
    let files: usize = checks_dirs(&checks) * 6;
    assert!(
        first >= second + files as u64,
        "the first crawl looked at every named file ({first} requests), the second at none ({second})"
    );
    assert_eq!(net.sim.stats("half.sim.test").1, half_304, "no 304 for it");
    assert!(net
        .checks_of("half.sim.test")
        .await
        .iter()
        .all_of(|c| c.outcome == CheckOutcome::Incomplete));
}

fn checks_dirs(checks: &[CheckRecord]) -> usize {
    checks
        .iter()
        .map(|c| c.directory_id)
        .collect::<std::collections::HashSet<_>>()
        .len()
}

/// The master publishes while mirrors sync at seeded delays: each mirror's first serving of
/// the new version is recorded, and the report gives the time to half of the mirrors
/// watched since before the publication, with the one that never syncs still behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propagation_is_measured_as_mirrors_catch_up() {
    // Delays of 0 to 3 s, from a seed, and one mirror that never syncs.
    let mut rng = mirror_sim::scenario::Rng::new(11);
    let names: Vec<String> = (0..8).map(|i| format!("d{i}.sim.test")).collect();
    let mut profiles: Vec<(&str, Behavior, Families)> = names
        .iter()
        .map(|n| {
            let delay = Duration::from_secs(rng.below(4));
            (n.as_str(), Behavior::Delayed(delay), Families::V4)
        })
        .collect();
    profiles.push((
        "never.sim.test",
        Behavior::Delayed(Duration::from_secs(3600)),
        Families::V4,
    ));
    let net = Net::start(&profiles, Mix::AllCurrent).await;
    let delays: Vec<u64> = profiles
        .iter()
        .filter_map(|(_, b, _)| match b {
            Behavior::Delayed(d) if d.as_secs() < 3600 => Some(d.as_secs()),
            _ => None,
        })
        .collect();
    // Watching begins: every mirror at version 1.
    net.checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    // A publication in the second watching began is not timed (times are whole seconds).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    net.sim.publish();
    net.checker.scan(shared::time::now()).await.unwrap();
    let published = shared::time::now();
    // Crawl until every mirror that syncs has (bounded).
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        net.checker
            .crawl(None, &CancellationToken::new())
            .await
            .unwrap();
        if shared::time::now() > published + delays.iter().max().copied().unwrap_or(0) as i64 + 1 {
            break;
        }
    }
    let input = net.checker.store.snapshot_input().await.unwrap().unwrap();
    let path = "9.8/BaseOS/x86_64/os";
    let reports = shared::snapshot::build::propagation_of(&input, path, 2);
    let latest = &reports[0];
    assert_eq!(latest.carriers, 9, "{latest:?}");
    assert_eq!(latest.arrived, 8, "{latest:?}");
    let behind: Vec<&str> = latest
        .behind
        .iter()
        .map(|i| input.mirrors[*i as usize].1.name.as_str())
        .collect();
    assert_eq!(behind, ["never.sim.test"]);
    // Half of the nine: the fifth mirror to sync, which cannot be sooner than the fifth
    // smallest delay.
    let mut sorted = delays.clone();
    sorted.sort_unstable();
    let p50 = latest.p50.expect("half the mirrors have it");
    assert!(
        p50 + 1 >= sorted[4] as i64,
        "p50 {p50} s, delays {sorted:?}"
    );
    assert!(p50 <= shared::time::now() - published + 1, "{p50}");
    assert_eq!(latest.p99, None, "one mirror never syncs");
    // The status and the snapshot carry it.
    let snap = shared::snapshot::build(&input, 9, shared::time::now(), "test");
    let summary = shared::status::propagation(&snap);
    let row = summary.iter().find(|p| p.path == path).unwrap();
    assert_eq!((row.arrived, row.carriers, row.p50), (8, 9, Some(p50)));
    assert_eq!(row.behind, ["never.sim.test"]);
    // Every mirror's mean lag is the time it took it.
    for (name, b, _) in &profiles {
        let m = snap.mirrors.iter().find(|m| m.name == *name).unwrap();
        if let Behavior::Delayed(d) = b {
            if d.as_secs() < 3600 {
                let lag = m.record.mean_lag_24h.expect("timed");
                assert!(
                    lag + 1 >= d.as_secs() as i64,
                    "{name}: {lag} s for a {d:?} delay"
                );
            }
        }
    }
}

/// The polite schedule: once every copy is known, a check reads each mirror's TIME files and
/// probes only; after a publication, a mirror that synced is looked at at once and seen
/// current, one that did not is seen behind at its next check; a tree a mirror does not
/// carry waits for the sweep; health and content verdicts hold throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_polite_schedule_looks_only_at_what_is_due() {
    use Behavior::*;
    let v4 = Families::V4;
    let mut net = Net::start(
        &[
            ("cur1.sim.test", Current, v4),
            ("cur2.sim.test", Current, v4),
            ("cur3.sim.test", Current, v4),
            ("behind.sim.test", Behind(1), v4),
            ("missing.sim.test", MissingRepos, v4),
        ],
        Mix::AllCurrent,
    )
    .await;
    net.checker.config.crawl.recheck_base = Human::secs(2);
    let cancel = CancellationToken::new();
    net.checker.crawl_on_schedule(&cancel).await.unwrap();
    let checks = net.checks_of("cur1.sim.test").await.len();
    assert!(checks > 10, "the first check looks at everything: {checks}");

    // Unchanged: TIME over HTTP and HTTPS and two family probes per mirror, nothing else.
    let before: Vec<u64> = ["cur1.sim.test", "missing.sim.test"]
        .iter()
        .map(|m| net.sim.stats(m).0)
        .collect();
    let quiet = net.checker.crawl_on_schedule(&cancel).await.unwrap();
    assert_eq!(quiet.judgement.run.checks, 0, "{}", quiet.describe());
    for (name, before) in ["cur1.sim.test", "missing.sim.test"].iter().zip(before) {
        let spent = net.sim.stats(name).0 - before;
        assert!(
            spent <= 4,
            "{name}: {spent} requests on an unchanged network"
        );
    }
    assert_eq!(
        net.health("cur1.sim.test", "content").await,
        (
            HealthState::Up,
            format!(
                "all {} directories current",
                checks_dirs(&net.checks_of("cur1.sim.test").await)
            )
        )
    );
    assert_eq!(
        net.health("cur1.sim.test", "https").await.0,
        HealthState::Up
    );

    // The master publishes: mirrors that synced (their TIME changed) are looked at at once.
    tokio::time::sleep(Duration::from_secs(1)).await;
    net.sim.publish();
    let after = net.checker.crawl_on_schedule(&cancel).await.unwrap();
    assert!(after.judgement.run.checks > 0);
    let started = after.judgement.run.started_at;
    for name in ["cur1.sim.test", "cur2.sim.test", "cur3.sim.test"] {
        let of = net.checks_of(name).await;
        assert!(
            of.iter()
                .all_of(|c| c.outcome == CheckOutcome::Current && c.checked_at >= started),
            "{name} seen current after the publication"
        );
    }
    // The mirror that did not sync: seen behind at its next check (within one interval).
    let behind = net.checks_of("behind.sim.test").await;
    assert!(
        behind.iter().any(|c| c.outcome == CheckOutcome::Behind),
        "{behind:?}"
    );
    // The tree it lacks was not asked for again.
    let missing = net.checks_of("missing.sim.test").await;
    let lacking: Vec<_> = missing
        .iter()
        .filter(|c| c.outcome == CheckOutcome::Missing)
        .collect();
    assert!(!lacking.is_empty());
    assert!(lacking.iter().all_of(|c| c.checked_at < started));
}

/// Fifteen mirrors registered under one domain that refuse every check made up 75% of a
/// run's checks, and the whole run was set aside as if the checker's network were down, the
/// five good mirrors' results with it. Failures that cluster on a few registrations are
/// the mirrors', not the checker's: the run is applied, and its note names who tipped it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_clustered_on_one_registration_do_not_set_the_run_aside() {
    let hostile: Vec<String> = (0..15).map(|i| format!("h{i}.evil.test")).collect();
    let good: Vec<String> = (0..5).map(|i| format!("mirror.site{i}.test")).collect();
    let mut profiles: Vec<(&str, Behavior, Families)> = hostile
        .iter()
        .map(|n| (n.as_str(), Behavior::Refused, Families::V4))
        .collect();
    profiles.extend(
        good.iter()
            .map(|n| (n.as_str(), Behavior::Current, Families::V4)),
    );
    let net = Net::start(&profiles, Mix::AllCurrent).await;
    let summary = net
        .checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    let note = &summary.judgement.run.note;
    assert!(!summary.judgement.run.ignored, "{}", summary.describe());
    assert!(
        note.contains("1 of 6 registrations") && note.contains("evil.test (15 mirrors)"),
        "{note}"
    );
    assert!(summary.snapshot.is_some(), "published");

    // The checker's own network failing fails every registration: set aside, and the
    // note names the mirrors that failed most.
    let down: Vec<String> = (0..20).map(|i| format!("mirror.down{i}.test")).collect();
    let profiles: Vec<_> = down
        .iter()
        .map(|n| (n.as_str(), Behavior::Refused, Families::V4))
        .collect();
    let net = Net::start(&profiles, Mix::AllCurrent).await;
    let summary = net
        .checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    let note = &summary.judgement.run.note;
    assert!(summary.judgement.run.ignored, "{note}");
    assert!(
        note.contains("20 of 20 registrations") && note.contains("most failed: mirror.down"),
        "{note}"
    );
}

fn window(mirror: &str, scope: shared::model::Scope, from: i64, until: i64) -> store::WindowPlan {
    store::WindowPlan {
        mirror: mirror.into(),
        scope,
        from,
        until,
        note: "new disks".into(),
    }
}

/// During a maintenance window the mirror is out of the answers and its failures do not
/// count against its health; after the window a check must find it current before it is
/// served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_in_maintenance_is_not_judged_and_returns_after_a_check() {
    let net = Net::start(
        &[
            ("resting.sim.test", Behavior::Current, Families::V4),
            ("steady.sim.test", Behavior::Current, Families::V4),
        ],
        Mix::AllCurrent,
    )
    .await;
    let mut resting = mirror("resting.sim.test");
    resting.email = Some("op@example.org".into());
    let steady = mirror("steady.sim.test");
    net.checker
        .store
        .apply_registry(&[resting, steady], true)
        .await
        .unwrap();
    let cancel = CancellationToken::new();
    net.checker.crawl(None, &cancel).await.unwrap();
    assert!(!net.listed("resting.sim.test").is_empty());
    let now = shared::time::now();
    let store = &net.checker.store;
    let w = store
        .add_window(
            &window(
                "resting.sim.test",
                shared::model::Scope::Mirror,
                now,
                now + 3600,
            ),
            "op@example.org",
            14 * DAY,
            now,
        )
        .await
        .unwrap()
        .unwrap();
    // Its server goes away for the work: two failed crawls would take it down.
    let mut config = net.checker.config.clone();
    for r in &mut config.http.connect_to {
        if r.host == "resting.sim.test" {
            r.addrs = vec![net.sim.refused];
        }
    }
    let broken = Checker::new(config).await.unwrap();
    for _ in 0..3 {
        broken.crawl(None, &cancel).await.unwrap();
    }
    for capability in ["http", "https"] {
        let (state, reason) = net.health("resting.sim.test", capability).await;
        assert_eq!(state, HealthState::Up, "{capability}: {reason}");
    }
    let snap = net.snapshot();
    let m = snap
        .mirrors
        .iter()
        .find(|m| m.name == "resting.sim.test")
        .unwrap();
    assert!(
        matches!(&m.refused, Some(snapshot::NotServed::Maintenance { note, .. }) if note == "new disks"),
        "{:?}",
        m.refused
    );
    assert!(net.listed("resting.sim.test").is_empty());
    assert!(!net.listed("steady.sim.test").is_empty());
    let told = store.deliveries(None, 10).await.unwrap();
    assert!(told.is_empty(), "nothing is sent during a window: {told:?}");
    // Ended early, while still broken: a check after the end fails, so it stays out.
    store
        .end_window(w.id, shared::time::now())
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    broken.crawl(None, &cancel).await.unwrap();
    assert!(
        net.listed("resting.sim.test").is_empty(),
        "not back blindly"
    );
    // Repaired: the next check finds it current and it is served again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    net.checker.crawl(None, &cancel).await.unwrap();
    assert!(!net.listed("resting.sim.test").is_empty());
}

/// Mirrors wholly in maintenance are expected to fail: they do not make the 70% rule set a
/// run aside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirrors_in_maintenance_do_not_trip_the_70_percent_rule() {
    let mut profiles = vec![("good.sim.test", Behavior::Current, Families::V4)];
    let names: Vec<String> = (0..5).map(|i| format!("down{i}.sim.test")).collect();
    profiles.extend(
        names
            .iter()
            .map(|n| (n.as_str(), Behavior::Refused, Families::V4)),
    );
    let net = Net::start(&profiles, Mix::AllCurrent).await;
    let now = shared::time::now();
    for n in &names {
        let plan = window(n, shared::model::Scope::Mirror, now, now + 3600);
        net.checker
            .store
            .add_window(&plan, "admin", 14 * DAY, now)
            .await
            .unwrap()
            .unwrap();
    }
    let mut config = net.checker.config.clone();
    config.crawl.ignore_min_mirrors = 1;
    let checker = Checker::new(config).await.unwrap();
    let summary = checker
        .crawl(None, &CancellationToken::new())
        .await
        .unwrap();
    assert!(!summary.judgement.run.ignored, "{}", summary.describe());
    assert_eq!(summary.judgement.run.errors, 0, "{}", summary.describe());
    assert!(!net.listed("good.sim.test").is_empty());
    for n in &names {
        assert_eq!(net.health(n, "http").await.0, HealthState::Unknown, "{n}");
    }
}

/// An operator hears of each change of state once, through the outbox, by mail through a
/// real SMTP server and on their HTTPS webhook (signed): down after the health rule, nothing
/// more while it stays down but a reminder, back up once; nothing for a first finding. A
/// relay that refuses keeps the message waiting, with the reason, for a retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_is_told_once_per_change_of_state_by_mail_and_webhook() {
    use mirror_checker::control::{config::SmtpSecurity, mail::Mailer, ControlConfig};
    use shared::testing::smtp::{self, Mode, Options};
    let net = Net::start(
        &[
            ("flaky.sim.test", Behavior::Current, Families::V4),
            ("steady.sim.test", Behavior::Current, Families::V4),
        ],
        Mix::AllCurrent,
    )
    .await;
    let mut mirrors = vec![mirror("flaky.sim.test"), mirror("steady.sim.test")];
    mirrors[0].email = Some("op@example.org".into());
    mirrors[1].email = Some("other@example.org".into());
    let store = &net.checker.store;
    store.apply_registry(&mirrors, true).await.unwrap();
    let plain = Options {
        mode: Mode::Plain,
        cert: None,
        login: None,
    };
    let Some(sink) = smtp::start(&net._dir.path().join("sink"), &plain) else {
        return;
    };
    let relay = |port: u16| {
        Mailer::of(&ControlConfig {
            smtp_relay: "127.0.0.1".into(),
            smtp_port: port,
            smtp_security: SmtpSecurity::None,
            ..ControlConfig::default()
        })
        .unwrap()
    };
    let mailer = relay(sink.port);
    let hook = mirror_sim::webhook::Receiver::start().await.unwrap();
    store
        .set_webhook(&store::Webhook {
            mirror: "flaky.sim.test".into(),
            url: hook.url("/hook"),
            secret: "s3cret".into(),
            created_by: "op@example.org".into(),
            created_at: shared::time::now(),
        })
        .await
        .unwrap();
    // The deliverer trusts the receiver's CA and may reach loopback.
    let ca = net._dir.path().join("hook-ca.pem");
    std::fs::write(&ca, &hook.ca_pem).unwrap();
    let mut config = net.checker.config.clone();
    config.http.extra_ca_files.push(ca);
    config.http.allow_internal = vec!["127.0.0.0/8".parse().unwrap()];
    config.control.remind_every = Human::secs(1);
    let deliverer = Checker::new(config).await.unwrap();
    let subjects = || {
        sink.messages()
            .iter()
            .map(|m| {
                let subject = m.lines().find_map(|l| l.strip_prefix("Subject: "));
                subject.unwrap_or("").to_string()
            })
            .collect::<Vec<_>>()
    };
    let cancel = CancellationToken::new();
    net.checker.crawl(None, &cancel).await.unwrap();
    let first = deliverer.deliver_notifications(&mailer).await.unwrap();
    assert_eq!(first, 0, "first findings");
    let mut config = net.checker.config.clone();
    for r in &mut config.http.connect_to {
        if r.host == "flaky.sim.test" && r.port == 443 {
            r.addrs = vec![net.sim.refused];
        }
    }
    let broken = Checker::new(config).await.unwrap();
    broken.crawl(None, &cancel).await.unwrap();
    let none = deliverer.deliver_notifications(&mailer).await.unwrap();
    assert_eq!(none, 0, "one failed run changes no state");
    broken.crawl(None, &cancel).await.unwrap();
    let two = deliverer.deliver_notifications(&mailer).await.unwrap();
    assert_eq!(two, 2, "a mail and a webhook");
    let sent = sink.wait_for(1);
    assert_eq!(subjects(), ["flaky.sim.test: https, content down"]);
    assert!(
        sent[0].contains("X-Envelope-To: op@example.org"),
        "{}",
        sent[0]
    );
    assert!(sent[0].contains("https went down at") && sent[0].contains("/mirrors/flaky.sim.test"));
    assert!(sent[0].contains("List-Unsubscribe: <"), "{}", sent[0]);
    let posted = hook.taken();
    assert_eq!(posted.len(), 1);
    let ts: i64 = posted[0].timestamp.parse().unwrap();
    let signed = mirror_checker::webhooks::signature("s3cret", ts, &posted[0].body);
    assert_eq!(posted[0].signature, signed);
    let payload: serde_json::Value = serde_json::from_str(&posted[0].body).unwrap();
    assert_eq!(payload["events"][0]["to"], "down", "{payload}");
    // Still down: nothing more, whoever delivers; then a reminder (remind_every: 1 s).
    broken.crawl(None, &cancel).await.unwrap();
    assert_eq!(deliverer.deliver_notifications(&mailer).await.unwrap(), 0);
    assert_eq!(broken.deliver_notifications(&mailer).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(deliverer.remind().await.unwrap(), 1);
    assert_eq!(deliverer.remind().await.unwrap(), 0, "told just now");
    assert_eq!(deliverer.deliver_notifications(&mailer).await.unwrap(), 1);
    sink.wait_for(2);
    assert_eq!(subjects()[1], "flaky.sim.test: content, https still down");
    // Repaired: two good runs bring it back, told once on each channel. The relay refuses
    // at first: the mail waits, with the reason, and goes when the relay works.
    net.checker.crawl(None, &cancel).await.unwrap();
    net.checker.crawl(None, &cancel).await.unwrap();
    let refusing = relay(net.sim.refused.port());
    let hooked = deliverer.deliver_notifications(&refusing).await.unwrap();
    assert_eq!(hooked, 1, "the webhook");
    assert_eq!(hook.taken().len(), 2);
    let waiting = store.deliveries(None, 10).await.unwrap();
    let back = waiting.iter().find(|d| d.channel == "email").unwrap();
    assert_eq!(back.subject, "flaky.sim.test: https, content back up");
    assert!(back.delivered_at.is_none() && back.gave_up_at.is_none());
    assert!(back.last_error.is_some(), "{back:?}");
    assert_eq!(store.outbox_backlog().await.unwrap().0, 1);
    // Due again after its backoff (a minute): the test moves the clock by the store's rule.
    sqlx::query("UPDATE outbox SET due_at = 0 WHERE delivered_at IS NULL")
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(deliverer.deliver_notifications(&mailer).await.unwrap(), 1);
    sink.wait_for(3);
    assert_eq!(subjects().len(), 3);
    assert_eq!(store.outbox_backlog().await.unwrap(), (0, None));
}
