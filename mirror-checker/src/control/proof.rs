//! Proof that whoever registers a mirror runs it: the control plane issues a token, the
//! operator publishes it at `<base>/.well-known/mirror-verification` under each of the
//! mirror's http and https base URLs, and the checker fetches it there with the crawl's
//! client (its time and size limits, its refusal of internal addresses on every hop). Only
//! the file's own host counts: a redirect to another host proves nothing about this one.
//! rsync and ftp URLs are not fetched (the checker speaks http and https); the web URLs'
//! proof stands for the host.

use crate::http::{HttpClient, Validators};
use serde::{Deserialize, Serialize};
use shared::model::Family;
use shared::registry::Mirror;

/// Where the token is published, under each base URL.
pub const PATH: &str = ".well-known/mirror-verification";

/// What one protocol's fetch found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub protocol: String,
    /// Where it was looked for.
    pub url: String,
    pub found: bool,
    /// What the operator reads: what was found, or what to do.
    pub reason: String,
}

/// Whether every finding found the token (and there was at least one web URL).
pub fn proven(findings: &[Finding]) -> bool {
    !findings.is_empty() && findings.iter().all(|f| f.found)
}

/// Looks for `token` under each of `mirror`'s web base URLs.
pub async fn prove(client: &HttpClient, mirror: &Mirror, token: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for (protocol, base) in mirror.urls.iter().filter(|(p, _)| p.is_web()) {
        let url = format!("{base}{PATH}");
        let (found, reason) = look(client, &url, token).await;
        out.push(Finding {
            protocol: protocol.as_str().to_string(),
            url,
            found,
            reason,
        });
    }
    out
}

async fn look(client: &HttpClient, url: &str, token: &str) -> (bool, String) {
    // An empty token would be "found" on any empty line: there is nothing to prove with.
    if token.trim().is_empty() {
        return (
            false,
            format!("no ownership token to look for at {url}: ask the admins"),
        );
    }
    let Ok(parsed) = url::Url::parse(url) else {
        return (false, format!("{url} is not a URL"));
    };
    let fetched = match client
        .get(&parsed, Family::Any, &Validators::default())
        .await
    {
        Ok(f) => f,
        Err(e) => return (false, format!("{e}: the checker could not fetch {url}")),
    };
    if let Some(host) = &fetched.offhost {
        return (
            false,
            format!("{url} redirects to {host}: serve the file under the base URL itself"),
        );
    }
    match fetched.status {
        200 => {}
        404 => return (false, format!("404: publish the token at {url}")),
        status => return (false, format!("HTTP {status} for {url}")),
    }
    let body = String::from_utf8_lossy(&fetched.body);
    if body.lines().any(|line| line.trim() == token) {
        return (true, format!("the token is at {url}"));
    }
    let first = body.lines().next().unwrap_or("").trim();
    let reason = if first.is_empty() {
        format!("{url} is empty: it must hold the token")
    } else if first.len() == token.len() {
        format!("{url} holds another token: publish this registration's")
    } else {
        format!(
            "{url} does not hold the token (it begins {:?})",
            shared::text::bounded(first, 60)
        )
    };
    (false, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_empty_token_is_never_found() {
        let client = HttpClient::new(crate::http::HttpConfig::default()).unwrap();
        let mut m = Mirror::new("m.example.org", "M");
        m.urls.insert(
            shared::registry::Protocol::Http,
            "http://m.example.org/".into(),
        );
        let found = prove(&client, &m, "").await;
        assert!(!proven(&found), "{found:?}");
        assert!(found[0].reason.contains("no ownership token"), "{found:?}");
    }
}
