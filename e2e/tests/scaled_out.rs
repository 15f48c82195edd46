//! The scaled-out setup: a PostgreSQL store of its own, two checker daemons sharing the crawl
//! of a simulated network through it (one leads: scans the master, publishes), two server
//! replicas on the published snapshots with no database access. Then the failures: a checker
//! killed mid-crawl, and PostgreSQL stopped and started again. Needs Debian's postgresql
//! package (`./scripts/test` installs it).

use e2e::*;
use shared::testing::AllOf;
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Every test step waits at most this long for the system to get somewhere (the first
/// round looks at every file of every copy, which takes a while on a loaded machine).
const LIMIT: Duration = Duration::from_secs(180);
const LEASE_SECS: u64 = 5;

struct Checker {
    id: &'static str,
    config: PathBuf,
    metrics: String,
    daemon: Option<Proc>,
}

impl Checker {
    fn cli(&self, args: &[&str]) -> Ran {
        let mut c = Command::new(workspace_bin("mirror-checker"));
        c.arg("--config")
            .arg(&self.config)
            .args(["--log", "warn"])
            .args(args);
        run_ok(c, Duration::from_secs(120))
    }

    fn start(&mut self, dir: &Path) {
        let mut c = Command::new(workspace_bin("mirror-checker"));
        c.arg("--config")
            .arg(&self.config)
            .args(["--log", "info", "crawl"]);
        let mut daemon = Proc::spawn(self.id, c, &dir.join(format!("{}.log", self.id)));
        self.metrics = daemon.metrics_address(Duration::from_secs(30));
        self.daemon = Some(daemon);
    }

    fn metric(&self, series: &str) -> f64 {
        http_get(&self.metrics, "/metrics")
            .map(|(_, body)| metric(&body, series))
            .unwrap_or(0.0)
    }
}

struct Replica {
    addr: String,
    _proc: Proc,
}

impl Replica {
    fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.addr, path).unwrap_or((0, String::new()))
    }

    fn serial(&self) -> f64 {
        metric(&self.get("/metrics").1, "mirrorlist_snapshot_serial")
    }

    /// As of when its snapshot is known to hold: built then, or the leader's heartbeat.
    fn fresh_at(&self) -> f64 {
        metric(
            &self.get("/metrics").1,
            "mirrorlist_snapshot_fresh_timestamp_seconds",
        )
    }
}

/// Per mirror: completed checks and who did the last.
fn schedule(pg: &Postgres) -> BTreeMap<String, (i64, String)> {
    pg.query(
        "SELECT m.name || ' ' || s.checks || ' ' || COALESCE(s.last_checked_by, '-')
         FROM crawl_schedule s JOIN mirrors m ON m.id = s.mirror_id",
    )
    .iter()
    .map(|l| {
        let mut parts = l.split(' ');
        let name = parts.next().unwrap().to_string();
        let checks = parts.next().unwrap().parse().unwrap();
        (name, (checks, parts.next().unwrap().to_string()))
    })
    .collect()
}

/// Waits until every mirror has completed `n` checks, and asserts none has more: each is
/// checked by exactly one checker per round.
fn wait_for_round(pg: &Postgres, mirrors: usize, n: i64) -> BTreeMap<String, (i64, String)> {
    let s = wait_for(&format!("every mirror checked {n} times"), LIMIT, || {
        let s = schedule(pg);
        (s.len() == mirrors && s.values().all_of(|(c, _)| *c >= n)).then_some(s)
    });
    for (name, (checks, _)) in &s {
        assert_eq!(
            *checks, n,
            "{name} was checked {checks} times in {n} rounds"
        );
    }
    s
}

/// The answers a replica gives to a fixed list of clients, with the metalinks' publication
/// date (the clock's second) left out.
fn answers(replica: &Replica, clients: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for ip in clients {
        for path in [
            format!("/metalink?repo=baseos-9&arch=x86_64&ip={ip}"),
            format!("/mirrorlist?repo=appstream-10&arch=aarch64&ip={ip}"),
        ] {
            let (status, body) = replica.get(&path);
            let body: String = body
                .lines()
                .filter(|l| !l.contains("pubdate="))
                .collect::<Vec<_>>()
                .join("\n");
            out.push(format!("{status} {path}\n{body}"));
        }
    }
    out
}

