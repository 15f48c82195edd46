//! Snapshots reach replicas over HTTP alone, signed: a checker daemon against the simulated
//! network signs its snapshots and serves them (`[daemon] publish_listen`); two replicas fed
//! only by `--snapshot-url` with `--snapshot-key` fetch them, keep answering while the source
//! is down (one restarted meanwhile answers at once from its local copy), and take the next
//! snapshot when the source is back. A cache in front of the source that is compromised
//! (nginx serving what an attacker put there) feeds one replica an unsigned snapshot, one
//! signed by another key and one altered after signing, each with a higher serial: every
//! one is refused and the replica keeps the genuine one.

use e2e::*;
use shared::snapshot::{self, SigningKey};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(120);

fn serial_of(server: &str) -> u64 {
    let (_, body) = http_get(server, "/metrics").unwrap_or_default();
    metric(&body, "mirrorlist_snapshot_serial") as u64
}

fn replica(dir: &Path, name: &str, sources: &[String], key: &Path) -> (Proc, String) {
    let own = dir.join(name);
    fs::create_dir_all(&own).unwrap();
    let mut cmd = Command::new(workspace_bin("mirrorlist-server"));
    cmd.arg("--snapshot")
        .arg(own.join("snapshot.bin"))
        .arg("--snapshot-url")
        .arg(sources.join(","))
        .arg("--snapshot-key")
        .arg(key)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--poll",
            "1s",
            "--no-locate-mirrors",
        ]);
    let mut p = Proc::spawn(name, cmd, &own.join("server.log"));
    let addr = p.server_address(LIMIT);
    (p, addr)
}

fn ready(server: &str) -> bool {
    http_get(server, "/readyz").is_ok_and(|(s, _)| s == 200)
}

fn answers(server: &str) -> bool {
    http_get(server, "/metalink?repo=baseos-9&arch=x86_64")
        .is_ok_and(|(s, body)| s == 200 && body.contains("<url "))
}

