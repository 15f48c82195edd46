//! Fetching for the crawl: GET with retries (backoff and jitter) on transport failures and
//! 5xx answers, counting what each mirror cost, and the validators worth sending back.

use super::CrawlConfig;
use crate::http::{FetchError, Fetched, HttpClient, Validators};
use shared::model::Family;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use url::Url;

/// What one mirror's check cost, and where its redirects led.
#[derive(Default)]
pub(super) struct Counters {
    pub requests: AtomicU64,
    pub bytes: AtomicU64,
    pub not_modified: AtomicU64,
    /// Other hosts redirects led to.
    pub offhost: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// A tiny jitter source: no need for cryptographic quality.
fn jitter(max_ms: u64) -> u64 {
    u64::from(shared::time::clock_noise()) % max_ms.max(1)
}

/// GET with retries on transport failures and 5xx answers.
pub(super) async fn fetch(
    client: &HttpClient,
    url: &Url,
    family: Family,
    validators: &Validators,
    config: &CrawlConfig,
    counters: &Counters,
) -> Result<Fetched, FetchError> {
    let mut attempt = 0;
    loop {
        let result = client.get(url, family, validators).await;
        match &result {
            Ok(f) => {
                counters
                    .requests
                    .fetch_add(u64::from(f.requests), Ordering::Relaxed);
                counters
                    .bytes
                    .fetch_add(f.body.len() as u64, Ordering::Relaxed);
                if let Some(host) = &f.offhost {
                    if let Ok(mut seen) = counters.offhost.lock() {
                        seen.insert(shared::text::bounded(host, 253));
                    }
                }
            }
            Err(_) => {
                counters.requests.fetch_add(1, Ordering::Relaxed);
            }
        }
        let retry = match &result {
            Ok(f) => f.status >= 500,
            Err(e) => e.is_transport(),
        };
        if !retry || attempt >= config.retries {
            return result;
        }
        attempt += 1;
        let backoff = config.retry_backoff.as_millis() << (attempt - 1);
        tokio::time::sleep(Duration::from_millis(backoff + jitter(backoff / 2 + 1))).await;
    }
}

/// GET over any family with the crawl's retries, counted nowhere (not a check of the tree).
pub(super) async fn fetch_plain(
    client: &HttpClient,
    url: &Url,
    config: &CrawlConfig,
) -> Result<Fetched, FetchError> {
    let counters = Counters::default();
    fetch(
        client,
        url,
        Family::Any,
        &Validators::default(),
        config,
        &counters,
    )
    .await
}

/// An ETag or Last-Modified worth keeping to send back: short, visible ASCII.
pub(super) fn validator(value: Option<String>) -> Option<String> {
    value.filter(|v| v.len() <= 256 && v.bytes().all(|b| (0x20..0x7f).contains(&b)))
}
