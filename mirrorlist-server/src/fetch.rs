//! Snapshots over HTTP: with `--snapshot-url`, the server polls each source (a checker's
//! publication listener, or any cache or object store in front of one) with conditional
//! requests, verifies what it gets (framing, checksum and, with `--snapshot-key`, the
//! signature) and writes a newer one to its own `--snapshot` file, where the file watcher
//! swaps it in as it does for any file. The last good snapshot stays on local disk, so a
//! restart answers at once without the source. Several sources may be named (every checker
//! that may lead): the newest serial wins.

use crate::cli::Cli;
use crate::state::AppState;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use shared::snapshot::{self, PublicKey};
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// A snapshot larger than this is refused unread (the real network's is a few MiB).
const MAX_BYTES: usize = 256 << 20;
/// One request, connection to last byte.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// One source and what it last answered.
struct Source {
    url: Url,
    fresh: Url,
    etag: Option<String>,
}

/// What one poll of a source did.
#[derive(Debug, PartialEq, Eq)]
pub enum Polled {
    /// A newer snapshot, written to the local file.
    New(u64),
    /// The same one as before (304, or a snapshot not newer than the local one).
    Unchanged,
}

/// Polls the sources for new snapshots and heartbeats.
pub struct Fetcher {
    client: Client<HttpConnector, Empty<Bytes>>,
    sources: Vec<Source>,
    local: PathBuf,
    key: Option<PublicKey>,
}

/// `URL.fresh`: where a source's heartbeat is.
fn fresh_url(url: &Url) -> Url {
    let mut fresh = url.clone();
    fresh.set_path(&format!("{}.fresh", url.path()));
    fresh
}

/// Refuses what cannot be a snapshot source.
pub fn parse_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
    match url.scheme() {
        "http" => Ok(url),
        other => Err(format!(
            "{s}: {other}:// is not supported for snapshot sources; use http:// (snapshots are \
             signed: give --snapshot-key, and a forged or altered one is refused whatever \
             carried it)"
        )),
    }
}

/// The serial of the snapshot in the local file, when it holds a valid one.
fn local_serial(path: &Path, key: Option<&PublicKey>) -> Option<u64> {
    let bytes = shared::fsread::read_regular(path, MAX_BYTES as u64).ok()?;
    snapshot::verify_bytes(&bytes, "", key)
        .ok()
        .map(|h| h.serial)
}

impl Fetcher {
    pub fn new(cli: &Cli, key: Option<PublicKey>) -> Fetcher {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        http.set_nodelay(true);
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(http);
        Fetcher {
            client,
            sources: cli
                .snapshot_url
                .iter()
                .map(|url| Source {
                    url: url.clone(),
                    fresh: fresh_url(url),
                    etag: None,
                })
                .collect(),
            local: cli.snapshot.clone(),
            key,
        }
    }

    /// GET with `If-None-Match`: status, ETag and body (at most [`MAX_BYTES`]).
    async fn get(
        &self,
        url: &Url,
        etag: Option<&str>,
    ) -> Result<(u16, Option<String>, Bytes), String> {
        let mut req = http::Request::get(url.as_str()).header(
            http::header::USER_AGENT,
            concat!("mirrorlist-server/", env!("CARGO_PKG_VERSION")),
        );
        if let Some(tag) = etag {
            req = req.header(http::header::IF_NONE_MATCH, tag);
        }
        let req = req.body(Empty::new()).map_err(|e| e.to_string())?;
        let fetch = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| shared::text::error_chain(&e))?;
            let status = resp.status().as_u16();
            let etag = resp
                .headers()
                .get(http::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = Limited::new(resp.into_body(), MAX_BYTES)
                .collect()
                .await
                .map_err(|e| format!("reading the body: {e}"))?
                .to_bytes();
            Ok((status, etag, body))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, fetch)
            .await
            .map_err(|_| format!("no whole answer within {REQUEST_TIMEOUT:?}"))?
    }

    /// Polls source `i`: a newer verified snapshot is written to the local file, then its
    /// heartbeat beside it.
    async fn poll_one(&mut self, i: usize) -> Result<Polled, String> {
        let (url, fresh) = (self.sources[i].url.clone(), self.sources[i].fresh.clone());
        let etag = self.sources[i].etag.clone();
        let (status, tag, body) = self.get(&url, etag.as_deref()).await?;
        let outcome = match status {
            304 => Polled::Unchanged,
            200 => {
                let (key, local, origin) = (self.key.clone(), self.local.clone(), url.to_string());
                let written = tokio::task::spawn_blocking(move || -> Result<Polled, String> {
                    let header = snapshot::verify_bytes(&body, &origin, key.as_ref())
                        .map_err(|e| e.to_string())?;
                    if local_serial(&local, key.as_ref()).is_some_and(|s| s >= header.serial) {
                        return Ok(Polled::Unchanged);
                    }
                    snapshot::write_verified_bytes(&body, &local).map_err(|e| e.to_string())?;
                    Ok(Polled::New(header.serial))
                })
                .await
                .map_err(|e| e.to_string())??;
                self.sources[i].etag = tag;
                written
            }
            other => return Err(format!("{url}: HTTP {other}")),
        };
        // The heartbeat, kept only when it speaks of the local snapshot (and is signed).
        if let Ok((200, _, body)) = self.get(&fresh, None).await {
            let key = self.key.clone();
            let local = self.local.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let (serial, at) = snapshot::parse_freshness(&body, key.as_ref())?;
                let current = snapshot::read_freshness(&local, key.as_ref());
                (local_serial(&local, key.as_ref()) == Some(serial)
                    && current.is_none_or(|(s, t)| s != serial || t < at))
                .then(|| snapshot::write_freshness_bytes(&body, &local))
            })
            .await;
        }
        Ok(outcome)
    }

    /// Polls every source once; counts and logs what each did.
    pub async fn poll(&mut self, state: &AppState) -> Option<u64> {
        let mut newest = None;
        for i in 0..self.sources.len() {
            let result = self.poll_one(i).await;
            let label = match &result {
                Ok(Polled::New(serial)) => {
                    tracing::info!(source = %self.sources[i].url, serial, "snapshot fetched");
                    newest = newest.max(Some(*serial));
                    "new"
                }
                Ok(Polled::Unchanged) => "unchanged",
                Err(e) if e.contains("refused:") => {
                    tracing::error!(source = %self.sources[i].url, error = %e, "snapshot refused");
                    "refused"
                }
                Err(e) => {
                    tracing::warn!(source = %self.sources[i].url, error = %e, "snapshot source failed");
                    "failed"
                }
            };
            state
                .metrics()
                .snapshot_fetches
                .with_label_values(&[label])
                .inc();
        }
        newest
    }

    /// Until a snapshot is on local disk: poll every `every`, or give up when `stop` ends.
    pub async fn first(&mut self, state: &AppState, every: Duration) {
        loop {
            if self.poll(state).await.is_some()
                || local_serial(&self.local, self.key.as_ref()).is_some()
            {
                return;
            }
            tracing::warn!("no snapshot yet from any source; trying again in {every:?}");
            tokio::time::sleep(every).await;
        }
    }
}
