//! TLS and HTTP/2 with real clients: the server terminates TLS itself (ALPN h2 and
//! http/1.1) and speaks h2c with prior knowledge on its plain listener; curl and h2load
//! (nghttp2) get answers over each, and a renewed certificate is taken without a restart
//! while a half-written one is refused.

use e2e::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// A self-signed certificate for 127.0.0.1 and its key, with OpenSSL.
fn certificate(dir: &Path, name: &str) -> (String, String) {
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let mut cmd = Command::new("openssl");
    cmd.args([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
    ])
    .args(["-nodes", "-days", "2", "-subj", &format!("/CN={name}")])
    .args(["-addext", "subjectAltName=IP:127.0.0.1"])
    .arg("-keyout")
    .arg(&key)
    .arg("-out")
    .arg(&cert);
    run_ok(cmd, LIMIT);
    (cert.display().to_string(), key.display().to_string())
}

/// curl's HTTP version and status for `url`, trusting `ca`.
fn curl(args: &[&str], url: &str) -> Ran {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{http_code}",
    ])
    .args(args)
    .arg(url);
    run(cmd, LIMIT)
}

fn h2load(args: &[&str], url: &str) -> String {
    let mut cmd = Command::new("h2load");
    cmd.args(["-n", "400", "-c", "4", "-m", "8"])
        .args(args)
        .arg(url);
    run_ok(cmd, LIMIT).text()
}

#[test]
fn tls_and_http2_with_real_clients_and_certificates_renewed_in_place() {
    if !tools_present(&["curl", "h2load", "openssl"], false) {
        return;
    }
    let dir = test_dir();
    let d = dir.path();
    let snapshot = example_snapshot(d);
    let (cert, key) = certificate(d, "first");
    let (live_cert, live_key) = (d.join("live.crt"), d.join("live.key"));
    std::fs::copy(&cert, &live_cert).unwrap();
    std::fs::copy(&key, &live_key).unwrap();
    let mut cmd = Command::new(workspace_bin("mirrorlist-server"));
    cmd.arg("--snapshot")
        .arg(&snapshot)
        .args(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0"])
        .arg("--tls-cert")
        .arg(&live_cert)
        .arg("--tls-key")
        .arg(&live_key)
        .args(["--poll", "200ms", "--no-locate-mirrors"]);
    let mut server = Proc::spawn("mirrorlist-server", cmd, &d.join("server.log"));
    // The plain listener's line comes first.
    let plain = server.server_address(LIMIT);
    let tls = server.wait_for_log("tls listening on ", LIMIT);
    let path = "/metalink?repo=baseos-9&arch=x86_64";
    let (plain_url, tls_url) = (
        format!("http://{plain}{path}"),
        format!("https://{tls}{path}"),
    );

    // Plain: HTTP/1.1, and HTTP/2 with prior knowledge (h2c).
    assert_eq!(curl(&["--http1.1"], &plain_url).stdout, "1.1 200");
    assert_eq!(
        curl(&["--http2-prior-knowledge"], &plain_url).stdout,
        "2 200"
    );
    // TLS: ALPN picks h2, or http/1.1 when that is all the client offers.
    assert_eq!(curl(&["--cacert", &cert], &tls_url).stdout, "2 200");
    assert_eq!(
        curl(&["--cacert", &cert, "--http1.1"], &tls_url).stdout,
        "1.1 200"
    );

    // h2load, multiplexing 8 streams on each of 4 connections.
    for (args, url) in [(&[][..], &plain_url), (&[][..], &tls_url)] {
        let out = h2load(args, url);
        assert!(out.contains("400 succeeded, 0 failed, 0 errored"), "{out}");
        assert!(out.contains("status codes: 400 2xx"), "{out}");
        // "h2", or "h2c" in the clear.
        assert!(out.contains("Application protocol: h2"), "{out}");
    }

    // A renewal: both files replaced; the new certificate is presented without a restart.
    let (next_cert, next_key) = certificate(d, "second");
    std::fs::copy(&next_key, &live_key).unwrap();
    std::fs::copy(&next_cert, &live_cert).unwrap();
    wait_for("the renewed certificate", LIMIT, || {
        (curl(&["--cacert", &next_cert], &tls_url).stdout == "2 200").then_some(())
    });
    assert!(
        !curl(&["--cacert", &cert], &tls_url).ok(),
        "the old one is gone"
    );
    // Half a renewal: the key not yet written. Refused; the certificate in use stays.
    std::fs::write(&live_key, "").unwrap();
    server.wait_for_log("changed TLS certificate refused", LIMIT);
    assert_eq!(curl(&["--cacert", &next_cert], &tls_url).stdout, "2 200");
}