#[test]
fn signed_snapshots_reach_replicas_over_http_and_forgeries_are_refused() {
    if !tools_present(&["nginx"], true) {
        return;
    }
    let dir = test_dir();
    let d = dir.path();
    let keygen = |name: &str| {
        let mut cmd = Command::new(workspace_bin("mirror-checker"));
        cmd.arg("keygen").arg(d.join(name));
        let out = run_ok(cmd, LIMIT).text();
        assert!(out.contains("--snapshot-key"), "{out}");
    };
    keygen("forger.key");
    let public = d.join("signing.key.pub");

    let publish = format!("127.0.0.1:{}", candidate_port());
    let net = SimNetwork::start(
        d,
        &format!(
            "[daemon]\ninterval = \"1h\"\nfirst_check_within = \"2s\"\ntick = \"1s\"\n\
             master_interval = \"1h\"\npublish_listen = \"{publish}\"\n"
        ),
        LIMIT,
    );
    net.sign_snapshots(&d.join("signing.key"), LIMIT);
    net.load_examples(LIMIT);
    let start_daemon = |log: &str| {
        let mut cmd = net.checker(&["crawl"]);
        cmd.args(["--log", "info"]);
        let mut p = Proc::spawn("checker", cmd, &d.join(log));
        assert_eq!(p.listen_address("snapshots", LIMIT), publish);
        p
    };
    let mut daemon = start_daemon("checker.log");
    let published = d.join("snapshot.bin");
    wait_for("the first snapshot", LIMIT, || {
        published.exists().then_some(())
    });
    let first = snapshot::read_header(&published).unwrap().serial;

    // A compromised cache in front of the source: nginx serving whatever is put there.
    let cache = d.join("cache");
    fs::create_dir_all(&cache).unwrap();
    let mut sites = [Site {
        name: "cache".into(),
        port: candidate_port(),
        root: cache.clone(),
    }];
    let _nginx = Nginx::start(&d.join("nginx"), &mut sites);
    let cache_url = format!("http://127.0.0.1:{}/snapshot", sites[0].port);
    let source = format!("http://{publish}/snapshot");

    // Two replicas with no snapshot of their own: each fetches one before answering.
    let (mut one, one_addr) = replica(d, "replica-1", std::slice::from_ref(&source), &public);
    let (_two, two_addr) = replica(d, "replica-2", &[source.clone(), cache_url], &public);
    for addr in [&one_addr, &two_addr] {
        wait_for("a replica ready", LIMIT, || ready(addr).then_some(()));
        assert!(serial_of(addr) >= first, "{addr}");
        assert!(answers(addr));
    }
    assert!(
        d.join("replica-1/snapshot.bin").exists(),
        "kept on local disk"
    );

    // The source goes down: the replicas keep answering; one restarted meanwhile answers at
    // once from its local copy.
    daemon.kill();
    let serial = serial_of(&one_addr);
    one.kill();
    let (mut one, one_addr) = replica(d, "replica-1", std::slice::from_ref(&source), &public);
    assert!(ready(&one_addr) && answers(&one_addr), "{}", one.log_text());
    assert_eq!(serial_of(&one_addr), serial);
    assert!(ready(&two_addr) && answers(&two_addr));

    // The source comes back with a new snapshot: both replicas take it.
    let mut daemon = start_daemon("checker-2.log");
    run_ok(net.checker(&["snapshot"]), LIMIT);
    let made = Instant::now();
    let next = snapshot::read_header(&published).unwrap().serial;
    assert!(next > serial);
    for addr in [&one_addr, &two_addr] {
        wait_for("the new snapshot on a replica", LIMIT, || {
            (serial_of(addr) >= next).then_some(())
        });
    }
    println!(
        "publish to both replicas (polling every 1 s): {} ms",
        made.elapsed().as_millis()
    );
    assert!(daemon.running());

    // Forgeries through the cache, each claiming a higher serial, are refused.
    let genuine = fs::read(&published).unwrap();
    let mut forged = snapshot::decode(&genuine, "genuine").unwrap();
    forged.serial += 1000;
    forged.mirrors.truncate(1);
    let forger = SigningKey::read(&d.join("forger.key")).unwrap();
    let planted = cache.join("snapshot");
    let kept = serial_of(&two_addr);
    let forgeries: [(&str, Option<&SigningKey>); 3] = [
        ("refused: not signed", None),
        ("refused: signed by key", Some(&forger)),
        ("forged or altered", Some(&forger)),
    ];
    for (i, (why, key)) in forgeries.into_iter().enumerate() {
        snapshot::write_atomic(&forged, &planted, key).unwrap();
        if i == 2 {
            // The forger's content under the genuine key's id and signature.
            let bytes = fs::read(&planted).unwrap();
            let trailer = snapshot::sign::TRAILER;
            let mut altered = bytes[..bytes.len() - trailer].to_vec();
            altered.extend_from_slice(&genuine[genuine.len() - trailer..]);
            fs::write(&planted, altered).unwrap();
        }
        let two_log = || fs::read_to_string(d.join("replica-2/server.log")).unwrap();
        wait_for(why, LIMIT, || {
            two_log()
                .lines()
                .any(|l| l.contains("snapshot refused") && l.contains(why))
                .then_some(())
        });
        assert_eq!(serial_of(&two_addr), kept, "{}", two_log());
    }
    let (_, metrics) = http_get(&two_addr, "/metrics").unwrap();
    assert!(
        metric(
            &metrics,
            r#"mirrorlist_snapshot_fetches_total{result="refused"}"#
        ) >= 3.0,
        "{metrics}"
    );
    assert!(answers(&two_addr));
    // What replica 2 keeps on disk is the genuine snapshot.
    let local = fs::read(d.join("replica-2/snapshot.bin")).unwrap();
    let key = snapshot::PublicKey::read(&public).unwrap();
    assert_eq!(
        snapshot::decode_verified(&local, "local", Some(&key))
            .unwrap()
            .serial,
        kept
    );
    one.kill();
    daemon.kill();
}
