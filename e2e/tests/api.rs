//! The JSON API against its OpenAPI document, by schemathesis (PyPI; `./scripts/test`
//! installs it into `target/venv`): the server on a snapshot of the example network, every
//! operation fuzzed and walked, every response checked against the document (status codes,
//! content types, schemas) and for server errors.

use e2e::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn the_api_conforms_to_its_openapi_document() {
    if !tools_present(&["schemathesis"], false) {
        return;
    }
    let dir = test_dir();
    let snapshot = example_snapshot(dir.path());
    let mut server = Command::new(workspace_bin("mirrorlist-server"));
    server
        .arg("--snapshot")
        .arg(&snapshot)
        .args(["--listen", "127.0.0.1:0"])
        // Hundreds of generated explanations from one address: not this test's subject (the
        // 429 past the limit is in the document and tested in the server's own tests).
        .args(["--explain-per-minute", "1000000"]);
    let mut server = Proc::spawn("mirrorlist-server", server, &dir.path().join("server.log"));
    let addr = server.server_address(Duration::from_secs(30));
    let mut st = Command::new("schemathesis");
    st.arg("run")
        .arg(format!("http://{addr}/api/v1/openapi.json"))
        .args(["--url", &format!("http://{addr}")])
        .args(["--checks", "all", "--max-examples", "100", "--seed", "1"])
        .env("SCHEMATHESIS_HOOKS", "")
        .env("NO_COLOR", "1");
    let ran = run(st, Duration::from_secs(300));
    assert!(
        ran.ok(),
        "schemathesis found failing cases:\n{}",
        ran.text()
    );
    assert!(ran.stdout.contains("No issues found"), "{}", ran.text());
}