#[test]
fn two_checkers_share_the_crawl_and_the_servers_outlive_failures() {
    let initdb = fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().any(|v| v.path().join("bin/initdb").exists()))
        .unwrap_or(false);
    if !tools_present(&["psql"], false) {
        return;
    }
    if !initdb {
        shared::testing::skip(
            "it needs PostgreSQL's server binaries (Debian's postgresql package)",
        );
        return;
    }
    let tmp = test_dir();
    let dir = tmp.path().to_path_buf();
    // PostgreSQL runs as its own user when the test runs as root: it must reach its folder.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let pg = Postgres::start(&dir.join("pg"));
    let root = project_root();

    // The simulated network: the example registry, every mirror current but answering each
    // request after 150 ms, so that a crawl takes long enough to be interrupted.
    let mut sim_cmd = Command::new(workspace_bin("mirror-sim"));
    sim_cmd
        .arg("serve")
        .arg("--registry")
        .arg(root.join("deploy/examples/mirrors.d"))
        .arg("--catalog")
        .arg(root.join("deploy/examples/catalog.toml"))
        .args(["--mix", "all-slow-150", "--out"])
        .arg(dir.join("sim"));
    let mut sim = Proc::spawn("mirror-sim", sim_cmd, &dir.join("sim.log"));
    wait_for("mirror-sim serving", LIMIT, || {
        assert!(sim.running(), "mirror-sim exited: {}", sim.log_text());
        sim.log_text().contains("serving").then_some(())
    });
    let network = fs::read_to_string(dir.join("sim/checker-network.toml")).unwrap();
    let snapshot = dir.join("snapshot.bin");
    let mut checkers: Vec<Checker> = ["checker-a", "checker-b"]
        .into_iter()
        .map(|id| {
            let config = dir.join(format!("{id}.toml"));
            // Port 0: the daemon binds a free port and logs which.
            let metrics = "127.0.0.1:0".to_string();
            fs::write(
                &config,
                format!(
                    "database = \"{url}\"\nsnapshot_path = \"{snap}\"\n\n{network}\n\
                     [crawl]\nretries = 0\n\n\
                     [daemon]\nchecker_id = \"{id}\"\ninterval = \"1h\"\n\
                     first_check_within = \"6s\"\ntick = \"1s\"\nbatch_max = 2\n\
                     lease = \"{LEASE_SECS}s\"\nmaster_interval = \"1h\"\n\
                     metrics_listen = \"{metrics}\"\n",
                    url = pg.url,
                    snap = snapshot.display(),
                ),
            )
            .unwrap();
            Checker {
                id,
                config,
                metrics,
                daemon: None,
            }
        })
        .collect();
    checkers[0].cli(&[
        "catalog",
        "load",
        root.join("deploy/examples/catalog.toml").to_str().unwrap(),
    ]);
    checkers[0].cli(&[
        "import-registry",
        root.join("deploy/examples/mirrors.d").to_str().unwrap(),
        "--sync",
    ]);
    let mirrors = pg.count("SELECT COUNT(*) FROM mirrors") as usize;
    assert!(mirrors >= 8, "{mirrors}");
    for c in &mut checkers {
        c.start(&dir);
    }

    // Round one: every mirror checked exactly once, the work split between the two.
    let first = wait_for_round(&pg, mirrors, 1);
    let by: HashSet<&str> = first.values().map(|(_, who)| who.as_str()).collect();
    assert_eq!(
        by,
        HashSet::from(["checker-a", "checker-b"]),
        "both checkers took part: {first:?}"
    );
    // Disabled mirrors keep their turn in the schedule but are not crawled.
    assert_eq!(
        pg.count("SELECT COALESCE(SUM(mirrors), 0) FROM crawl_runs"),
        pg.count("SELECT COUNT(*) FROM mirrors WHERE enabled"),
        "no mirror was crawled twice"
    );
    let leader = pg.query("SELECT holder FROM leases WHERE name = 'leader'");
    assert_eq!(leader.len(), 1);
    // The leader publishes a snapshot of the whole round.
    wait_for("a snapshot of the whole round", LIMIT, || {
        (pg.count("SELECT COALESCE(MAX(created_at), 0) FROM snapshots")
            >= pg.count("SELECT MAX(finished_at) FROM crawl_runs"))
        .then_some(())
    });

    // Two server replicas on the same snapshots, no database, the same seed.
    let geoip = shared::testing::shared_data("geoip/GeoLite2-City-Test.mmdb");
    let replicas: Vec<Replica> = (0..2)
        .map(|i| {
            let mut c = Command::new(workspace_bin("mirrorlist-server"));
            c.arg("--snapshot")
                .arg(&snapshot)
                .arg("--listen")
                .arg("127.0.0.1:0")
                .args(["--seed", "7", "--allow-ip-param", "--no-locate-mirrors"])
                .args(["--poll", "1s", "--max-snapshot-age", "1d"]);
            if let Some(geoip) = &geoip {
                c.arg("--geoip").arg(geoip);
            }
            let mut p = Proc::spawn(
                &format!("replica-{i}"),
                c,
                &dir.join(format!("replica-{i}.log")),
            );
            let addr = p.server_address(LIMIT);
            wait_for("replica ready", LIMIT, || {
                http_get(&addr, "/readyz").ok().filter(|(s, _)| *s == 200)
            });
            Replica { addr, _proc: p }
        })
        .collect();
    let clients = [
        "81.2.69.142",
        "2.125.160.216",
        "89.160.20.112",
        "216.160.83.56",
        "175.16.199.1",
        "192.0.2.1",
    ];
    let identical = wait_for("both replicas on one snapshot", LIMIT, || {
        let serial = replicas[0].serial();
        let a = answers(&replicas[0], &clients);
        let b = answers(&replicas[1], &clients);
        (serial > 0.0 && serial == replicas[1].serial() && serial == replicas[0].serial())
            .then_some((a, b))
    });
    assert_eq!(identical.0, identical.1, "replicas answer alike");
    assert!(
        identical.0.iter().all_of(|a| a.starts_with("200 ")),
        "{identical:?}"
    );
    assert!(identical.0[0].contains("<url"), "{}", identical.0[0]);

    // A checker killed mid-crawl: an operator asks for a recheck of everything; once
    // checker-a is busy with a batch, it is killed. Its uncommitted batch is redone by
    // checker-b when the lease runs out; each mirror is still checked once in the round;
    // the replicas answer throughout.
    checkers[1].cli(&["recheck", "--all"]);
    let held = wait_for("checker-a mid-crawl", LIMIT, || {
        let held = pg.query(
            "SELECT m.name FROM crawl_schedule s JOIN mirrors m ON m.id = s.mirror_id
             WHERE s.holder = 'checker-a'",
        );
        (!held.is_empty()).then_some(held)
    });
    checkers[0].daemon.as_mut().unwrap().kill();
    let second = wait_for("round two without checker-a", LIMIT, || {
        for r in &replicas {
            let (status, body) = r.get("/metalink?repo=baseos-9&arch=x86_64");
            assert!(status == 200 && body.contains("<url"), "{status} {body}");
        }
        let s = schedule(&pg);
        s.values().all_of(|(c, _)| *c >= 2).then_some(s)
    });
    for (name, (checks, _)) in &second {
        assert_eq!(*checks, 2, "{name} checked once more in round two");
    }
    for name in &held {
        assert_eq!(
            second[name].1, "checker-b",
            "{name}, held by the killed checker, was checked by the other"
        );
    }
    // checker-b leads now (if it did not already) and publishes the round.
    let serial = replicas[0].serial();
    wait_for("checker-b leading and publishing", LIMIT, || {
        let leader = pg.query("SELECT holder FROM leases WHERE name = 'leader'");
        (leader == ["checker-b"]
            && replicas[0].serial() > serial
            && replicas[1].serial() == replicas[0].serial())
        .then_some(())
    });

    // PostgreSQL stops: the replicas answer from their snapshot, checker-b keeps running and
    // retrying; PostgreSQL starts again and checker-b carries on by itself.
    let failed_before = checkers[1].metric(r#"mirror_checker_ticks_total{ok="false"}"#);
    pg.script("stop");
    wait_for("checker-b noticing", LIMIT, || {
        (checkers[1].metric(r#"mirror_checker_ticks_total{ok="false"}"#) > failed_before)
            .then_some(())
    });
    for r in &replicas {
        let (status, body) = r.get("/metalink?repo=baseos-9&arch=x86_64");
        assert!(status == 200 && body.contains("<url"), "{status} {body}");
        assert_eq!(r.get("/readyz").0, 200);
    }
    assert!(
        checkers[1].daemon.as_mut().unwrap().running(),
        "checker-b survives the outage: {}",
        checkers[1].daemon.as_ref().unwrap().log_text()
    );
    pg.script("start");
    let restarted = shared::time::now() as f64;
    checkers[1].cli(&["recheck", "--all"]);
    wait_for_round(&pg, mirrors, 3);
    // Nothing changed on the mirrors: the leader says the snapshot still holds (a heartbeat)
    // rather than publishing a new one, and both replicas see it.
    wait_for("the leader's word after the outage", LIMIT, || {
        replicas
            .iter()
            .all(|r| r.fresh_at() >= restarted)
            .then_some(())
    });
    assert!(checkers[1].daemon.as_mut().unwrap().running());
    let log = checkers[1].daemon.as_ref().unwrap().log_text();
    assert!(log.contains("tick failed; retrying"), "{log}");
    drop(sim);
}
