//! An operator's whole journey through the control plane, on SQLite and on PostgreSQL: a
//! mirror (nginx on loopback, a copy of a real createrepo_c repository) registered through
//! the API by someone not signed in; the confirmation mailed through a real SMTP server
//! (python3-aiosmtpd) and followed; the ownership token fetched from the API and published
//! on the mirror; proven; approved by an admin who signed in by mail too; crawled by the
//! checker's daemon and listed in the metalinks mirrorlist-server answers; disabled by its
//! operator and gone from them; its token removed, and past the grace flagged by mail.

use e2e::*;
use shared::testing::smtp::{self, Mode, Options};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);
const NAME: &str = "newmirror.e2e.test";

fn world_config(dir: &Path, database: &str, master: u16, sink: u16) -> PathBuf {
    let config = dir.join("checker.toml");
    fs::write(
        &config,
        format!(
            "database = \"{database}\"\nsnapshot_path = \"{d}/snapshot.bin\"\n\n\
             [master]\nurl = \"http://127.0.0.1:{master}/\"\n\n\
             [http]\nconnect_timeout = \"1s\"\nfirst_byte_timeout = \"2s\"\ntotal_timeout = \"3s\"\n\
             allow_internal = [\"127.0.0.0/8\"]\n\n\
             [crawl]\nretries = 0\n\n\
             [daemon]\ninterval = \"3s\"\ntick = \"1s\"\nfirst_check_within = \"1s\"\n\
             master_interval = \"2s\"\n\n\
             [control]\nadmins = [\"root@e2e.test\"]\nmail_from = \"mirrors@e2e.test\"\n\
             smtp_relay = \"127.0.0.1\"\nsmtp_port = {sink}\nsmtp_security = \"none\"\n\
             proof_every = \"0s\"\nownership_grace = \"2s\"\n",
            d = dir.display(),
        ),
    )
    .unwrap();
    config
}

fn checker(config: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(workspace_bin("mirror-checker"));
    c.arg("--config")
        .arg(config)
        .args(["--log", "info"])
        .args(args);
    c
}

