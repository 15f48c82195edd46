//! nginx on loopback: sites of their own (a port, a root, an access log each), as mirrors and
//! masters for the tests.

use super::*;
use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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
