//! A PostgreSQL server of a test's own (scripts/pg-test-server on a candidate port),
//! stopped when dropped; queries through psql.

use super::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A running server; `url` reaches its `postgres` database.
pub struct Postgres {
    pub dir: PathBuf,
    pub port: u16,
    pub url: String,
}

impl Postgres {
    pub fn run_script(&self, cmd: &str) -> Ran {
        let mut c = Command::new("bash");
        c.arg(project_root().join("scripts/pg-test-server"))
            .arg(cmd)
            .arg(&self.dir)
            .arg(self.port.to_string());
        run(c, Duration::from_secs(120))
    }

    pub fn script(&self, cmd: &str) {
        let ran = self.run_script(cmd);
        assert!(ran.ok(), "pg-test-server {cmd} failed:\n{}", ran.text());
    }

    /// PostgreSQL cannot bind port 0 and say which port it got: it gets a candidate port, and
    /// another when that one was taken meanwhile.
    pub fn start(dir: &Path) -> Postgres {
        let mut last = String::new();
        for _ in 0..4 {
            let port = candidate_port();
            let pg = Postgres {
                dir: dir.to_path_buf(),
                port,
                url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            };
            let ran = pg.run_script("start");
            if ran.ok() {
                return pg;
            }
            last = format!(
                "{}\n{}",
                ran.text(),
                fs::read_to_string(dir.join("server.log")).unwrap_or_default()
            );
        }
        panic!("PostgreSQL did not start:\n{last}");
    }

    /// One value per row of a query, through psql.
    pub fn query(&self, sql: &str) -> Vec<String> {
        let mut c = Command::new("psql");
        c.arg(&self.url).args(["-X", "-At", "-c", sql]);
        let ran = run_ok(c, Duration::from_secs(30));
        ran.stdout.lines().map(str::to_string).collect()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.query(sql)[0].parse().unwrap()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.script("stop");
    }
}
