//! The control plane's JSON API against its OpenAPI document, by schemathesis: `mirror-checker
//! serve` on a store holding the example registry, an admin signed in by a mailed link (a
//! real SMTP server), every operation fuzzed with that session, every response checked
//! against the document (status codes, content types, schemas) and for server errors.

use e2e::*;
use shared::testing::smtp::{self, Mode, Options};
use std::fs;
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn the_control_planes_api_conforms_to_its_openapi_document() {
    if !tools_present(&["schemathesis", "curl"], false) {
        return;
    }
    let dir = test_dir();
    let d = dir.path();
    let options = Options {
        mode: Mode::Plain,
        cert: None,
        login: None,
    };
    let Some(sink) = smtp::start(&d.join("mail"), &options) else {
        return;
    };
    let config = d.join("checker.toml");
    fs::write(
        &config,
        format!(
            "database = \"sqlite://{d}/mirrors.db\"\nsnapshot_path = \"{d}/snapshot.bin\"\n\n\
             [control]\nadmins = [\"root@e2e.test\"]\nmail_from = \"mirrors@e2e.test\"\n\
             smtp_relay = \"127.0.0.1\"\nsmtp_port = {port}\nsmtp_security = \"none\"\n\
             # Thousands of generated registrations from one address: not this test's subject\n\
             # (the limits are the control plane's own tests').\n\
             signin_per_address = 1000000\nsignin_per_network = 1000000\n",
            d = d.display(),
            port = sink.port,
        ),
    )
    .unwrap();
    let checker = |args: &[&str]| {
        let mut c = Command::new(workspace_bin("mirror-checker"));
        c.arg("--config")
            .arg(&config)
            .args(["--log", "info"])
            .args(args);
        c
    };
    let examples = project_root().join("deploy/examples");
    let catalog = examples.join("catalog.toml").display().to_string();
    run_ok(checker(&["catalog", "load", &catalog]), LIMIT);
    let registry = examples.join("mirrors.d").display().to_string();
    run_ok(checker(&["import-registry", &registry, "--sync"]), LIMIT);
    let mut control = Proc::spawn(
        "control",
        checker(&["serve", "--listen", "127.0.0.1:0"]),
        &d.join("control.log"),
    );
    let line = control.wait_for_log("control plane serving", LIMIT);
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("listen="))
        .unwrap()
        .to_string();
    let base = format!("http://{addr}");

    let admin = Curl {
        jar: d.join("admin.jar"),
    };
    let (_, page) = admin.send(&format!("{base}/"), None, None);
    let form = format!("csrf={}&address=root%40e2e.test", csrf_in(&page));
    assert_eq!(
        admin.send(&format!("{base}/signin"), None, Some(&form)).0,
        200
    );
    let (link, _) = link_to(&sink, "root@e2e.test", 0);
    follow(&admin, &link);
    let jar = fs::read_to_string(&admin.jar).unwrap();
    let session = jar
        .lines()
        .find_map(|l| {
            l.split('\t')
                .collect::<Vec<_>>()
                .windows(2)
                .find(|w| w[0] == "mc_session")
                .map(|w| w[1].to_string())
        })
        .expect("a session cookie");

    let mut st = Command::new("schemathesis");
    st.arg("run")
        .arg(format!("{base}/api/v1/openapi.json"))
        .args(["--url", &base])
        .args(["--checks", "all", "--max-examples", "30", "--seed", "1"])
        // The registry's judge refuses much that a JSON schema cannot describe (host names
        // that match their URLs, country codes, reachable addresses); what it refuses is a
        // 400 naming the field, as the document says, so schema-valid data may be refused.
        .args(["--exclude-checks", "positive_data_acceptance"])
        .args(["--header", &format!("Cookie: mc_session={session}")])
        .env("SCHEMATHESIS_HOOKS", "")
        .env("NO_COLOR", "1");
    let ran = run(st, Duration::from_secs(600));
    assert!(
        ran.ok(),
        "schemathesis found failing cases:\n{}",
        ran.text()
    );
    // Warnings stay (most mirrors here are the registry's, whose changes are a 403 naming
    // their file); no phase may fail.
    assert!(
        ran.stdout.contains("Fuzzing") && !ran.stdout.contains('❌'),
        "{}",
        ran.text()
    );
    control.kill();
}