fn journey(dir: &Path, database: &str) {
    // The master and the new mirror (a copy that follows it), with a real repository.
    let rpms = build_rpms(dir, &["e2e-journey-1"]);
    let master = dir.join("master");
    make_repo(&master.join("9.8/BaseOS/x86_64/os"), &rpms, 1);
    let tree = dir.join("mirror");
    fs::create_dir_all(&tree).unwrap();
    std::os::unix::fs::symlink(master.join("9.8"), tree.join("9.8")).unwrap();
    let mut sites = vec![
        Site {
            name: "master".into(),
            port: candidate_port(),
            root: master.clone(),
        },
        Site {
            name: "mirror".into(),
            port: candidate_port(),
            root: tree.clone(),
        },
    ];
    let _nginx = Nginx::start(&dir.join("nginx"), &mut sites);
    let (master_port, mirror_port) = (sites[0].port, sites[1].port);
    let options = Options {
        mode: Mode::Plain,
        cert: None,
        login: None,
    };
    let Some(sink) = smtp::start(&dir.join("mail"), &options) else {
        return;
    };
    let config = world_config(dir, database, master_port, sink.port);
    let catalog = dir.join("catalog.toml");
    fs::write(
        &catalog,
        "distribution = \"E2E\"\n\n[[release]]\nversion = \"9.8\"\naliases = [\"9\"]\n\
         arches = [\"x86_64\"]\n\n[[repo]]\nname = \"baseos\"\npath = \"BaseOS/{arch}/os\"\n",
    )
    .unwrap();
    run_ok(
        checker(&config, &["catalog", "load", catalog.to_str().unwrap()]),
        LIMIT,
    );
    run_ok(checker(&config, &["scan"]), LIMIT);

    let mut control = Proc::spawn(
        "control",
        checker(&config, &["serve", "--listen", "127.0.0.1:0"]),
        &dir.join("control.log"),
    );
    let line = control.wait_for_log("control plane serving", LIMIT);
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("listen="))
        .unwrap()
        .to_string();
    let base = format!("http://{addr}");
    let _daemon = Proc::spawn(
        "daemon",
        checker(&config, &["crawl"]),
        &dir.join("daemon.log"),
    );
    let snapshot = dir.join("snapshot.bin");
    wait_for("the first snapshot", LIMIT, || {
        snapshot.exists().then_some(())
    });
    let mut server = Command::new(workspace_bin("mirrorlist-server"));
    server.arg("--snapshot").arg(&snapshot).args([
        "--listen",
        "127.0.0.1:0",
        "--poll",
        "1s",
        "--no-locate-mirrors",
    ]);
    let mut server = Proc::spawn("mirrorlist-server", server, &dir.join("server.log"));
    let server_addr = server.server_address(LIMIT);
    let metalink = || {
        http_get(&server_addr, "/metalink?repo=baseos-9&arch=x86_64")
            .map(|(_, body)| body)
            .unwrap_or_default()
    };
    let listed = format!("127.0.0.1:{mirror_port}/");

    // Registered by someone not signed in; nothing is served yet.
    let operator = Curl {
        jar: dir.join("operator.jar"),
    };
    let fields = serde_json::json!({
        "name": NAME, "sponsor": "Journey", "sponsor_url": "https://e2e.test/",
        "email": "op@e2e.test", "http": format!("http://127.0.0.1:{mirror_port}/"),
        "country": "US", "bandwidth_mbps": 1000,
    });
    let (status, body) = operator.send(
        &format!("{base}/api/v1/registrations"),
        Some(&fields.to_string()),
        None,
    );
    assert_eq!(status, 201, "{body}");
    let (link, seen) = link_to(&sink, "op@e2e.test", 0);
    follow(&operator, &link);
    let one = format!("{base}/api/v1/registrations/{NAME}");
    let (status, body) = operator.send(&one, None, None);
    assert_eq!(status, 200, "{body}");
    let registration: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(registration["state"], "proving", "{body}");
    let token = registration["token"].as_str().unwrap().to_string();
    let proof_file = tree.join(".well-known/mirror-verification");
    fs::create_dir_all(proof_file.parent().unwrap()).unwrap();
    fs::write(&proof_file, format!("{token}\n")).unwrap();
    let (status, body) = operator.send(&format!("{one}/prove"), Some("{}"), None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"state\":\"waiting\""), "{body}");
    assert!(
        !metalink().contains(&listed),
        "served before an admin approved it"
    );

    // An admin signs in by mail and approves; the daemon crawls it and dnf's metalink has it.
    let admin = Curl {
        jar: dir.join("admin.jar"),
    };
    let (_, page) = admin.send(&format!("{base}/"), None, None);
    let form = format!("csrf={}&address=root%40e2e.test", csrf_in(&page));
    assert_eq!(
        admin.send(&format!("{base}/signin"), None, Some(&form)).0,
        200
    );
    let (link, _) = link_to(&sink, "root@e2e.test", seen);
    follow(&admin, &link);
    let (status, body) = admin.send(&format!("{one}/approve"), Some("{}"), None);
    assert_eq!(status, 200, "{body}");
    wait_for("the approved mirror in the metalink", LIMIT, || {
        metalink().contains(&listed).then_some(())
    });

    // Its operator disables it: it leaves the answers.
    let disable = format!("{base}/api/v1/mirrors/{NAME}/disable");
    let (status, body) = operator.send(&disable, Some(r#"{"reason":"resync"}"#), None);
    assert_eq!(status, 200, "{body}");
    wait_for("the disabled mirror gone from the metalink", LIMIT, || {
        (!metalink().contains(&listed)).then_some(())
    });

    // Its token gone past the grace: the operator and the admin are told, once.
    fs::remove_file(&proof_file).unwrap();
    let subject = format!("Subject: Ownership of {NAME} is no longer proven");
    let flagged = wait_for("the ownership flag's mail", LIMIT, || {
        let told: Vec<String> = sink
            .messages()
            .into_iter()
            .filter(|m| m.contains(&subject))
            .collect();
        (told.len() >= 2).then_some(told)
    });
    assert!(flagged
        .iter()
        .any(|m| m.contains("X-Envelope-To: op@e2e.test")));
    assert!(flagged
        .iter()
        .any(|m| m.contains("X-Envelope-To: root@e2e.test")));
    let (_, body) = admin.send(&format!("{base}/api/v1/audit?subject={NAME}"), None, None);
    for action in ["register", "approve", "disable", "ownership flagged"] {
        assert!(
            body.contains(&format!("\"action\":\"{action}\"")),
            "{action}: {body}"
        );
    }
    control.kill();
}

#[test]
fn an_operator_registers_proves_is_approved_served_disabled_and_flagged_on_sqlite() {
    if !tools_present(&["nginx", "rpmbuild", "createrepo_c", "curl"], false) {
        return;
    }
    let dir = test_dir();
    let database = format!("sqlite://{}/mirrors.db", dir.path().display());
    journey(dir.path(), &database);
}

#[test]
fn an_operator_registers_proves_is_approved_served_disabled_and_flagged_on_postgres() {
    if !tools_present(
        &["nginx", "rpmbuild", "createrepo_c", "curl", "psql"],
        false,
    ) {
        return;
    }
    let dir = test_dir();
    let pg = Postgres::start(&dir.path().join("pg"));
    journey(dir.path(), &pg.url);
}
