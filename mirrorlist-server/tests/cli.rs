//! The server program loading snapshots as an operator runs it: a valid one is described, a
//! damaged or foreign one is refused with a clear message and a failing exit.

use shared::catalog::Catalog;
use shared::registry;
use shared::snapshot;
use shared::testing::example;
use std::path::Path;
use std::process::{Command, Output};

/// Starts the server on `snapshot` with `args` on a free port; returns it and its address
/// (the first line it prints). Its stderr is piped when `log` is set, else dropped.
fn start(snapshot: &Path, args: &[&str], log: bool) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mirrorlist-server"))
        .args(["--snapshot", &snapshot.display().to_string()])
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(if log {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    (child, addr)
}

fn server(snapshot: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mirrorlist-server"))
        .args(["--check", "--snapshot", &snapshot.display().to_string()])
        .env_remove("MIRRORLIST_SNAPSHOT")
        .output()
        .unwrap()
}

fn example_snapshot(serial: u64) -> shared::snapshot::Snapshot {
    let catalog = Catalog::load(&example("catalog.toml")).unwrap();
    let mirrors = registry::import_dir(&example("mirrors.d")).unwrap().mirrors;
    let input = shared::testing::all_current_input(catalog, mirrors, |_| None);
    snapshot::build(&input, serial, shared::time::now(), "test")
}

#[test]
fn loads_a_valid_snapshot_and_refuses_damaged_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.bin");
    snapshot::write_atomic(&example_snapshot(5), &path, None).unwrap();

    let out = server(&path);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(
            "snapshot 5 of ExampleLinux by test: 10 mirrors (2 not served), 39 directories (19 on mirrors, 17 of vault releases)"
        ),
        "{text}"
    );

    let good = std::fs::read(&path).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated.bin",
            good[..good.len() / 2].to_vec(),
            "the file is truncated",
        ),
        (
            "corrupted.bin",
            good.iter()
                .enumerate()
                .map(|(i, b)| if i == good.len() - 40 { b ^ 1 } else { *b })
                .collect(),
            "the file is corrupted",
        ),
        (
            "foreign.bin",
            b"<metalink/>".to_vec(),
            "not a snapshot file",
        ),
    ];
    for (name, bytes, expected) in cases {
        let bad = dir.path().join(name);
        std::fs::write(&bad, bytes).unwrap();
        let out = server(&bad);
        assert!(!out.status.success(), "{name} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("cannot load the snapshot") && err.contains(expected),
            "{name}: {err}"
        );
    }
    let out = server(&dir.path().join("absent.bin"));
    assert!(!out.status.success());
}

/// A GET over a plain socket; returns the status line's code and the body.
fn get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let code = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((
        code,
        out.split_once("\r\n\r\n")
            .map_or(String::new(), |(_, b)| b.to_string()),
    ))
}

