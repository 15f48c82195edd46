//! The alert rules (`deploy/prometheus/`) and the dashboard (`deploy/grafana/`), proven:
//! `promtool check rules` and `promtool test rules` (a unit test for every alert), then a real
//! Prometheus (Debian's package, on loopback) scraping the real programs, a checker daemon
//! and a server fed over HTTP with its signed snapshots, against the simulated network with
//! the master publishing every few seconds, with the rules loaded: every rule evaluates
//! without error, every metric a rule reads has data, and every expression of the dashboard
//! parses and returns data.

use e2e::*;
use std::fs;
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

/// The metric names a rules file reads.
fn metrics_in(rules: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let bytes = rules.as_bytes();
    for prefix in ["mirror_checker_", "mirrorlist_"] {
        let mut from = 0;
        while let Some(at) = rules[from..].find(prefix) {
            let start = from + at;
            let end = rules[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(rules.len(), |n| start + n);
            // Not part of a longer word (`mirrorlist_` inside another name).
            let standalone = start == 0
                || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
            // As exposed: a histogram's series are its `_bucket`s.
            let name = rules[start..end].to_string();
            if standalone && !names.contains(&name) {
                names.push(name);
            }
            from = end;
        }
    }
    names.sort();
    names
}

fn promtool(args: &[&str]) -> String {
    let mut cmd = Command::new("promtool");
    cmd.args(args)
        .current_dir(project_root().join("deploy/prometheus"));
    let ran = run(cmd, Duration::from_secs(60));
    assert!(ran.ok(), "promtool {args:?}:\n{}", ran.text());
    ran.text()
}

fn query(prometheus: &str, promql: &str) -> serde_json::Value {
    let mut encoded = String::new();
    for b in promql.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let (status, body) = http_get(prometheus, &format!("/api/v1/query?query={encoded}")).unwrap();
    assert_eq!(status, 200, "{promql}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn alert_rules_are_unit_tested_and_evaluate_against_the_real_programs() {
    if !tools_present(&["promtool", "prometheus"], false) {
        return;
    }
    let checked = promtool(&["check", "rules", "alerts.yml"]);
    assert!(checked.contains("SUCCESS"), "{checked}");
    let tested = promtool(&["test", "rules", "tests.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");

    // Every alert has a unit test.
    let rules = fs::read_to_string(project_root().join("deploy/prometheus/alerts.yml")).unwrap();
    let tests = fs::read_to_string(project_root().join("deploy/prometheus/tests.yml")).unwrap();
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert!(alerts.len() >= 10, "{alerts:?}");
    for a in &alerts {
        assert!(
            tests.contains(&format!("alertname: {a}\n")),
            "{a} has no unit test"
        );
    }

    // The real programs against the simulated network, the master publishing every 15 s
    // and every mirror checked every 4 s (propagation has figures).
    let dir = test_dir();
    let d = dir.path();
    let net = SimNetwork::start_with(
        d,
        &["--publish-every", "15"],
        "[daemon]\ninterval = \"4s\"\nfirst_check_within = \"1s\"\ntick = \"1s\"\n\
         master_interval = \"1s\"\nmetrics_listen = \"127.0.0.1:0\"\n\
         publish_listen = \"127.0.0.1:0\"\n",
        LIMIT,
    );
    net.sign_snapshots(&d.join("snapshot.key"), LIMIT);
    net.load_examples(LIMIT);
    let mut daemon = net.checker(&["crawl"]);
    daemon.args(["--log", "info"]);
    let mut daemon = Proc::spawn("checker", daemon, &d.join("checker.log"));
    let checker_metrics = daemon.metrics_address(LIMIT);
    let source = daemon.listen_address("snapshots", LIMIT);
    let mut server = Command::new(workspace_bin("mirrorlist-server"));
    server
        .arg("--snapshot")
        .arg(d.join("replica.bin"))
        .arg("--snapshot-url")
        .arg(format!("http://{source}/snapshot"))
        .arg("--snapshot-key")
        .arg(d.join("snapshot.key.pub"))
        .args(["--listen", "127.0.0.1:0", "--poll", "1s"]);
    if let Some(geoip) = shared::testing::shared_data("geoip/GeoLite2-City-Test.mmdb") {
        server.arg("--geoip").arg(geoip);
    }
    let mut server = Proc::spawn("mirrorlist-server", server, &d.join("server.log"));
    let server_addr = server.server_address(LIMIT);
    for path in [
        "/metalink?repo=baseos-9&arch=x86_64&countme=1",
        "/metalink?repo=baseos-9&arch=x86_64",
        "/mirrorlist?repo=appstream-9&arch=x86_64",
        "/mirrorlist?repo=nothing-9&arch=x86_64",
    ] {
        http_get(&server_addr, path).unwrap();
    }

    let port = candidate_port();
    let prometheus_addr = format!("127.0.0.1:{port}");
    fs::copy(
        project_root().join("deploy/prometheus/alerts.yml"),
        d.join("alerts.yml"),
    )
    .unwrap();
    fs::write(
        d.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - alerts.yml\n\
             scrape_configs:\n  - job_name: mirror-checker\n    static_configs:\n      - targets: ['{checker_metrics}']\n\
             \x20 - job_name: mirrorlist-server\n    static_configs:\n      - targets: ['{server_addr}']\n"
        ),
    )
    .unwrap();
    let mut prom = Command::new("prometheus");
    prom.arg(format!(
        "--config.file={}",
        d.join("prometheus.yml").display()
    ))
    .arg(format!("--storage.tsdb.path={}", d.join("tsdb").display()))
    .arg(format!("--web.listen-address={prometheus_addr}"));
    let _prom = Proc::spawn("prometheus", prom, &d.join("prometheus.log"));
    // Both targets scraped and up.
    wait_for("Prometheus scraping both programs", LIMIT, || {
        let up = http_get(&prometheus_addr, "/api/v1/query?query=up").ok()?;
        let v: serde_json::Value = serde_json::from_str(&up.1).ok()?;
        let result = v["data"]["result"].as_array()?.clone();
        (result.len() == 2 && result.iter().all(|r| r["value"][1] == "1")).then_some(())
    });
    // Every metric the rules read has data (once the daemon has crawled and published).
    let names = metrics_in(&rules);
    assert!(names.len() >= 10, "{names:?}");
    let start = std::time::Instant::now();
    loop {
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| {
                let v = query(&prometheus_addr, n);
                v["data"]["result"].as_array().is_none_or(|r| r.is_empty())
            })
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < LIMIT,
            "no data for {missing:?} after {LIMIT:?}; checker log:\n{}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Every rule evaluated, without error.
    let evaluated = wait_for("every rule evaluated", LIMIT, || {
        let (_, body) = http_get(&prometheus_addr, "/api/v1/rules").ok()?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let rules: Vec<serde_json::Value> = v["data"]["groups"]
            .as_array()?
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        (rules.len() == alerts.len()
            && rules.iter().all(|r| {
                r["lastEvaluation"]
                    .as_str()
                    .is_some_and(|t| !t.starts_with("0001"))
            }))
        .then_some(rules)
    });
    for r in &evaluated {
        assert_eq!(r["health"], "ok", "{}: {}", r["name"], r["lastError"]);
    }

    // Every expression of the dashboard parses and, at some point while the master
    // publishes and the mirrors follow, returns data.
    let dashboard: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(project_root().join("deploy/grafana/mirror-network.json")).unwrap(),
    )
    .unwrap();
    let exprs = dashboard_exprs(&dashboard);
    assert!(exprs.len() >= 20, "{exprs:?}");
    let mut without_data: Vec<String> = exprs.clone();
    let start = std::time::Instant::now();
    while !without_data.is_empty() {
        without_data.retain(|e| {
            let v = query(&prometheus_addr, e);
            assert_eq!(v["status"], "success", "{e}: {v}");
            v["data"]["result"].as_array().is_none_or(|r| r.is_empty())
        });
        assert!(
            start.elapsed() < LIMIT * 2,
            "no data for {without_data:?}; checker log:\n{}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(server);
    drop(daemon);
    drop(net);
}

/// Every PromQL expression of a Grafana dashboard: its panels' (and rows' panels') targets.
fn dashboard_exprs(dashboard: &serde_json::Value) -> Vec<String> {
    fn walk(panels: &serde_json::Value, out: &mut Vec<String>) {
        for p in panels.as_array().into_iter().flatten() {
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(e) = t["expr"].as_str() {
                    out.push(e.to_string());
                }
            }
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

#[test]
fn dashboard_expressions_are_found_in_rows_too() {
    let d = serde_json::json!({"panels": [
        {"targets": [{"expr": "a"}]},
        {"type": "row", "panels": [{"targets": [{"expr": "b"}, {"refId": "C"}]}]}
    ]});
    assert_eq!(dashboard_exprs(&d), ["a", "b"]);
}

#[test]
fn metric_names_are_read_from_rules() {
    assert_eq!(
        metrics_in("expr: rate(mirrorlist_request_duration_seconds_bucket[5m]) > x and mirror_checker_leader"),
        [
            "mirror_checker_leader",
            "mirrorlist_request_duration_seconds_bucket"
        ]
    );
}

/// Every metric the programs register is in the catalog (`docs/metrics.md`), and the
/// catalog names no other.
#[test]
fn the_metrics_catalog_lists_every_metric() {
    fn sources(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                sources(&path, out);
            } else if name.ends_with(".rs") && !name.contains("tests") {
                out.push(fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut texts = Vec::new();
    for program in ["mirror-checker/src", "mirrorlist-server/src"] {
        sources(&project_root().join(program), &mut texts);
    }
    let mut registered: Vec<String> = Vec::new();
    for text in &texts {
        // Registered names are string literals of their own: `"mirrorlist_..."`.
        for prefix in ["\"mirror_checker_", "\"mirrorlist_"] {
            for (at, _) in text.match_indices(prefix) {
                let rest = &text[at + 1..];
                let end = rest.find('"').unwrap();
                let name = &rest[..end];
                if name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    && !registered.iter().any(|n| n == name)
                {
                    registered.push(name.to_string());
                }
            }
        }
    }
    registered.sort();
    let catalog = fs::read_to_string(project_root().join("docs/metrics.md")).unwrap();
    let mut documented: Vec<String> = catalog
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(name, _)| name.to_string()))
        .collect();
    documented.sort();
    assert!(registered.len() >= 30, "{registered:?}");
    assert_eq!(registered, documented);
}
