//! A real browser for the page tests: headless Chromium driven through chromedriver's W3C
//! WebDriver endpoint on loopback (a handful of commands: open a page, run a script, type,
//! click, size the window, take a screenshot).

use crate::{candidate_port, wait_for, Proc};
use base64::Engine as _;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub struct Browser {
    addr: String,
    session: String,
    _driver: Proc,
}

/// One request to chromedriver; the answer's `value`, or a panic with WebDriver's error.
fn call(addr: &str, method: &str, path: &str, body: Option<&Value>) -> Value {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("chromedriver at {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // chromedriver may keep the connection open: read the body by its length.
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let (head, length) = loop {
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "{method} {path}: connection closed before the headers"
        );
        raw.extend_from_slice(&buf[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or_else(|| panic!("{method} {path}: no Content-Length: {head}"));
            raw.drain(..end + 4);
            break (head, length);
        }
    };
    while raw.len() < length {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "{method} {path}: body cut short");
        raw.extend_from_slice(&buf[..n]);
    }
    let payload = String::from_utf8_lossy(&raw[..length]).to_string();
    let text = format!("{head}\n\n{payload}");
    let v: Value = serde_json::from_str(&payload)
        .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
    if let Some(err) = v["value"].get("error") {
        panic!("{method} {path}: {err}: {}", v["value"]["message"]);
    }
    v["value"].clone()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile in `dir`.
    pub fn start(dir: &Path) -> Browser {
        let port = candidate_port();
        let mut cmd = Command::new("chromedriver");
        cmd.arg(format!("--port={port}"));
        let mut driver = Proc::spawn("chromedriver", cmd, &dir.join("chromedriver.log"));
        let addr = format!("127.0.0.1:{port}");
        wait_for("chromedriver to be ready", Duration::from_secs(30), || {
            assert!(
                driver.running(),
                "chromedriver exited: {}",
                driver.log_text()
            );
            TcpStream::connect(&addr)
                .ok()
                .map(|_| call(&addr, "GET", "/status", None))
                .filter(|v| v["ready"] == true)
        });
        let profile = dir.join("chromium-profile");
        let session = call(
            &addr,
            "POST",
            "/session",
            Some(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"args": [
                    "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.display()),
                ]}
            }}})),
        )["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        Browser {
            addr,
            session,
            _driver: driver,
        }
    }

    fn session_call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        call(
            &self.addr,
            method,
            &format!("/session/{}{path}", self.session),
            body,
        )
    }

    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(&json!({ "url": url })));
    }

    /// Runs `script` (a function body; `return` gives the value) in the page.
    pub fn script(&self, script: &str) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(&json!({ "script": script, "args": [] })),
        )
    }

    fn element(&self, css: &str) -> String {
        let v = self.session_call(
            "POST",
            "/element",
            Some(&json!({ "using": "css selector", "value": css })),
        );
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_string()
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.session_call(
            "POST",
            &format!("/element/{id}/value"),
            Some(&json!({ "text": text })),
        );
    }

    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.session_call("POST", &format!("/element/{id}/click"), Some(&json!({})));
    }

    /// The window's size in CSS pixels (a phone: 390 × 844).
    pub fn window(&self, width: u32, height: u32) {
        self.session_call(
            "POST",
            "/window/rect",
            Some(&json!({ "width": width, "height": height })),
        );
    }

    /// A PNG of the viewport, written to `path`.
    pub fn screenshot(&self, path: &Path) {
        let b64 = self.session_call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("base64 text"))
            .expect("a PNG in base64");
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    /// Ends the session (best effort: the driver is killed next anyway).
    fn drop(&mut self) {
        if let Ok(mut s) = TcpStream::connect(&self.addr) {
            let _ = write!(
                s,
                "DELETE /session/{} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                self.session, self.addr
            );
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = s.read_to_end(&mut Vec::new());
        }
    }
}
