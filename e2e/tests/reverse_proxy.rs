//! nginx and HAProxy in front of the server, configured as `deploy/nginx/mirrorlist.conf`
//! and `deploy/haproxy/mirrorlist.cfg` ship: the server, trusting that proxy's
//! `X-Forwarded-For` (`--trusted-proxy`), places the client the proxy saw, not the proxy; a
//! client's own `X-Forwarded-For` is not taken. (To give a proxy a client that is not on
//! loopback, the test has it take its client's address from a header of the test's own:
//! nginx's realip module, HAProxy's `set-src`.)

use e2e::*;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// GET `path` from `addr` with extra header lines; the body.
fn get_with(addr: &str, path: &str, headers: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: mirrors.example.org\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{text}"
    );
    body.to_string()
}

fn country(explanation: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(explanation).unwrap();
    v["client"]["country"].clone()
}

/// With `proxy` and MaxMind's test city database present: the server trusting a proxy on
/// loopback, with that database, in a folder of its own; its address.
fn server(proxy: &str) -> Option<(tempfile::TempDir, Proc, String)> {
    if !tools_present(&[proxy], false) {
        return None;
    }
    let geoip = shared::testing::shared_data("geoip/GeoLite2-City-Test.mmdb")?;
    let dir = test_dir();
    let d = dir.path();
    let snapshot = example_snapshot(d);
    let mut server = Command::new(workspace_bin("mirrorlist-server"));
    server
        .arg("--snapshot")
        .arg(&snapshot)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--no-locate-mirrors",
            "--seed",
            "7",
        ])
        .arg("--geoip")
        .arg(&geoip)
        .args([
            "--trusted-proxy",
            "127.0.0.1/32=x-forwarded-for",
            "--allow-ip-param",
        ]);
    let mut server = Proc::spawn("mirrorlist-server", server, &d.join("server.log"));
    let server_addr = server.server_address(LIMIT);
    Some((dir, server, server_addr))
}

#[test]
fn behind_nginx_the_answer_follows_the_forwarded_client_address() {
    let Some((dir, _server, server_addr)) = server("nginx") else {
        return;
    };
    let d = dir.path();
    // The shipped site, on a test port, pointing at this server.
    let port = candidate_port();
    let site = fs::read_to_string(project_root().join("deploy/nginx/mirrorlist.conf"))
        .unwrap()
        .replace("server 127.0.0.1:8080;", &format!("server {server_addr};"))
        .replace("listen 80;", &format!("listen 127.0.0.1:{port};"))
        .replace("listen [::]:80;", "")
        .replace(
            "server_name mirrors.example.org;",
            "server_name mirrors.example.org;\n    set_real_ip_from 127.0.0.1;\n    real_ip_header X-Test-Client;",
        );
    fs::create_dir_all(d.join("nginx/tmp")).unwrap();
    let n = d.join("nginx");
    let nd = n.display();
    fs::write(
        n.join("nginx.conf"),
        format!(
            "{}daemon off;\nmaster_process off;\nworker_processes 1;\npid {nd}/nginx.pid;\n\
             error_log {nd}/error.log warn;\nevents {{ worker_connections 64; }}\nhttp {{\n\
             access_log off;\nclient_body_temp_path {nd}/tmp/body;\nproxy_temp_path {nd}/tmp/proxy;\n\
             fastcgi_temp_path {nd}/tmp/fastcgi;\nuwsgi_temp_path {nd}/tmp/uwsgi;\n\
             scgi_temp_path {nd}/tmp/scgi;\n{site}\n}}\n",
            if is_root() { "user root;\n" } else { "" }
        ),
    )
    .unwrap();
    let mut cmd = Command::new(which("nginx").unwrap());
    cmd.arg("-p").arg(&n).arg("-c").arg(n.join("nginx.conf"));
    let _nginx = Proc::spawn("nginx", cmd, &n.join("nginx.out"));
    let proxy = format!("127.0.0.1:{port}");
    wait_for("nginx listening", LIMIT, || TcpStream::connect(&proxy).ok());

    assert_the_answer_follows_the_forwarded_client(&proxy, &server_addr);
}

#[test]
fn behind_haproxy_the_answer_follows_the_forwarded_client_address() {
    let Some((dir, _server, server_addr)) = server("haproxy") else {
        return;
    };
    let d = dir.path();
    let port = candidate_port();
    let config = fs::read_to_string(project_root().join("deploy/haproxy/mirrorlist.cfg"))
        .unwrap()
        .replace("127.0.0.1:8080", &server_addr)
        .replace("bind :80", &format!("bind 127.0.0.1:{port}"))
        // Within a test's open-files limit.
        .replace("maxconn 20000", "maxconn 1000")
        .replace(
            "    http-request set-header X-Forwarded-For %[src]",
            "    http-request set-src hdr(X-Test-Client)\n    http-request set-header X-Forwarded-For %[src]",
        );
    assert!(
        config.contains("set-src"),
        "the shipped file changed: {config}"
    );
    let path = d.join("haproxy.cfg");
    fs::write(&path, config).unwrap();
    let mut check = Command::new("haproxy");
    check.arg("-c").arg("-f").arg(&path);
    run_ok(check, LIMIT);
    let mut cmd = Command::new("haproxy");
    cmd.arg("-db").arg("-f").arg(&path);
    let mut haproxy = Proc::spawn("haproxy", cmd, &d.join("haproxy.log"));
    let proxy = format!("127.0.0.1:{port}");
    wait_for("haproxy listening", LIMIT, || {
        assert!(haproxy.running(), "haproxy exited: {}", haproxy.log_text());
        TcpStream::connect(&proxy).ok()
    });
    assert_the_answer_follows_the_forwarded_client(&proxy, &server_addr);
}

/// What a client behind `proxy` gets, against what the server says directly.
fn assert_the_answer_follows_the_forwarded_client(proxy: &str, server_addr: &str) {
    let explain = "/api/v1/explain?repo=baseos-9&arch=x86_64";
    // Through nginx, for a client in Great Britain (81.2.69.142 in MaxMind's test data).
    let through = get_with(proxy, explain, "X-Test-Client: 81.2.69.142\r\n");
    assert_eq!(country(&through), "GB", "{through}");
    // A client's own X-Forwarded-For is replaced by nginx, not believed.
    let forged = get_with(
        proxy,
        explain,
        "X-Test-Client: 175.16.199.1\r\nX-Forwarded-For: 81.2.69.142\r\n",
    );
    assert_eq!(country(&forged), "CN", "{forged}");
    // Straight to the server from loopback, with no header: unplaced.
    let direct = get_with(server_addr, explain, "");
    assert!(country(&direct).is_null(), "{direct}");
    // The answer through nginx is the one the server gives that client (with --seed, the
    // same order too).
    let list = "/mirrorlist?repo=baseos-9&arch=x86_64";
    let via = get_with(proxy, list, "X-Test-Client: 81.2.69.142\r\n");
    let asked = get_with(server_addr, &format!("{list}&ip=81.2.69.142"), "");
    assert_eq!(via, asked);
    assert_ne!(
        via,
        get_with(server_addr, list, ""),
        "a loopback client's differs"
    );
}
