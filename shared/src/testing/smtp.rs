//! A real SMTP server for tests: `scripts/smtp-sink` (Debian's python3-aiosmtpd) on
//! loopback, writing each message it takes to a folder.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// How the sink speaks: plain, STARTTLS required, or TLS from the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    Starttls,
    Tls,
}

/// What the sink is started with.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    pub mode: Mode,
    /// Certificate and key (PEM files) for STARTTLS or TLS.
    pub cert: Option<(&'a Path, &'a Path)>,
    /// The user name and password AUTH must give (then mail without AUTH is refused).
    pub login: Option<(&'a str, &'a str)>,
}

/// A running sink; killed when dropped.
pub struct Sink {
    child: Child,
    pub port: u16,
    pub folder: PathBuf,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the sink on 127.0.0.1, writing to `folder`; `None` (after [`super::skip`]) when
/// python3-aiosmtpd is not installed.
pub fn start(folder: &Path, options: &Options<'_>) -> Option<Sink> {
    start_on(folder, options, 0)
}

/// [`start`] on `port` (0: any free one), so that a sink stopped can come back where a
/// relay setting points.
pub fn start_on(folder: &Path, options: &Options<'_>, port: u16) -> Option<Sink> {
    let probe = Command::new("/usr/bin/python3")
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        super::skip("no SMTP sink: /usr/bin/python3 lacks aiosmtpd (Debian's python3-aiosmtpd)");
        return None;
    }
    let script = super::workspace_root().join("scripts/smtp-sink");
    let mut command = Command::new(script);
    command
        .arg("--folder")
        .arg(folder)
        .arg("--port")
        .arg(port.to_string())
        .arg("--mode")
        .arg(match options.mode {
            Mode::Plain => "plain",
            Mode::Starttls => "starttls",
            Mode::Tls => "tls",
        });
    if let Some((cert, key)) = options.cert {
        command.arg("--cert").arg(cert).arg("--key").arg(key);
    }
    if let Some((user, password)) = options.login {
        command.args(["--user", user, "--password", password]);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("scripts/smtp-sink starts");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped");
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the sink says where it listens");
    let port = line
        .split_whitespace()
        .nth(2)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the sink did not start: {line:?}"));
    Some(Sink {
        child,
        port,
        folder: folder.to_path_buf(),
    })
}

impl Sink {
    /// The messages taken so far, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.folder)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        files.sort();
        files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    }

    /// The messages once at least `n` have arrived (waiting up to 10 s).
    pub fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..500 {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("the SMTP sink got fewer than {n} messages");
    }
}
