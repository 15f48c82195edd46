//! Nothing lost, nothing twice: two checker daemons on one PostgreSQL deliver the operators'
//! messages from the outbox through a real SMTP server (scripts/smtp-sink). The relay is
//! down when the messages are written; it comes back, one daemon is killed while they are
//! being delivered, and the sink ends with every message exactly once.

use e2e::*;
use shared::testing::smtp::{self, Mode, Options};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(180);

/// A daemon named `id` on `config`'s settings.
fn daemon(config: &Path, dir: &Path, id: &str) -> Proc {
    let text = std::fs::read_to_string(config).unwrap();
    let own = dir.join(format!("{id}.toml"));
    let named = text.replacen(
        "lease = \"5s\"",
        &format!("lease = \"5s\"\nchecker_id = \"{id}\""),
        1,
    );
    std::fs::write(&own, named).unwrap();
    let mut c = Command::new(workspace_bin("mirror-checker"));
    c.arg("--config").arg(&own).args(["--log", "info", "crawl"]);
    Proc::spawn(id, c, &dir.join(format!("{id}.log")))
}

/// A relay that takes connections and never answers: whoever sends through it waits.
/// Dropped, it closes them and the port.
struct HangingRelay {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HangingRelay {
    fn start(port: u16) -> HangingRelay {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !stopping.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok((conn, _)) = listener.accept() {
                    held.push(conn);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        HangingRelay {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for HangingRelay {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// (recipient, subject) of each message the sink took, counted.
fn taken(folders: &[&Path]) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            if e.path().extension().is_none_or(|x| x != "eml") {
                continue;
            }
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            let header = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .unwrap_or("")
                    .trim()
                    .to_string()
            };
            *out.entry((header("X-Envelope-To:"), header("Subject:")))
                .or_default() += 1;
        }
    }
    out
}

#[test]
fn two_daemons_deliver_every_message_once_through_a_relay_that_was_down() {
    if !tools_present(&["psql"], false) {
        return;
    }
    let dir = test_dir();
    let d = dir.path();
    let pg = Postgres::start(&d.join("pg"));
    let relay = candidate_port();
    let net = SimNetwork::start(
        d,
        &format!(
            "[daemon]\ninterval = \"1h\"\nfirst_check_within = \"2s\"\ntick = \"1s\"\n\
             master_interval = \"1h\"\nlease = \"5s\"\n\n\
             [control]\nsmtp_relay = \"127.0.0.1\"\nsmtp_port = {relay}\nsmtp_security = \"none\"\n\
             mail_from = \"mirrors@example.org\"\nnotify_retry = \"2s\"\nnotify_lease = \"4s\"\n"
        ),
        LIMIT,
    );
    // The store is the PostgreSQL server, for both daemons.
    let text = std::fs::read_to_string(&net.config).unwrap();
    let first = text.lines().next().unwrap().to_string();
    std::fs::write(
        &net.config,
        text.replacen(&first, &format!("database = \"{}\"", pg.url), 1),
    )
    .unwrap();
    net.load_examples(LIMIT);
    let mut a = daemon(&net.config, d, "checker-a");
    let mut b = daemon(&net.config, d, "checker-b");

    // With the relay down: a notice to every contact, and an admin's holds and releases.
    let held = [
        "mirror1.example.org",
        "mirror2.example.net",
        "mirror3.example.com",
    ];
    run_ok(
        net.checker(&[
            "notice",
            "--subject",
            "10.2 is coming",
            "--body",
            "Sync it by Friday.",
        ]),
        LIMIT,
    );
    for name in held {
        run_ok(
            net.checker(&["admin", "hold", name, "--reason", "abuse report"]),
            LIMIT,
        );
        run_ok(net.checker(&["admin", "release", name]), LIMIT);
    }
    let written = pg.count("SELECT COUNT(*) FROM outbox");
    assert!(written >= 7, "{written} messages written");
    wait_for("failed attempts on the relay that is down", LIMIT, || {
        (pg.count("SELECT COUNT(*) FROM outbox WHERE last_error IS NOT NULL") > 0).then_some(())
    });
    assert_eq!(
        pg.count("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NOT NULL"),
        0
    );

    // A relay that hangs: checker-a is killed while it waits on it, holding leases.
    let hanging = HangingRelay::start(relay);
    wait_for(
        "checker-a stuck on the relay, holding messages",
        LIMIT,
        || {
            let now = shared::time::now();
            let held = pg.count(&format!(
            "SELECT COUNT(*) FROM outbox WHERE lease_holder = 'checker-a' AND lease_until > {now}"
        ));
            (held > 0).then_some(())
        },
    );
    a.kill();
    // The relay is back (a real one on the same port, the hanging one gone).
    drop(hanging);
    let sink_dir = d.join("sink");
    let Some(_sink) = smtp::start_on(
        &sink_dir,
        &Options {
            mode: Mode::Plain,
            cert: None,
            login: None,
        },
        relay,
    ) else {
        return;
    };
    wait_for("every message delivered", LIMIT, || {
        (pg.count("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL") == 0).then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    let got = taken(&[&sink_dir]);
    let twice: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered twice: {twice:?}");
    let total: usize = got.values().sum();
    assert_eq!(total as i64, written, "{got:?}");
    assert!(got.keys().any(|(_, s)| s == "10.2 is coming"), "{got:?}");
    assert!(
        got.keys()
            .any(|(_, s)| s == "mirror1.example.org: held out of the answers"),
        "{got:?}"
    );
    let gave_up = pg.count("SELECT COUNT(*) FROM outbox WHERE gave_up_at IS NOT NULL");
    assert_eq!(gave_up, 0);
    assert!(b.running(), "{}", b.log_text());
    b.kill();
}
