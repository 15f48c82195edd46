//! The crawler's HTTP settings (`[http]`): timeouts, the body cap, redirects, extra CAs,
//! static routes, the internal addresses it may reach, and the User-Agent.

use serde::Deserialize;
use shared::duration::Human;
use std::net::SocketAddr;
use std::path::PathBuf;
use url::Url;

/// Where requests for `host:port` go instead of DNS; `host = "*"` matches any host.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConnectTo {
    pub host: String,
    pub port: u16,
    pub addrs: Vec<SocketAddr>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Static routes that replace DNS, like curl's `--connect-to`. Off by default.
    pub connect_to: Vec<ConnectTo>,
    /// PEM files of CA certificates trusted besides the public roots. Off by default.
    pub extra_ca_files: Vec<PathBuf>,
    pub connect_timeout: Human,
    /// From sending the request to receiving the response headers.
    pub first_byte_timeout: Human,
    /// The whole fetch, body and redirects included.
    pub total_timeout: Human,
    /// Bodies larger than this are cut and the fetch fails (repomd.xml is a few KiB).
    pub max_body_bytes: u64,
    pub max_redirects: u32,
    pub user_agent: String,
    /// A page that says what this checker is, who runs it and from which addresses it
    /// crawls; sent in the User-Agent (`mirror-checker/1.0 (+URL)`), as mirrors that block
    /// unknown crawlers ask. Empty by default: set it in production.
    pub about_url: String,
    /// Internal addresses (loopback, private, link-local, ...) the checker may connect to,
    /// and registry URLs may name: none by default. A test network lists its own.
    pub allow_internal: Vec<ipnet::IpNet>,
    /// Follow redirects to another host (a common mirror set-up; the hosts are recorded and
    /// shown in `status`). Internal addresses stay refused either way.
    pub follow_offhost_redirects: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_to: Vec::new(),
            extra_ca_files: Vec::new(),
            connect_timeout: Human::secs(5),
            first_byte_timeout: Human::secs(10),
            total_timeout: Human::secs(20),
            max_body_bytes: 1 << 20,
            max_redirects: 5,
            user_agent: concat!("mirror-checker/", env!("CARGO_PKG_VERSION")).into(),
            about_url: String::new(),
            allow_internal: Vec::new(),
            follow_offhost_redirects: true,
        }
    }
}

/// The User-Agent sent: the configured one, with `(+about_url)` when there is one (a bad
/// URL is a configuration error, not a header sent).
pub fn user_agent(config: &HttpConfig) -> crate::Result<String> {
    let about = config.about_url.trim();
    if about.is_empty() {
        return Ok(config.user_agent.clone());
    }
    let url = Url::parse(about)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            crate::Error::Config(format!(
                "[http] about_url {about:?} is not an http(s) URL (a page saying what the \
                 checker is and from which addresses it crawls)"
            ))
        })?;
    let ua = format!("{} (+{url})", config.user_agent);
    if ua.bytes().any(|b| !(0x20..0x7f).contains(&b)) {
        return Err(crate::Error::Config(format!(
            "[http] user_agent {ua:?} has characters a header cannot carry"
        )));
    }
    Ok(ua)
}
