//! The README's first command: `scripts/demo` brings the whole system up, answers, and stops
//! every process it started on Ctrl-C.

use e2e::{http_get, project_root, test_dir, wait_for, workspace_bin};
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn get(addr: &str, path: &str) -> (u16, String) {
    http_get(addr, path).unwrap()
}

#[test]
fn the_demo_comes_up_answers_and_stops_everything() {
    // The workspace's binaries, built by `cargo test --workspace` next to this test's folder.
    let bin = workspace_bin("mirror-sim").parent().unwrap().to_path_buf();
    for name in ["mirror-checker", "mirrorlist-server"] {
        workspace_bin(name);
    }
    let root = project_root();
    let out = test_dir();
    // Port 0 for both: the demo prints where they really listen.
    let (listen, metrics) = ("127.0.0.1:0", "127.0.0.1:0");
    let mut demo = Command::new("bash")
        .arg(root.join("scripts/demo"))
        .current_dir(&root)
        .env("DEMO_BIN", &bin)
        .env("DEMO_OUT", out.path())
        .env("DEMO_LISTEN", listen)
        .env("DEMO_METRICS_LISTEN", metrics)
        .env("DEMO_CONTROL_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read what it prints until it says it is up (or gives up).
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = demo.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(180)) {
            Ok(line) => {
                let done = line.contains("Ctrl-C stops everything");
                printed.push(line);
                if done {
                    break;
                }
            }
            Err(_) => {
                let _ = demo.kill();
                let mut err = String::new();
                demo.stderr.take().unwrap().read_to_string(&mut err).ok();
                panic!("the demo did not come up:\n{}\n{err}", printed.join("\n"));
            }
        }
    }
    let text = printed.join("\n");
    let address = |prefix: &str| {
        printed
            .iter()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.trim().strip_prefix("http://"))
            .map(|a| a.trim_end_matches("/metrics").to_string())
            .unwrap_or_else(|| panic!("no {prefix:?} line: {text}"))
    };
    let listen = address("mirrorlist-server");
    let metrics = address("checker metrics");
    let control = address("control plane");
    let control = control.split('/').next().unwrap().to_string();
    assert!(
        !listen.ends_with(":0") && !metrics.ends_with(":0"),
        "{text}"
    );
    assert!(text.contains("curl"), "it says what to try: {text}");
    assert!(
        text.contains(&format!("status pages       http://{listen}/")),
        "it gives the status page's address: {text}"
    );
    // The control plane answers with its sign-in form, and the printed command reads the
    // mail folder it writes to.
    let (status, body) = get(&control, "/");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Mail me a sign-in link"), "{body}");
    assert!(
        text.contains("mail show -1"),
        "it says where the sign-in link is: {text}"
    );
    let (status, body) = get(&listen, "/mirrors");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("href=\"/mirrors/mirror3.example.com\""),
        "{body}"
    );

    // The notice it sends every contact reaches the mail folder, delivered by the daemon.
    let mail = out.path().join("mail");
    wait_for(
        "the demo's notice in the mail folder",
        Duration::from_secs(60),
        || {
            let n = std::fs::read_dir(&mail).map_or(0, |d| {
                d.filter_map(Result::ok)
                    .filter(|e| {
                        std::fs::read_to_string(e.path())
                            .is_ok_and(|t| t.contains("Subject: Welcome to the demo network"))
                    })
                    .count()
            });
            (n > 0).then_some(())
        },
    );
    assert!(text.contains("mail list"), "{text}");
    // The maintenance window the demo declares: on the status page, with its note.
    assert!(text.contains("maintenance list"), "{text}");
    let (status, body) = get(&listen, "/mirrors/jp.mirror.example");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("in maintenance until") && body.contains("new disks (demo)"),
        "{body}"
    );
    let (status, body) = get(&listen, "/metalink?repo=baseos-9&arch=x86_64");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<url protocol="), "mirrors listed: {body}");
    assert!(body.contains("<hash type=\"sha256\">"), "{body}");
    let (status, body) = get(&listen, "/mirrorlist/9/baseos?arch=x86_64&ip=81.2.69.142");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("/9.8/BaseOS/x86_64/os/"), "{body}");
    let (status, body) = get(&listen, "/mirrorlist?repo=nothing-9&arch=x86_64");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("invalid repo or arch"), "{body}");
    let (status, body) = get(&listen, "/metrics");
    assert_eq!(status, 200);
    assert!(body.contains("mirrorlist_requests_total"), "{body}");
    let (status, body) = get(&metrics, "/metrics");
    assert_eq!(status, 200, "the checker's metrics: {body}");
    assert!(std::fs::read_to_string(out.path().join("repos/demo.repo"))
        .unwrap()
        .contains(&format!(
            "metalink=http://{listen}/metalink?repo=baseos-$releasever"
        )));

    // The dnf commands it prints work as printed: through the server's metalink (BaseOS)
    // and AlmaLinux's mirrorlist form (AppStream), reaching the simulated mirrors by name
    // through the simulator's proxy, with real RPMs to install.
    let commands: Vec<&str> = printed
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with("dnf "))
        .collect();
    assert_eq!(commands.len(), 3, "makecache, list, install: {text}");
    if e2e::tools_present(&["dnf", "rpmbuild", "createrepo_c"], true) {
        let mut outputs = Vec::new();
        for command in &commands {
            let mut cmd = Command::new("sh");
            cmd.arg("-c").arg(command).current_dir(&root);
            let ran = e2e::run(cmd, Duration::from_secs(240));
            assert!(ran.ok(), "{command}:\n{}", ran.text());
            outputs.push(ran.text());
        }
        assert!(
            outputs[1].contains("sim-hello") && outputs[1].contains("sim-tools"),
            "list --available shows the simulated packages: {}",
            outputs[1]
        );
        // Only the install root is touched: no plugin of the host's (dnf's "local" plugin
        // copied installed packages into /var/lib/dnf/plugins/local).
        assert!(
            !outputs.concat().contains("_dnf_local"),
            "{}",
            outputs.concat()
        );
        assert!(
            out.path()
                .join("dnf-root/usr/share/mirror-sim/sim-hello")
                .is_file(),
            "installed: {}",
            outputs[2]
        );
        let log = std::fs::read_to_string(out.path().join("dnf-root/var/log/dnf.librepo.log"))
            .unwrap_or_default();
        assert!(
            log.contains("metalink") && log.contains("mirrorlist"),
            "both forms were used: {log}"
        );
    }

    // Ctrl-C: the script stops what it started, and nothing is left listening.
    Command::new("kill")
        .args(["-INT", &demo.id().to_string()])
        .status()
        .unwrap();
    let mut rest = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        rest.push(line);
    }
    let status = demo.wait().unwrap();
    assert!(status.success(), "{status:?}: {}", rest.join("\n"));
    let stopping = rest
        .iter()
        .find_map(|l| l.strip_prefix("stopping: "))
        .unwrap_or_else(|| panic!("{}", rest.join("\n")))
        .to_string();
    assert!(
        rest.iter().any(|l| l == "demo stopped"),
        "{}",
        rest.join("\n")
    );
    let pids: Vec<&str> = stopping.split_whitespace().collect();
    assert_eq!(
        pids.len(),
        4,
        "sim, checker, control plane and server: {stopping}"
    );
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} is still running"
        );
    }
    assert!(
        TcpStream::connect(&control).is_err(),
        "the control plane still listens"
    );
    assert!(
        TcpStream::connect(&listen).is_err(),
        "the server still listens"
    );
}
