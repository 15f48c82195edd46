//! A browser's worth of the control plane for the tests: curl with a cookie jar, the CSRF
//! field of a page, the sign-in link of a mail a real SMTP server took, following it.

use super::*;
use shared::testing::smtp;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// curl with a cookie jar of its own: one browser's worth of cookies.
pub struct Curl {
    pub jar: PathBuf,
}

impl Curl {
    /// `(status, body)` of a request; `json` sends a JSON body, `form` a form.
    pub fn send(&self, url: &str, json: Option<&str>, form: Option<&str>) -> (u16, String) {
        let mut c = Command::new("curl");
        c.args(["-sS", "-o", "-", "-w", "\n%{http_code}", "--max-time", "30"])
            .arg("-b")
            .arg(&self.jar)
            .arg("-c")
            .arg(&self.jar);
        if let Some(body) = json {
            c.args([
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                body,
            ]);
        }
        if let Some(body) = form {
            c.args(["--data-binary", body]);
        }
        c.arg(url);
        let out = run_ok(c, Duration::from_secs(120)).stdout;
        let (body, status) = out.rsplit_once('\n').unwrap();
        (status.trim().parse().unwrap(), body.to_string())
    }
}

pub fn csrf_in(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[at..].split('"').next().unwrap().to_string()
}

/// The sign-in link of the newest message to `to` holding one, once it arrived.
pub fn link_to(sink: &smtp::Sink, to: &str, seen: usize) -> (String, usize) {
    wait_for("the sign-in mail", Duration::from_secs(120), || {
        let all = sink.messages();
        let link = all
            .iter()
            .skip(seen)
            .find(|m| m.contains(&format!("To: {to}")))?;
        let link = link
            .split_whitespace()
            .find(|w| w.starts_with("http") && w.contains("/signin/"))?;
        Some((link.to_string(), all.len()))
    })
}

/// Follows a mailed link as a browser would: the page, then its button.
pub fn follow(browser: &Curl, link: &str) {
    let (status, page) = browser.send(link, None, None);
    assert_eq!(status, 200, "{page}");
    let (status, body) = browser.send(link, None, Some(&format!("csrf={}", csrf_in(&page))));
    assert_eq!(status, 303, "{body}");
}
