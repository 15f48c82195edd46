//! A maintenance window end to end: declared with `mirror-checker maintenance add` on a
//! mirror the simulated network serves, carried by the next snapshot to a replica fed over
//! HTTP alone; the checker is then stopped, and at the window's start the replica takes the
//! mirror out of its answers with no new snapshot (its explain page says why, its metric
//! counts it). Ended early with the checker back, the mirror returns only once a check has
//! found it current.

use e2e::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);
const METALINK: &str = "/metalink?repo=baseos-9&arch=x86_64";

fn serial_of(server: &str) -> u64 {
    let (_, body) = http_get(server, "/metrics").unwrap_or_default();
    metric(&body, "mirrorlist_snapshot_serial") as u64
}

/// The hosts a metalink lists.
fn hosts(server: &str) -> Vec<String> {
    let (_, body) = http_get(server, METALINK).unwrap_or_default();
    body.lines()
        .filter(|l| l.contains("<url "))
        .filter_map(|l| l.split_once('>')?.1.split_once("://")?.1.split('/').next())
        .map(str::to_string)
        .collect()
}

fn replica(dir: &Path, source: &str, key: &Path) -> (Proc, String) {
    let own = dir.join("replica");
    std::fs::create_dir_all(&own).unwrap();
    let mut cmd = Command::new(workspace_bin("mirrorlist-server"));
    cmd.arg("--snapshot")
        .arg(own.join("snapshot.bin"))
        .arg("--snapshot-url")
        .arg(source)
        .arg("--snapshot-key")
        .arg(key)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--poll",
            "1s",
            "--no-locate-mirrors",
        ]);
    let mut p = Proc::spawn("replica", cmd, &own.join("server.log"));
    let addr = p.server_address(LIMIT);
    (p, addr)
}

#[test]
fn a_window_takes_a_mirror_out_on_a_replica_at_its_start_and_a_check_brings_it_back() {
    let dir = test_dir();
    let d = dir.path();
    let publish = format!("127.0.0.1:{}", candidate_port());
    let net = SimNetwork::start(
        d,
        &format!(
            "[daemon]\ninterval = \"1h\"\nfirst_check_within = \"2s\"\ntick = \"1s\"\n\
             master_interval = \"1h\"\nlease = \"10s\"\npublish_listen = \"{publish}\"\n"
        ),
        LIMIT,
    );
    net.sign_snapshots(&d.join("signing.key"), LIMIT);
    net.load_examples(LIMIT);
    let daemon = |log: &str| {
        let mut cmd = net.checker(&["crawl"]);
        cmd.args(["--log", "info"]);
        Proc::spawn("checker", cmd, &d.join(log))
    };
    let mut checker = daemon("checker.log");
    let source = format!("http://{publish}/snapshot");
    let (_replica, server) = replica(d, &source, &d.join("signing.key.pub"));
    let host = wait_for("a mirror in the replica's answers", LIMIT, || {
        hosts(&server).into_iter().next()
    });

    // Planned to start in 20 s; the next snapshot carries it and still serves the mirror.
    let before = serial_of(&server);
    let from = shared::time::now() + 20;
    let at = shared::duration::utc_minute(from);
    let from_arg = format!("{}T{}:{:02}Z", &at[..10], &at[11..16], from % 60);
    let out = run_ok(
        net.checker(&[
            "maintenance",
            "add",
            &host,
            "--from",
            &from_arg,
            "--for",
            "1h",
            "--note",
            "new disks",
        ]),
        LIMIT,
    )
    .text();
    assert!(out.contains("new disks"), "{out}");
    let id: String = out
        .split('#')
        .nth(1)
        .map(|s| s.chars().take_while(char::is_ascii_digit).collect())
        .unwrap();
    let carried = wait_for("a snapshot carrying the window", LIMIT, || {
        let s = serial_of(&server);
        (s > before).then_some(s)
    });
    assert!(
        shared::time::now() < from,
        "the replica took too long to fetch it"
    );
    assert!(
        hosts(&server).contains(&host),
        "served until the window starts"
    );

    // No checker, so no new snapshot: the replica applies the window at its start.
    checker.kill();
    wait_for("the window's start on the replica", LIMIT, || {
        (!hosts(&server).contains(&host)).then_some(())
    });
    assert!(shared::time::now() >= from, "taken out before its start");
    assert_eq!(serial_of(&server), carried, "no new snapshot");
    let (_, metrics) = http_get(&server, "/metrics").unwrap();
    assert_eq!(
        metric(
            &metrics,
            r#"mirrorlist_mirrors_in_maintenance{scope="mirror"}"#
        ),
        1.0,
        "{metrics}"
    );
    let (_, explained) = http_get(&server, "/api/v1/explain?repo=baseos-9&arch=x86_64").unwrap();
    assert!(
        explained.contains("in maintenance until") && explained.contains("new disks"),
        "{explained}"
    );
    let (_, page) = http_get(&server, &format!("/mirrors/{host}")).unwrap();
    assert!(page.contains("in maintenance until"), "{page}");

    // Ended early with the checker back: checked at once, found current, served again.
    let mut checker = daemon("checker-2.log");
    let out = run_ok(net.checker(&["maintenance", "end", &id]), LIMIT).text();
    assert!(out.contains("ended"), "{out}");
    let back = std::time::Instant::now();
    while !hosts(&server).contains(&host) {
        if back.elapsed() > LIMIT {
            let list = run_ok(net.checker(&["maintenance", "list"]), LIMIT).text();
            let status = run_ok(net.checker(&["status", &host]), LIMIT).text();
            panic!(
                "not back after a check: {list}\n{status}\n{}",
                checker.log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(serial_of(&server) > carried);
    let log = run_ok(net.checker(&["admin", "log", &host]), LIMIT).text();
    assert!(
        log.contains("maintenance add") && log.contains("maintenance end"),
        "{log}"
    );
    checker.kill();
}
