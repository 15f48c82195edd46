//! Helpers for the end-to-end tests: the workspace's programs as child processes, nginx sites
//! on loopback, tiny RPM repositories, HTTP on loopback, bounded waits. (Test support only,
//! hence one file a reader of any of the end-to-end tests can scan.)
//!
//! The tests run real tools (dnf, rpmbuild, createrepo_c, nginx, PostgreSQL). Where one is
//! missing they say which and how to get it, and skip; under CI (`CI` set) a missing tool is
//! a failure, because `.ci/run` installs them all.

pub mod browser;

use sha2::{Digest, Sha256};
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// True when every tool is on PATH (and, with `root`, the test runs as root). Otherwise prints
/// why the test is skipped and returns false, or panics under CI.
pub fn tools_present(tools: &[&str], root: bool) -> bool {
    let mut missing: Vec<String> = tools
        .iter()
        .filter(|t| which(t).is_none())
        .map(|t| t.to_string())
        .collect();
    if root && !is_root() {
        missing.push("root (dnf installs into an install root and counts only as root)".into());
    }
    if missing.is_empty() {
        return true;
    }
    shared::testing::skip(&format!(
        "it needs {}; `./scripts/test` installs the tools as root \
         (apt-get install -y dnf dnf-plugins-core createrepo-c rpm nginx postgresql chromium \
         chromium-driver)",
        missing.join(", ")
    ));
    false
}

pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A program of this workspace, next to the test binaries (`./scripts/test` builds them;
/// by hand: `cargo build --workspace --bins`).
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the programs first (cargo build --workspace --bins)",
        path.display()
    );
    path
}

/// The project's root folder.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A port that was free a moment ago, for servers that cannot bind port 0 and say which
/// port they got (nginx, PostgreSQL): whoever starts one with it retries with another when
/// the port was taken in between. This workspace's programs bind port 0 and print their
/// address instead ([`Proc::server_address`], [`Proc::metrics_address`]). A process never
/// gets one port twice: the kernel may hand a closed port out again, and two sites given one
/// port would be one nginx server answering for both (nginx accepts the same `listen` twice).
pub fn candidate_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out after {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One HTTP/1.1 GET on loopback: status and body (with headers stripped).
pub fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    Ok((
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_string()
        },
    ))
}

/// A chunked body's content.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// A snapshot of the example network in which every mirror is current everywhere
/// (`mirror-sim synthetic-snapshot`), written to `dir/snapshot.bin`.
pub fn example_snapshot(dir: &Path) -> PathBuf {
    let examples = project_root().join("deploy/examples");
    let snapshot = dir.join("snapshot.bin");
    let mut make = Command::new(workspace_bin("mirror-sim"));
    make.arg("synthetic-snapshot")
        .arg("--registry")
        .arg(examples.join("mirrors.d"))
        .arg("--catalog")
        .arg(examples.join("catalog.toml"))
        .arg("--out")
        .arg(&snapshot);
    run_ok(make, Duration::from_secs(60));
    snapshot
}

/// The example registry served by `mirror-sim serve` (realistic mix, filler packages) in
/// `dir/sim`, and a checker configuration reaching it, in `dir/checker.toml`, with short
/// timeouts and `extra` appended (a `[daemon]` section, say). The checker's store and
/// snapshot are `dir/mirrors.db` and `dir/snapshot.bin`.
pub struct SimNetwork {
    pub sim: Proc,
    pub config: PathBuf,
}

impl SimNetwork {
    pub fn start(dir: &Path, extra: &str, limit: Duration) -> SimNetwork {
        SimNetwork::start_with(dir, &[], extra, limit)
    }

    /// [`SimNetwork::start`] with more arguments for `mirror-sim serve`
    /// (`--publish-every N`, say).
    pub fn start_with(dir: &Path, sim_args: &[&str], extra: &str, limit: Duration) -> SimNetwork {
        let examples = project_root().join("deploy/examples");
        let mut sim = Command::new(workspace_bin("mirror-sim"));
        sim.args(["serve", "--mix", "realistic", "--synthetic-packages"])
            .args(sim_args)
            .arg("--registry")
            .arg(examples.join("mirrors.d"))
            .arg("--catalog")
            .arg(examples.join("catalog.toml"))
            .arg("--out")
            .arg(dir.join("sim"));
        let mut sim = Proc::spawn("mirror-sim", sim, &dir.join("sim.log"));
        sim.wait_for_log("serving", limit);
        let routes = fs::read_to_string(dir.join("sim/checker-network.toml")).unwrap();
        let config = dir.join("checker.toml");
        fs::write(
            &config,
            format!(
                "database = \"sqlite://{}\"\nsnapshot_path = \"{}\"\n\n{}\n[crawl]\nretries = 0\n\n{extra}",
                dir.join("mirrors.db").display(),
                dir.join("snapshot.bin").display(),
                routes.replace(
                    "[http]",
                    "[http]\nconnect_timeout = \"1s\"\nfirst_byte_timeout = \"2s\"\ntotal_timeout = \"3s\""
                )
            ),
        )
        .unwrap();
        SimNetwork { sim, config }
    }

