//! The programs and tools the tests run: child processes killed on drop, with their output
//! kept, and bounded runs of a command.

use super::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A child process that is killed when dropped; its output goes to a log file.
pub struct Proc {
    pub name: String,
    pub log: PathBuf,
    child: Child,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Proc {
        let file = fs::File::create(log).unwrap();
        cmd.stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .stdin(Stdio::null());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            name: name.to_string(),
            log: log.to_path_buf(),
            child,
        }
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most `limit`) for a line of the log holding `marker`, and returns what
    /// follows the marker on that line, trimmed.
    pub fn wait_for_log(&mut self, marker: &str, limit: Duration) -> String {
        wait_for(&format!("{} to log {marker:?}", self.name), limit, || {
            let text = self.log_text();
            let found = text.lines().find_map(|l| {
                l.split_once(marker)
                    .map(|(_, rest)| rest.trim().to_string())
            });
            if found.is_none() {
                assert!(self.running(), "{} exited: {text}", self.name);
            }
            found
        })
    }

    /// Where mirrorlist-server listens (asked for port 0): its `listening on ADDR` line.
    pub fn server_address(&mut self, limit: Duration) -> String {
        self.wait_for_log("listening on ", limit)
    }

    /// Where a mirror-checker daemon serves metrics (asked for port 0): its
    /// `metrics listening listen=ADDR` log line.
    pub fn metrics_address(&mut self, limit: Duration) -> String {
        self.listen_address("metrics", limit)
    }

    /// Where a mirror-checker daemon's listener for `what` (`metrics`, `snapshots`) is
    /// bound: its `WHAT listening listen=ADDR` log line.
    pub fn listen_address(&mut self, what: &str, limit: Duration) -> String {
        let rest = self.wait_for_log(&format!("{what} listening"), limit);
        rest.split_whitespace()
            .find_map(|w| w.strip_prefix("listen="))
            .unwrap_or_else(|| panic!("no listen= in {rest:?}"))
            .to_string()
    }

    /// Still running?
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGKILL, as a crash would.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a command run to completion printed.
pub struct Ran {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.status.success()
    }
    pub fn text(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` to completion, killing it after `limit` (then panicking: a hang is a failure).
pub fn run(mut cmd: Command, limit: Duration) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    cmd.stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .stdin(Stdio::null());
    let what = format!("{cmd:?}");
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not finish within {limit:?}; it printed:\n{}\n{}",
                fs::read_to_string(&out).unwrap_or_default(),
                fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran {
        status,
        stdout: fs::read_to_string(&out).unwrap_or_default(),
        stderr: fs::read_to_string(&err).unwrap_or_default(),
    }
}

/// Runs `cmd` and panics, with what it printed, unless it succeeds.
pub fn run_ok(cmd: Command, limit: Duration) -> Ran {
    let what = format!("{cmd:?}");
    let ran = run(cmd, limit);
    assert!(ran.ok(), "{what} failed:\n{}", ran.text());
    ran
}
