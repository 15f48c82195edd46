//! A mirror's `TIME` file and address families: on the polite schedule TIME over each web
//! protocol first (health, and whether the mirror synced since its last check); then over
//! the main tree's first web URL the host's addresses (what the mirror is placed by), the
//! TIME file's age when not read already, and a probe over IPv4 and IPv6.

use super::fetch::{fetch, Counters};
use super::CrawlConfig;
use crate::health::Finding;
use crate::http::{HttpClient, Validators};
use crate::upstream::{time_file, TimeFile};
use shared::model::Family;
use shared::registry::{Mirror, Protocol};
use std::net::IpAddr;
use tokio::sync::Semaphore;
use url::Url;

/// What the crawl's probes share.
pub(super) struct Probe<'a> {
    pub client: &'a HttpClient,
    pub global: &'a Semaphore,
    pub config: &'a CrawlConfig,
    pub counters: &'a Counters,
    /// The check's clock, which a TIME file may not be ahead of.
    pub now: i64,
}

/// TIME over each web protocol.
#[derive(Default)]
pub(super) struct TimeOverProtocols {
    pub findings: Vec<(Protocol, Finding)>,
    /// What the TIME file says, from the first protocol that served one.
    pub value: Option<TimeFile>,
    pub checks: u32,
    pub failures: u32,
}

impl Probe<'_> {
    async fn get(&self, url: &Url, family: Family) -> Result<crate::http::Fetched, String> {
        fetch(
            self.client,
            url,
            family,
            &Validators::default(),
            self.config,
            self.counters,
        )
        .await
        .map_err(|e| e.to_string())
    }

    /// TIME over each web protocol the mirror has: reachable when it answers below 500.
    pub async fn time_over_protocols(&self, mirror: &Mirror) -> TimeOverProtocols {
        let mut out = TimeOverProtocols::default();
        for protocol in [Protocol::Http, Protocol::Https] {
            let base = mirror.urls.get(&protocol).and_then(|b| Url::parse(b).ok());
            let Some(url) = base.and_then(|b| b.join("TIME").ok()) else {
                continue;
            };
            let _slot = self.global.acquire().await.expect("never closed");
            let fetched = self.get(&url, Family::Any).await;
            out.checks += 1;
            let finding = reachable(&fetched, &protocol.to_string(), |s| {
                format!("reachable (TIME answered {s})")
            });
            out.failures += u32::from(!finding.ok);
            if let Ok(f) = fetched.as_ref() {
                if f.status == 200 && out.value.is_none() {
                    out.value = Some(time_file(&f.body, self.now));
                }
            }
            out.findings.push((protocol, finding));
        }
        out
    }

    /// Over the main tree's first web URL: the host's addresses, the TIME file's value when
    /// `read_time`, and with `probe_families` a finding per address family.
    pub async fn families(&self, mirror: &Mirror, read_time: bool) -> Families {
        let mut out = Families::default();
        let base = mirror
            .urls
            .get(&Protocol::Http)
            .or_else(|| mirror.urls.get(&Protocol::Https))
            .and_then(|b| Url::parse(b).ok());
        let Some(time_url) = base.and_then(|b| b.join("TIME").ok()) else {
            return out;
        };
        out.addresses = self.client.addresses(&time_url).await;
        let _slot = self.global.acquire().await.expect("never closed");
        if read_time {
            out.time = self
                .get(&time_url, Family::Any)
                .await
                .ok()
                .filter(|f| f.status == 200)
                .map(|f| time_file(&f.body, self.now));
        }
        if !self.config.probe_families {
            return out;
        }
        for (family, has) in [
            (Family::V4, out.addresses.iter().any(IpAddr::is_ipv4)),
            (Family::V6, out.addresses.iter().any(IpAddr::is_ipv6)),
        ] {
            let finding = if has {
                let fetched = self.get(&time_url, family).await;
                reachable(&fetched, &family.to_string(), |_| "reachable".into())
            } else {
                Finding {
                    ok: false,
                    reason: format!("{family}: the host has no {family} address"),
                }
            };
            out.findings.push((family.as_str().to_string(), finding));
        }
        out
    }
}

/// What the main tree's TIME URL told.
#[derive(Default)]
pub(super) struct Families {
    pub addresses: Vec<IpAddr>,
    pub time: Option<TimeFile>,
    /// (`ipv4` or `ipv6`, finding).
    pub findings: Vec<(String, Finding)>,
}

/// Up when the answer is below 500, in the words `ok` gives the status.
fn reachable(
    fetched: &Result<crate::http::Fetched, String>,
    what: &str,
    ok: impl Fn(u16) -> String,
) -> Finding {
    match fetched {
        Ok(f) if f.status < 500 => Finding {
            ok: true,
            reason: format!("{what}: {}", ok(f.status)),
        },
        Ok(f) => Finding {
            ok: false,
            reason: format!("{what}: HTTP {}", f.status),
        },
        Err(e) => Finding {
            ok: false,
            reason: format!("{what}: {e}"),
        },
    }
}
