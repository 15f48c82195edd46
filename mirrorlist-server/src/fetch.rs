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
use shared::snapshot::{self, PublicKey};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// A snapshot larger than this is refused unread (the real network's is a few MiB).
const MAX_BYTES: usize = 256 << 20;
/// One request, connection to last byte.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One source and what it last answered.
struct Source {
    url: Url,
    fresh: Url,
    etag: Option<String>,
    /// What its last poll failed with: the same failure is logged once, not every poll.
    failing: Option<String>,
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
    tls: tokio_rustls::TlsConnector,
    sources: Vec<Source>,
    local: PathBuf,
    /// The serial of the snapshot in the local file, as last read or written there: the
    /// heartbeats are checked against it without reading the file again at every poll.
    held: Option<u64>,
    key: Option<PublicKey>,
}

/// `URL.fresh`: where a source's heartbeat is.
fn fresh_url(url: &Url) -> Url {
    let mut fresh = url.clone();
    fresh.set_path(&format!("{}.fresh", url.path()));
    fresh
}

/// Why a poll of a source brought nothing: the source failed (unreachable, an HTTP error,
/// the local file unwritable), or it answered with something that is no valid snapshot:
/// refused, which the alert watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollError {
    Failed(String),
    Refused(String),
}

impl std::fmt::Display for PollError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PollError::Failed(e) | PollError::Refused(e) => f.write_str(e),
        }
    }
}

impl From<String> for PollError {
    fn from(e: String) -> PollError {
        PollError::Failed(e)
    }
}

/// The serial of the snapshot in the local file, when it holds a valid one.
fn local_serial(path: &Path, key: Option<&PublicKey>) -> Option<u64> {
    let bytes = shared::fsread::read_regular(path, MAX_BYTES as u64).ok()?;
    snapshot::verify_bytes(&bytes, "", key)
        .ok()
        .map(|h| h.serial)
}

/// The roots https sources are verified with: the Web PKI's, and `ca` (PEM) when given.
pub fn tls_roots(ca: Option<&Path>) -> Result<rustls::RootCertStore, crate::Error> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(ca) = ca {
        let bad = |e: String| crate::Error::Config(format!("--snapshot-ca {}: {e}", ca.display()));
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(ca)
            .map_err(|e| bad(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no certificate in it".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
        }
    }
    Ok(roots)
}

/// A TCP connection within [`CONNECT_TIMEOUT`].
async fn connect<A: tokio::net::ToSocketAddrs>(addr: A) -> std::io::Result<tokio::net::TcpStream> {
    tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr))
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no connection within {CONNECT_TIMEOUT:?}"),
            ))
        })
}

/// One HTTP/1.1 exchange on `io`.
async fn exchange<I>(
    io: I,
    req: http::Request<Empty<Bytes>>,
) -> Result<(u16, Option<String>, Bytes), String>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(|e| shared::text::error_chain(&e))?;
    let conn = tokio::spawn(conn);
    let result = async {
        let resp = sender
            .send_request(req)
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
    }
    .await;
    conn.abort();
    result
}

