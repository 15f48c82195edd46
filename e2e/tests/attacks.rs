//! The attacks of `mirror-sim attack-*` against the real programs, each asserting the bound
//! that holds it: HTTP/2 clients that never open their flow-control window (h2c and TLS)
//! against the public server, and connection floods against the checker's listeners while
//! it crawls.

use e2e::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

/// The real registry's synthetic snapshot (every mirror current) in `dir`: the largest
/// answers there are, an explanation being about 60 KB.
fn real_snapshot(dir: &Path) -> Option<PathBuf> {
    let data = shared::testing::shared_data("almalinux-mirrors")?;
    let catalog = dir.join("almalinux.toml");
    let mut import = Command::new(workspace_bin("mirror-checker"));
    import
        .arg("--database")
        .arg(format!("sqlite://{}", dir.join("catalog.db").display()))
        .args(["catalog", "import-almalinux"])
        .arg(data.join("config.yml"))
        .arg("--write-toml")
        .arg(&catalog);
    run_ok(import, LIMIT);
    let snapshot = dir.join("snapshot.bin");
    let mut make = Command::new(workspace_bin("mirror-sim"));
    make.arg("synthetic-snapshot")
        .arg("--registry")
        .arg(data.join("mirrors.d"))
        .arg("--catalog")
        .arg(&catalog)
        .arg("--out")
        .arg(&snapshot);
    run_ok(make, LIMIT);
    Some(snapshot)
}

fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024
}

/// The resident memory's peak over `during`, sampled every 100 ms.
fn peak_rss_during<T>(pid: u32, during: impl std::future::Future<Output = T>) -> (T, u64) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let done = std::sync::atomic::AtomicBool::new(false);
        let sample = async {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_mib(pid));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peak
        };
        let attack = async {
            let out = during.await;
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            out
        };
        tokio::join!(attack, sample)
    })
}

/// 150 connections each asking for 100 explanations (the limit on them lifted, as an
/// attacker spread over many networks would have it) with a zero flow-control window: the
/// server took 1 GB and kept 950 MB after they closed. A connection holds at most its
/// 8 streams' answers, one that makes no progress is closed at the header timeout, and the
/// memory is reused, not added to, by the next attack.
#[test]
fn http2_clients_that_never_open_their_window_hold_little_and_are_closed() {
    let dir = test_dir();
    let d = dir.path();
    let Some(snapshot) = real_snapshot(d) else {
        return;
    };
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(d.join("tls.crt"), cert.cert.pem()).unwrap();
    std::fs::write(d.join("tls.key"), cert.signing_key.serialize_pem()).unwrap();
    let mut cmd = Command::new(workspace_bin("mirrorlist-server"));
    cmd.arg("--snapshot")
        .arg(&snapshot)
        .args(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0"])
        .arg("--tls-cert")
        .arg(d.join("tls.crt"))
        .arg("--tls-key")
        .arg(d.join("tls.key"))
        .args([
            "--explain-per-minute",
            "1000000",
            "--header-read-timeout",
            "3s",
        ]);
    let mut server = Proc::spawn("mirrorlist-server", cmd, &d.join("server.log"));
    let plain = server.server_address(LIMIT);
    let tls = server.wait_for_log("tls listening on ", LIMIT);
    let (status, body) = http_get(&plain, "/api/v1/explain?repo=baseos-9&arch=x86_64").unwrap();
    assert_eq!(status, 200);
    assert!(body.len() > 40_000, "a large explanation: {}", body.len());
    let before = rss_mib(server.pid());
    let mut kept = Vec::new();
    for (target, secure) in [(plain.clone(), false), (tls, true), (plain.clone(), false)] {
        let attack = mirror_sim::attack::ZeroWindow {
            target,
            tls: secure,
            connections: 150,
            streams: 100,
            path: "/api/v1/explain?repo=baseos-9&arch=x86_64".to_string(),
            hold: 30,
        };
        let (outcome, peak) =
            peak_rss_during(server.pid(), mirror_sim::attack::zero_window(&attack));
        let outcome = outcome.unwrap();
        let after = rss_mib(server.pid());
        println!("tls {secure}: {outcome}; RSS {before} MiB before, peak {peak}, after {after}");
        assert_eq!(
            outcome.closed, 150,
            "stalled connections left open: {outcome}"
        );
        // The bound: 150 connections × 8 streams × a 62 KB answer is 75 MB.
        assert!(peak <= before + 130, "peak {peak} MiB from {before} MiB");
        let (status, _) = http_get(&plain, "/healthz").unwrap();
        assert_eq!(status, 200);
        kept.push(after);
    }
    // What the allocator keeps for reuse does not grow attack after attack.
    assert!(
        kept[2] <= kept[0] + 20,
        "kept {kept:?} MiB after each attack"
    );
}