    /// `mirror-checker --config CONFIG --log warn ARGS`.
    pub fn checker(&self, args: &[&str]) -> Command {
        let mut c = Command::new(workspace_bin("mirror-checker"));
        c.arg("--config")
            .arg(&self.config)
            .args(["--log", "warn"])
            .args(args);
        c
    }

    /// Makes a signing key at `key` (and `key.pub`) with `mirror-checker keygen` and has the
    /// checker sign its snapshots with it (a top-level setting: before every section).
    pub fn sign_snapshots(&self, key: &Path, limit: Duration) {
        let mut keygen = Command::new(workspace_bin("mirror-checker"));
        keygen.arg("keygen").arg(key);
        let out = run_ok(keygen, limit).text();
        assert!(out.contains("--snapshot-key"), "{out}");
        let config = fs::read_to_string(&self.config).unwrap();
        fs::write(
            &self.config,
            format!("snapshot_signing_key = \"{}\"\n{config}", key.display()),
        )
        .unwrap();
    }

    /// Loads the example catalog and imports the example registry into the checker's store.
    pub fn load_examples(&self, limit: Duration) {
        let examples = project_root().join("deploy/examples");
        let catalog = examples.join("catalog.toml").display().to_string();
        run_ok(self.checker(&["catalog", "load", &catalog]), limit);
        let registry = examples.join("mirrors.d").display().to_string();
        run_ok(
            self.checker(&["import-registry", &registry, "--sync"]),
            limit,
        );
    }
}

