//! The systemd units (`deploy/systemd/`): `systemd-analyze verify` accepts them (with
//! `ExecStart=` pointing at the programs just built), and both programs speak the notify
//! protocol their `Type=notify` units expect: `READY=1` once serving, `WATCHDOG=1` at half
//! the `WATCHDOG_USEC` interval, `STOPPING=1` on the way out.

use e2e::*;
use std::fs;
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn the_units_verify() {
    if !tools_present(&["systemd-analyze"], false) {
        return;
    }
    let dir = test_dir();
    let units = project_root().join("deploy/systemd");
    let mut names = Vec::new();
    for entry in fs::read_dir(&units).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !(name.ends_with(".service") || name.ends_with(".timer")) {
            continue;
        }
        // The programs where the test built them; geoipupdate need not be installed here.
        let text = fs::read_to_string(&path)
            .unwrap()
            .replace(
                "/usr/local/bin/mirrorlist-server",
                &workspace_bin("mirrorlist-server").display().to_string(),
            )
            .replace(
                "/usr/local/bin/mirror-checker",
                &workspace_bin("mirror-checker").display().to_string(),
            )
            .replace("/usr/bin/geoipupdate", "/bin/true");
        fs::write(dir.path().join(&name), text).unwrap();
        names.push(name);
    }
    names.sort();
    assert_eq!(
        names,
        [
            "geoipupdate.service",
            "geoipupdate.timer",
            "mirror-checker.service",
            "mirrorlist-server.service"
        ]
    );
    let mut cmd = Command::new("systemd-analyze");
    cmd.arg("verify")
        .args(names.iter().map(|n| dir.path().join(n)));
    let ran = run(cmd, LIMIT);
    // Lines about the machine's own units (a container has few) are not about these files.
    let text = ran.text();
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| names.iter().any(|n| l.contains(n.as_str())))
        .collect();
    assert!(ran.ok() && ours.is_empty(), "{text}");
}

/// Waits for a datagram holding `want`; returns every datagram seen until then.
fn expect(socket: &UnixDatagram, want: &str, seen: &mut Vec<String>) {
    let start = Instant::now();
    let mut buf = [0u8; 512];
    while start.elapsed() < LIMIT {
        match socket.recv(&mut buf) {
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                let done = text.lines().any(|l| l == want);
                seen.push(text);
                if done {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("{e}"),
        }
    }
    panic!("no {want} within {LIMIT:?}: {seen:?}");
}

fn notify_socket(dir: &std::path::Path, name: &str) -> (UnixDatagram, std::path::PathBuf) {
    let path = dir.join(format!("{name}.sock"));
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    (socket, path)
}

fn terminate(p: &mut Proc) {
    Command::new("kill")
        .args(["-TERM", &p.pid().to_string()])
        .status()
        .unwrap();
}

#[test]
fn both_programs_notify_systemd() {
    let dir = test_dir();
    let d = dir.path();
    let examples = project_root().join("deploy/examples");

    // The server, on a snapshot of the example network.
    let snapshot = example_snapshot(d);
    let (socket, path) = notify_socket(d, "server");
    let mut server = Command::new(workspace_bin("mirrorlist-server"));
    server
        .arg("--snapshot")
        .arg(&snapshot)
        .args(["--listen", "127.0.0.1:0"])
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "400000");
    let mut server = Proc::spawn("mirrorlist-server", server, &d.join("server.log"));
    let mut seen = Vec::new();
    expect(&socket, "READY=1", &mut seen);
    let addr = server.server_address(LIMIT);
    let (status, _) = http_get(&addr, "/readyz").unwrap();
    assert_eq!(status, 200, "ready means serving");
    expect(&socket, "WATCHDOG=1", &mut seen);
    expect(&socket, "WATCHDOG=1", &mut seen);
    terminate(&mut server);
    expect(&socket, "STOPPING=1", &mut seen);
    assert!(
        seen[0].contains("STATUS=answering from snapshot"),
        "{seen:?}"
    );

    // The checker daemon, on the example catalog and registry (its mirrors need not answer).
    let config = d.join("checker.toml");
    fs::write(
        &config,
        format!(
            "database = \"sqlite://{}\"\nsnapshot_path = \"{}\"\n\n[master]\nurl = \"{}\"\n\n\
             [daemon]\ninterval = \"1h\"\ntick = \"1s\"\nfirst_check_within = \"1h\"\n",
            d.join("mirrors.db").display(),
            d.join("checker-snapshot.bin").display(),
            d.join("master").display()
        ),
    )
    .unwrap();
    let checker = |args: &[&str]| {
        let mut c = Command::new(workspace_bin("mirror-checker"));
        c.arg("--config")
            .arg(&config)
            .args(["--log", "warn"])
            .args(args);
        c
    };
    let catalog = examples.join("catalog.toml").display().to_string();
    run_ok(checker(&["catalog", "load", &catalog]), LIMIT);
    let (socket, path) = notify_socket(d, "checker");
    let mut daemon = checker(&["crawl"]);
    daemon
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "400000");
    let mut daemon = Proc::spawn("checker", daemon, &d.join("checker.log"));
    let mut seen = Vec::new();
    expect(&socket, "READY=1", &mut seen);
    expect(&socket, "WATCHDOG=1", &mut seen);
    expect(&socket, "WATCHDOG=1", &mut seen);
    terminate(&mut daemon);
    expect(&socket, "STOPPING=1", &mut seen);
}