impl Fetcher {
    pub fn new(cli: &Cli, key: Option<PublicKey>) -> Result<Fetcher, crate::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default versions")
            .with_root_certificates(tls_roots(cli.snapshot_ca.as_deref())?)
            .with_no_client_auth();
        Ok(Fetcher {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            sources: cli
                .snapshot_url
                .iter()
                .map(|url| Source {
                    url: url.clone(),
                    fresh: fresh_url(url),
                    etag: None,
                    failing: None,
                })
                .collect(),
            local: cli.snapshot.clone(),
            held: local_serial(&cli.snapshot, key.as_ref()),
            key,
        })
    }

    /// GET with `If-None-Match` over a connection of its own (http or https): status, ETag
    /// and body (at most [`MAX_BYTES`]).
    async fn get(
        &self,
        url: &Url,
        etag: Option<&str>,
    ) -> Result<(u16, Option<String>, Bytes), String> {
        let port = url.port_or_known_default().unwrap_or(80);
        let authority = &url[url::Position::BeforeHost..url::Position::AfterPort];
        let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
        let mut req = http::Request::get(path)
            .header(http::header::HOST, authority)
            .header(
                http::header::USER_AGENT,
                concat!("mirrorlist-server/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(tag) = etag {
            req = req.header(http::header::IF_NONE_MATCH, tag);
        }
        let req = req.body(Empty::new()).map_err(|e| e.to_string())?;
        let fetch = async {
            let (tcp, name) = match url.host() {
                Some(url::Host::Domain(d)) => (
                    connect((d, port)).await,
                    rustls_pki_types::ServerName::try_from(d.to_string())
                        .map_err(|e| e.to_string())?,
                ),
                Some(url::Host::Ipv4(a)) => (
                    connect((a, port)).await,
                    rustls_pki_types::ServerName::IpAddress(std::net::IpAddr::V4(a).into()),
                ),
                Some(url::Host::Ipv6(a)) => (
                    connect((a, port)).await,
                    rustls_pki_types::ServerName::IpAddress(std::net::IpAddr::V6(a).into()),
                ),
                None => return Err("no host".to_string()),
            };
            let tcp = tcp.map_err(|e| format!("cannot connect: {e}"))?;
            let _ = tcp.set_nodelay(true);
            if url.scheme() == "https" {
                let tls = self
                    .tls
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS: {e}"))?;
                exchange(tls, req).await
            } else {
                exchange(tcp, req).await
            }
        };
        tokio::time::timeout(REQUEST_TIMEOUT, fetch)
            .await
            .map_err(|_| format!("no whole answer within {REQUEST_TIMEOUT:?}"))?
    }

    /// Polls source `i`: a newer verified snapshot is written to the local file, then its
    /// heartbeat beside it.
    async fn poll_one(&mut self, i: usize) -> Result<Polled, PollError> {
        let (url, fresh) = (self.sources[i].url.clone(), self.sources[i].fresh.clone());
        let etag = self.sources[i].etag.clone();
        let (status, tag, body) = self.get(&url, etag.as_deref()).await?;
        let outcome = match status {
            304 => Polled::Unchanged,
            200 => {
                let (key, local, origin) = (self.key.clone(), self.local.clone(), url.to_string());
                // A new answer is rare (a new snapshot): the local file is read again then,
                // in case something else replaced it.
                let (written, held) = tokio::task::spawn_blocking(move || {
                    // An answer that is not a whole, valid (and with a key, signed) snapshot
                    // is refused, whatever is wrong with it.
                    let header = snapshot::verify_bytes(&body, &origin, key.as_ref())
                        .map_err(|e| PollError::Refused(e.to_string()))?;
                    let held = local_serial(&local, key.as_ref());
                    if held.is_some_and(|s| s >= header.serial) {
                        return Ok::<_, PollError>((Polled::Unchanged, held));
                    }
                    snapshot::write_verified_bytes(&body, &local)
                        .map_err(|e| PollError::Failed(e.to_string()))?;
                    Ok((Polled::New(header.serial), Some(header.serial)))
                })
                .await
                .map_err(|e| PollError::Failed(e.to_string()))??;
                self.held = held;
                self.sources[i].etag = tag;
                written
            }
            other => return Err(PollError::Failed(format!("{url}: HTTP {other}"))),
        };
        // The heartbeat, kept only when it speaks of the local snapshot (and is signed).
        if let Ok((200, _, body)) = self.get(&fresh, None).await {
            let (key, local, held) = (self.key.clone(), self.local.clone(), self.held);
            let _ = tokio::task::spawn_blocking(move || {
                let (serial, at) = snapshot::parse_freshness(&body, key.as_ref())?;
                let current = snapshot::read_freshness(&local, key.as_ref());
                (held == Some(serial) && current.is_none_or(|(s, t)| s != serial || t < at))
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
            let source = &mut self.sources[i];
            let url = &source.url;
            if result.is_ok() && source.failing.take().is_some() {
                tracing::info!(source = %url, "snapshot source answers again");
            }
            let label = match &result {
                Ok(Polled::New(serial)) => {
                    tracing::info!(source = %url, serial, "snapshot fetched");
                    newest = newest.max(Some(*serial));
                    "new"
                }
                Ok(Polled::Unchanged) => "unchanged",
                Err(e) => {
                    let refused = matches!(e, PollError::Refused(_));
                    let e = e.to_string();
                    if source.failing.as_ref() != Some(&e) {
                        if refused {
                            tracing::error!(source = %url, error = %e, "snapshot refused");
                        } else {
                            tracing::warn!(source = %url, error = %e, "snapshot source failed");
                        }
                        source.failing = Some(e);
                    }
                    if refused {
                        "refused"
                    } else {
                        "failed"
                    }
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
            if self.poll(state).await.is_some() || self.held.is_some() {
                return;
            }
            tracing::warn!("no snapshot yet from any source; trying again in {every:?}");
            tokio::time::sleep(every).await;
        }
    }
}

#[cfg(test)]
mod tests;