/// The value of one Prometheus sample (a metric name with its labels, as exposed), 0 when
/// absent.
pub fn metric(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

pub fn sha256_file(path: &Path) -> String {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A temporary folder for a test's world, kept (and its path printed) when `E2E_KEEP` is set,
/// to look at the logs after a failure.
pub fn test_dir() -> tempfile::TempDir {
    let mut dir = tempfile::Builder::new().prefix("e2e-").tempdir().unwrap();
    if std::env::var_os("E2E_KEEP").is_some() {
        dir.disable_cleanup(true);
        eprintln!("keeping {}", dir.path().display());
    }
    dir
}

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

/// One nginx site: a port on 127.0.0.1 serving a folder, with its own access log (request,
/// status, user agent).
pub struct Site {
    pub name: String,
    pub port: u16,
    pub root: PathBuf,
}

/// nginx in the foreground as a single process, serving `sites`.
pub struct Nginx {
    pub dir: PathBuf,
    _proc: Proc,
}

impl Nginx {
    /// Starts nginx serving `sites` on their ports; when a port was taken meanwhile, gives
    /// every site a new candidate port and tries again (a few times).
    pub fn start(dir: &Path, sites: &mut [Site]) -> Nginx {
        for _ in 0..4 {
            match Nginx::try_start(dir, sites) {
                Ok(nginx) => return nginx,
                Err(why) => {
                    eprintln!("nginx: {why}; trying other ports");
                    for s in sites.iter_mut() {
                        s.port = candidate_port();
                    }
                }
            }
        }
        Nginx::try_start(dir, sites).unwrap_or_else(|why| panic!("nginx: {why}"))
    }

    fn try_start(dir: &Path, sites: &[Site]) -> Result<Nginx, String> {
        let ports: std::collections::HashSet<u16> = sites.iter().map(|s| s.port).collect();
        assert_eq!(ports.len(), sites.len(), "two sites share a port");
        fs::create_dir_all(dir.join("tmp")).unwrap();
        let d = dir.display();
        let mut conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\nevents {{ worker_connections 256; }}\nhttp {{\n\
             default_type application/octet-stream;\n\
             log_format e2e '$request_method $request_uri $status \"$http_user_agent\"';\n\
             client_body_temp_path {d}/tmp/body;\nproxy_temp_path {d}/tmp/proxy;\n\
             fastcgi_temp_path {d}/tmp/fastcgi;\nuwsgi_temp_path {d}/tmp/uwsgi;\n\
             scgi_temp_path {d}/tmp/scgi;\n"
        );
        // As root, nginx would otherwise serve as an unprivileged user that cannot read a
        // test's private temporary folders.
        if is_root() {
            conf.insert_str(0, "user root;\n");
        }
        for s in sites {
            conf.push_str(&format!(
                "server {{ listen 127.0.0.1:{port}; root {root}; access_log {d}/{name}.access.log e2e; }}\n",
                port = s.port,
                root = s.root.display(),
                name = s.name
            ));
        }
        conf.push_str("}\n");
        fs::write(dir.join("nginx.conf"), conf).unwrap();
        let mut cmd = Command::new(which("nginx").expect("nginx"));
        cmd.arg("-p").arg(dir).arg("-c").arg(dir.join("nginx.conf"));
        let mut proc = Proc::spawn("nginx", cmd, &dir.join("nginx.out"));
        let start = Instant::now();
        for s in sites {
            while TcpStream::connect(("127.0.0.1", s.port)).is_err() {
                if !proc.running() {
                    let why = format!(
                        "exited: {}{}",
                        proc.log_text(),
                        fs::read_to_string(dir.join("error.log")).unwrap_or_default()
                    );
                    if why.contains("Address already in use") {
                        return Err(why);
                    }
                    panic!("nginx {why}");
                }
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "nginx not listening on {} after 10 s",
                    s.port
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(Nginx {
            dir: dir.to_path_buf(),
            _proc: proc,
        })
    }

    /// The lines of a site's access log.
    pub fn access_log(&self, site: &str) -> Vec<String> {
        fs::read_to_string(self.dir.join(format!("{site}.access.log")))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// Builds tiny noarch RPMs with rpmbuild: one per name, installing `/usr/share/e2e/NAME`.
pub fn build_rpms(dir: &Path, names: &[&str]) -> Vec<PathBuf> {
    let top = dir.join("rpmbuild");
    fs::create_dir_all(&top).unwrap();
    names
        .iter()
        .map(|name| {
            let spec = top.join(format!("{name}.spec"));
            fs::write(
                &spec,
                format!(
                    "Name: {name}\nVersion: 1\nRelease: 1\nSummary: {name} for end-to-end tests\n\
                     License: MIT\nBuildArch: noarch\nAutoReqProv: no\n%description\n{name}\n\
                     %install\nmkdir -p %{{buildroot}}/usr/share/e2e\n\
                     echo {name} > %{{buildroot}}/usr/share/e2e/{name}\n\
                     %files\n/usr/share/e2e/{name}\n"
                ),
            )
            .unwrap();
            let mut cmd = Command::new("rpmbuild");
            cmd.arg("-bb")
                .arg("--define")
                .arg(format!("_topdir {}", top.display()))
                .arg(&spec);
            run_ok(cmd, Duration::from_secs(120));
            let rpm = top
                .join("RPMS/noarch")
                .join(format!("{name}-1-1.noarch.rpm"));
            assert!(rpm.exists(), "rpmbuild made no {}", rpm.display());
            rpm
        })
        .collect()
}

/// A repository in `dir`: the RPMs under Packages/ and repodata from createrepo_c.
pub fn make_repo(dir: &Path, rpms: &[PathBuf], revision: u32) {
    let packages = dir.join("Packages");
    fs::create_dir_all(&packages).unwrap();
    for rpm in rpms {
        fs::copy(rpm, packages.join(rpm.file_name().unwrap())).unwrap();
    }
    let mut cmd = Command::new("createrepo_c");
    cmd.arg("--revision").arg(revision.to_string()).arg(dir);
    run_ok(cmd, Duration::from_secs(120));
}

/// Points the symlink `link` at `target`, atomically (a reader sees one or the other).
pub fn switch_link(link: &Path, target: &Path) {
    let tmp = link.with_extension("new");
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    fs::rename(&tmp, link).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two sites given one port would be one nginx server answering for both (nginx accepts
    /// the same `listen` twice): a test would then see one site's tree under another's name.
    #[test]
    fn candidate_ports_are_never_handed_out_twice() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..3000 {
            let port = candidate_port();
            assert!(seen.insert(port), "port {port} handed out twice");
        }
    }
}