#[test]
fn serves_swaps_snapshots_under_load_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.bin");
    snapshot::write_atomic(&example_snapshot(1), &path, None).unwrap();
    let (mut child, addr) = start(&path, &["--poll", "1s"], false);
    assert_eq!(get(&addr, "/healthz").unwrap().0, 200);
    assert!(get(&addr, "/readyz").unwrap().1.starts_with("snapshot 1 "));

    // Four clients keep asking while three new snapshots (and one broken file) arrive.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (addr, stop) = (addr.clone(), stop.clone());
            std::thread::spawn(move || {
                let (mut ok, mut failed) = (0u32, 0u32);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && ok + failed < 5000 {
                    match get(&addr, "/mirrorlist?repo=baseos-9&arch=x86_64") {
                        Ok((200, _)) => ok += 1,
                        _ => failed += 1,
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let wait_for = |serial: u64| {
        for _ in 0..100 {
            if get(&addr, "/readyz")
                .unwrap()
                .1
                .starts_with(&format!("snapshot {serial} "))
            {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        false
    };
    for serial in 2..=4 {
        snapshot::write_atomic(&example_snapshot(serial), &path, None).unwrap();
        assert!(wait_for(serial), "snapshot {serial} was not swapped in");
    }
    // A damaged file is refused; snapshot 4 keeps serving.
    let tmp = dir.path().join("broken.tmp");
    std::fs::write(&tmp, b"MIRRSNAP garbage").unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(get(&addr, "/readyz").unwrap().1.starts_with("snapshot 4 "));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut failed) = (0, 0);
    for c in clients {
        let (o, f) = c.join().unwrap();
        ok += o;
        failed += f;
    }
    assert!(ok > 0);
    assert_eq!(
        failed, 0,
        "{failed} requests failed during the swaps ({ok} succeeded)"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn the_access_log_says_what_was_answered_but_not_to_whom() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.bin");
    snapshot::write_atomic(&example_snapshot(1), &path, None).unwrap();
    let (mut child, addr) = start(
        &path,
        &[
            "--access-log",
            "--log",
            "info",
            "--trusted-proxy",
            "127.0.0.0/8",
        ],
        true,
    );
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    std::io::Write::write_all(
        &mut stream,
        b"GET /mirrorlist?repo=baseos-9&arch=x86_64&country=de HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.77\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    child.wait().unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("access") && l.contains("endpoint"))
        .unwrap_or_else(|| panic!("no access line in:\n{log}"));
    for part in [
        "mirrorlist",
        "status=200",
        "9.8/BaseOS/x86_64/os",
        "country=\"DE\"",
        "tier=",
        "mirrors=",
    ] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
    assert!(
        !log.contains("198.51.100.77"),
        "the client's address was logged: {log}"
    );
}

#[test]
fn cloud_ranges_are_required_when_configured_and_reloaded_when_they_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.bin");
    let catalog = Catalog::load(&example("catalog.toml")).unwrap();
    let mut mirrors = registry::import_dir(&example("mirrors.d")).unwrap().mirrors;
    let mut aws = registry::Mirror::new("aws.example.net", "Cloud");
    aws.urls.insert(
        registry::Protocol::Https,
        "https://aws.example.net/almalinux/".into(),
    );
    aws.cloud_type = Some("aws".into());
    aws.cloud_regions = vec!["all".into()];
    mirrors.push(aws);
    let version = shared::model::RepomdVersion {
        size: 1,
        timestamp: 1,
        md5: "a".repeat(32),
        sha1: "b".repeat(40),
        sha256: "c".repeat(64),
        sha512: "d".repeat(128),
        first_seen: shared::time::now(),
    };
    let input = shared::testing::all_current_input(catalog, mirrors, |_| Some(version.clone()));
    snapshot::write_atomic(
        &snapshot::build(&input, 1, shared::time::now(), "test"),
        &path,
        None,
    )
    .unwrap();
    let ranges = dir.path().join("ip-ranges.json");
    let missing = Command::new(env!("CARGO_BIN_EXE_mirrorlist-server"))
        .args(["--snapshot", &path.display().to_string()])
        .args(["--listen", "127.0.0.1:0"])
        .args(["--cloud-ranges", &format!("aws={}", ranges.display())])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("cannot read the cloud ranges"), "{err}");

    let write = |prefix: &str| {
        let tmp = dir.path().join("new.json");
        std::fs::write(
            &tmp,
            format!(r#"{{"prefixes": [{{"ip_prefix": "{prefix}", "region": "us-east-1", "service": "EC2"}}], "ipv6_prefixes": []}}"#),
        )
        .unwrap();
        std::fs::rename(&tmp, &ranges).unwrap();
    };
    write("198.18.8.0/22");
    let (mut child, addr) = start(
        &path,
        &[
            "--cloud-ranges",
            &format!("aws={}", ranges.display()),
            "--allow-ip-param",
            "--poll",
            "100ms",
        ],
        false,
    );
    let first = |ip: &str| {
        let (_, body) = get(
            &addr,
            &format!("/mirrorlist?repo=baseos-9&arch=x86_64&ip={ip}"),
        )
        .unwrap();
        body.lines().nth(1).unwrap_or_default().to_string()
    };
    assert!(first("198.18.9.1").contains("aws.example.net"));
    assert!(!first("198.18.5.1").contains("aws.example.net"));
    // Mtimes have a coarse grain on some file systems: wait for the change to show.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    write("198.18.4.0/22");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !first("198.18.5.1").contains("aws.example.net") {
        assert!(
            std::time::Instant::now() < deadline,
            "the changed ranges were not read again"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads until the peer closes; `true` when it did within `limit`.
fn closed_within(s: &mut std::net::TcpStream, limit: std::time::Duration) -> bool {
    use std::io::Read;
    s.set_read_timeout(Some(std::time::Duration::from_millis(100)))
        .unwrap();
    let deadline = std::time::Instant::now() + limit;
    let mut buf = [0u8; 4096];
    while std::time::Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
    false
}

/// An HTTP/2 connection idle after its first answer gets the deadline of an HTTP/1.1
/// keep-alive: it stayed open for as long as the client liked.
#[test]
fn an_idle_h2c_connection_is_closed_after_its_answer() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.bin");
    snapshot::write_atomic(&example_snapshot(1), &path, None).unwrap();
    let (mut child, addr) = start(&path, &["--header-read-timeout", "1s"], false);
    let mut h2 = std::net::TcpStream::connect(&addr).unwrap();
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // An empty SETTINGS frame, then HEADERS (END_STREAM | END_HEADERS) on stream 1:
    // :method GET, :scheme http, :path /healthz (a literal), from HPACK's static table.
    out.extend_from_slice(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
    let mut block = vec![0x82, 0x86, 0x04, 8];
    block.extend_from_slice(b"/healthz");
    out.extend_from_slice(&[0, 0, block.len() as u8, 0x1, 0x5, 0, 0, 0, 1]);
    out.extend_from_slice(&block);
    h2.write_all(&out).unwrap();
    let started = std::time::Instant::now();
    assert!(
        closed_within(&mut h2, std::time::Duration::from_secs(6)),
        "an idle h2c connection stayed open"
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "closed before its deadline: {:?}",
        started.elapsed()
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn unfinished_slow_and_idle_connections_are_closed() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.bin");
    snapshot::write_atomic(&example_snapshot(1), &path, None).unwrap();
    let (mut child, addr) = start(&path, &["--header-read-timeout", "1s"], false);
    let mut silent = std::net::TcpStream::connect(&addr).unwrap();
    let mut unfinished = std::net::TcpStream::connect(&addr).unwrap();
    unfinished
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut kept_alive = std::net::TcpStream::connect(&addr).unwrap();
    kept_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // A drip of one byte every 200 ms: each byte in time, the head never whole.
    let mut drip = std::net::TcpStream::connect(&addr).unwrap();
    let dripping = std::thread::spawn(move || {
        for b in b"GET /healthz HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            .iter()
            .cycle()
            .take(40)
        {
            if drip.write_all(&[*b]).is_err() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        closed_within(&mut drip, std::time::Duration::from_millis(100))
    });
    let limit = std::time::Duration::from_secs(5);
    assert!(
        closed_within(&mut silent, limit),
        "a silent connection stayed open"
    );
    assert!(
        closed_within(&mut unfinished, limit),
        "unfinished headers stayed open"
    );
    assert!(
        closed_within(&mut kept_alive, limit),
        "an idle keep-alive stayed open"
    );
    assert!(dripping.join().unwrap(), "a 1-byte drip stayed open");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn at_the_connection_cap_the_oldest_idle_connections_make_room() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.bin");
    snapshot::write_atomic(&example_snapshot(1), &path, None).unwrap();
    let (mut child, addr) = start(&path, &["--max-connections", "50"], false);
    let idle: Vec<std::net::TcpStream> = (0..80)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    // Every connection over the cap shed an older idle one: a normal client is answered.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (status, body) = get(&addr, "/mirrorlist?repo=baseos-9&arch=x86_64").unwrap();
    assert_eq!(status, 200, "{body}");
    let shed = idle
        .into_iter()
        .take(31)
        .filter(|s| {
            closed_within(
                &mut s.try_clone().unwrap(),
                std::time::Duration::from_millis(300),
            )
        })
        .count();
    assert!(shed >= 30, "only {shed} of the 31 oldest were closed");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_request_whose_sender_shut_its_write_side_is_answered() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.bin");
    snapshot::write_atomic(&example_snapshot(1), &path, None).unwrap();
    let (mut child, addr) = start(&path, &[], false);
    for n in 0..40 {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        s.write_all(b"GET /mirrorlist?repo=baseos-9&arch=x86_64 HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "try {n}: {answer:?}");
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A server that is killed if a test fails before stopping it.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A FIFO put where the snapshot is hung the watcher forever, and SIGTERM was ignored.
#[test]
fn a_fifo_at_the_snapshot_path_is_refused_and_sigterm_still_stops() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.bin");
    snapshot::write_atomic(&example_snapshot(1), &path, None).unwrap();
    let (child, addr) = start(&path, &["--poll", "100ms"], false);
    let mut child = KillOnDrop(child);
    let child = &mut child.0;
    std::fs::remove_file(&path).unwrap();
    assert!(Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap()
        .success());
    std::thread::sleep(std::time::Duration::from_millis(500));
    // Still answering from the snapshot in use, and a good one is taken again.
    assert_eq!(get(&addr, "/healthz").unwrap().0, 200);
    std::fs::remove_file(&path).unwrap();
    snapshot::write_atomic(&example_snapshot(2), &path, None).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, metrics) = get(&addr, "/metrics").unwrap();
        if metrics.contains("mirrorlist_snapshot_serial 2") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new snapshot was never read"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::fs::remove_file(&path).unwrap();
    assert!(Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap()
        .success());
    std::thread::sleep(std::time::Duration::from_millis(500));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "SIGTERM did not stop the server"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// An ASN database given as `--geoip` placed nobody, silently; a missing configured file
/// only warned and /readyz said ready.
#[test]
fn a_wrong_or_missing_geoip_database_stops_the_start() {
    let Some(asn) = shared::testing::shared_data("geoip/GeoLite2-ASN-Test.mmdb") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.bin");
    snapshot::write_atomic(&example_snapshot(1), &path, None).unwrap();
    // Bounded: a server that starts anyway is killed after 10 s and fails the test.
    let run = |args: &[&str]| {
        let child = Command::new(env!("CARGO_BIN_EXE_mirrorlist-server"))
            .args(["--snapshot", &path.display().to_string()])
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let id = child.id();
        let killer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(10));
            let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
        });
        let out = child.wait_with_output().unwrap();
        drop(killer);
        out
    };
    let out = run(&["--geoip", &asn.display().to_string()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("GeoLite2-ASN") && err.contains("not a location database"),
        "{err}"
    );
    let out = run(&["--geoip", "/nonexistent/city.mmdb"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/city.mmdb"), "{err}");
}

/// The whole check of the GeoIP database runs after the first answer: a database whose
/// damage the probe lookups miss answers at first, then is no longer used, with an error
/// that names it.
#[test]
fn a_geoip_database_damaged_beyond_the_probes_is_withdrawn() {
    use std::io::BufRead;
    let Some(broken) =
        shared::testing::shared_data("geoip/GeoIP2-City-Test-Broken-Double-Format.mmdb")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.bin");
    snapshot::write_atomic(&example_snapshot(1), &path, None).unwrap();
    let log = dir.path().join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mirrorlist-server"))
        .args(["--snapshot", &path.display().to_string()])
        .args([
            "--listen",
            "127.0.0.1:0",
            "--geoip",
            &broken.display().to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let line = std::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let addr = line.strip_prefix("listening on ").unwrap().to_string();
    let _child = KillOnDrop(child);
    let loaded = || {
        let (_, metrics) = get(&addr, "/metrics").unwrap();
        metrics
            .lines()
            .find(|l| l.starts_with("mirrorlist_geoip_loaded "))
            .unwrap()
            .to_string()
    };
    for _ in 0..100 {
        if loaded() == "mirrorlist_geoip_loaded 0" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(loaded(), "mirrorlist_geoip_loaded 0");
    let (code, body) = get(&addr, "/mirrorlist?repo=baseos-9&arch=x86_64").unwrap();
    assert_eq!(code, 200, "{body}");
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(
        err.contains("GeoIP2-City-Test-Broken-Double-Format.mmdb: not a valid MaxMind DB file")
            && err.contains("the GeoIP database is no longer used"),
        "{err}"
    );
}

#[test]
fn metrics_can_have_a_listener_of_their_own() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.bin");
    snapshot::write_atomic(&example_snapshot(1), &path, None).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mirrorlist-server"))
        .args(["--snapshot", &path.display().to_string()])
        .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
        .args(["--header-read-timeout", "1s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = |prefix: &str| {
        let line = lines.next().unwrap().unwrap();
        line.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{line:?}"))
            .to_string()
    };
    let public = addr("listening on ");
    let metrics = addr("metrics listening on ");
    let child = KillOnDrop(child);
    assert_eq!(get(&public, "/metrics").unwrap().0, 404);
    assert_eq!(get(&public, "/healthz").unwrap().0, 200);
    let (status, body) = get(&metrics, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("mirrorlist_snapshot_serial 1"), "{body}");
    // The metrics listener is held to the public one's deadlines, and answers nothing else.
    assert_eq!(
        get(&metrics, "/metalink?repo=baseos-9&arch=x86_64")
            .unwrap()
            .0,
        404
    );
    let mut idle = std::net::TcpStream::connect(&metrics).unwrap();
    assert!(
        closed_within(&mut idle, std::time::Duration::from_secs(5)),
        "a silent connection to the metrics listener stayed open"
    );
    drop(child);
}

/// The server reads the checker's heartbeat beside the snapshot: an old snapshot becomes
/// ready again when the heartbeat says it still holds.
#[test]
fn the_heartbeat_beside_the_snapshot_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.bin");
    let mut snap = example_snapshot(7);
    snap.created_at = shared::time::now() - 4 * 3600;
    snapshot::write_atomic(&snap, &path, None).unwrap();
    let (mut child, addr) = start(
        &path,
        &["--poll", "100ms", "--max-snapshot-age", "3h"],
        false,
    );
    assert_eq!(get(&addr, "/readyz").unwrap().0, 503);
    snapshot::write_freshness(&path, 7, shared::time::now(), None).unwrap();
    let mut ready = 0;
    for _ in 0..100 {
        ready = get(&addr, "/readyz").unwrap().0;
        if ready == 200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().ok();
    child.wait().ok();
    assert_eq!(ready, 200, "the heartbeat was not read within 10 s");
}

/// A file with the serial in use but other content (another network's snapshot, a store
/// rebuilt from scratch) is refused by the file watcher, as the HTTP fetcher refuses it;
/// the same snapshot read again (SIGHUP) is no change.
#[test]
fn a_different_snapshot_with_the_serial_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.bin");
    snapshot::write_atomic(&example_snapshot(5), &path, None).unwrap();
    let (mut child, addr) = start(&path, &["--poll", "200ms"], false);
    let mirrors = |addr: &str| {
        let body = get(addr, "/api/v1/status").map(|r| r.1).unwrap_or_default();
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["mirrors_total"].clone()
    };
    let before = mirrors(&addr);
    let mut other = example_snapshot(5);
    other.mirrors.truncate(1);
    for d in &mut other.directories {
        d.mirrors.retain(|m| m.mirror == 0);
        d.refused.retain(|r| r.mirror == 0);
    }
    other.created_at += 60;
    snapshot::write_atomic(&other, &path, None).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        mirrors(&addr),
        before,
        "a different snapshot 5 was swapped in"
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// `systemctl reload` (SIGHUP): every watched file is read again now, without waiting for
/// the next poll, and the server keeps running.
#[test]
fn sighup_reloads_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.bin");
    snapshot::write_atomic(&example_snapshot(1), &path, None).unwrap();
    let (mut child, addr) = start(&path, &["--poll", "1h"], false);
    snapshot::write_atomic(&example_snapshot(2), &path, None).unwrap();
    let serial = |addr: &str| {
        let body = get(addr, "/metrics").map(|r| r.1).unwrap_or_default();
        body.lines()
            .find_map(|l| l.strip_prefix("mirrorlist_snapshot_serial "))
            .map(|v| v.trim().to_string())
    };
    assert_eq!(serial(&addr).as_deref(), Some("1"));
    let hup = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let start = std::time::Instant::now();
    while serial(&addr).as_deref() != Some("2") {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the server stopped on SIGHUP"
        );
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "snapshot 2 not loaded after SIGHUP"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A validly signed snapshot ten days old was served by a new replica (only `/readyz` said
/// 503): past `--refuse-older-than` (7 days by default) answers and pages are refused with
/// the reason, until a fresh snapshot arrives.
#[test]
fn a_snapshot_past_the_refusal_age_is_not_served_until_a_fresh_one_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.bin");
    let mut old = example_snapshot(5);
    old.created_at = shared::time::now() - 10 * 86_400;
    snapshot::write_atomic(&old, &path, None).unwrap();
    let (mut child, addr) = start(&path, &["--poll", "200ms"], false);
    for path in [
        "/metalink?repo=baseos-9&arch=x86_64",
        "/mirrorlist?repo=baseos-9&arch=x86_64",
        "/mirrors",
        "/api/v1/status",
        "/readyz",
    ] {
        let (status, body) = get(&addr, path).unwrap();
        assert_eq!(status, 503, "{path}: {body}");
        assert!(
            body.contains("10 d 0 h old") && body.contains("refuse-older-than"),
            "{path}: {body}"
        );
    }
    snapshot::write_atomic(&example_snapshot(6), &path, None).unwrap();
    let mut status = 0;
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        status = get(&addr, "/mirrorlist?repo=baseos-9&arch=x86_64")
            .unwrap()
            .0;
        if status == 200 {
            break;
        }
    }
    assert_eq!(status, 200, "the fresh snapshot is served");
    let _ = child.kill();
    let _ = child.wait();
}
