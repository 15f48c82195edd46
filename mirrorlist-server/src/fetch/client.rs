//! The fetcher's HTTP client: one GET over a connection of its own (http or https), its
//! body read as it arrives and held to what the caller expects: a snapshot is refused from
//! its first bytes when they are no snapshot's, and past the length its header declares,
//! and is written to a file as it arrives rather than held in memory.

use super::PollError;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use shared::snapshot;
use std::path::Path;
use std::time::Duration;
use url::Url;

/// A snapshot larger than this is refused unread (the real network's is under 1 MiB).
pub const MAX_BYTES: u64 = 64 << 20;
/// A heartbeat is a line of JSON.
pub const MAX_HEARTBEAT: u64 = 64 << 10;
/// One request, connection to last byte: a source slower than this is given up for this
/// poll (the others are polled meanwhile).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What an answer's body must be.
#[derive(Debug, Clone, Copy)]
pub enum Expect<'a> {
    /// A snapshot: its first bytes and declared length are checked as they arrive, and it
    /// is written to this file (the body returned is empty).
    Snapshot(&'a Path),
    /// Anything up to this many bytes.
    AtMost(u64),
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

/// Reads `body` as it arrives, as `expect` says; what `url` sent, or why it is refused.
async fn read_body(
    mut body: hyper::body::Incoming,
    expect: Expect<'_>,
    url: &Url,
) -> Result<Bytes, PollError> {
    let (mut limit, part) = match expect {
        Expect::Snapshot(part) => (MAX_BYTES, Some(part)),
        Expect::AtMost(n) => (n, None),
    };
    // All of a small body; a snapshot's first bytes until its length is declared.
    let mut head = Vec::new();
    let mut file = None;
    let mut read = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| PollError::Failed(format!("reading the body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        read += data.len() as u64;
        match (&mut file, part) {
            (Some(f), _) => write(f, &data).await?,
            (None, None) => head.extend_from_slice(&data),
            (None, Some(part)) => {
                head.extend_from_slice(&data);
                if let Some(len) = declared(&head, url)? {
                    limit = len;
                    let mut f = create(part).await?;
                    write(&mut f, &std::mem::take(&mut head)).await?;
                    file = Some(f);
                }
            }
        }
        if read > limit {
            let e = format!("{url}: the answer is longer than the {limit} bytes it may be");
            return Err(PollError::Refused(e));
        }
    }
    if let Some(part) = part {
        // A body too short to declare its length is written too: the verifier says why.
        let mut f = match file {
            Some(f) => f,
            None => create(part).await?,
        };
        write(&mut f, &head).await?;
        tokio::io::AsyncWriteExt::flush(&mut f)
            .await
            .map_err(|e| PollError::Failed(format!("{}: {e}", part.display())))?;
        head.clear();
    }
    Ok(Bytes::from(head))
}

/// The length the snapshot beginning with `head` declares (within [`MAX_BYTES`]), once
/// enough of it is there.
fn declared(head: &[u8], url: &Url) -> Result<Option<u64>, PollError> {
    let len = snapshot::declared_len(head, url.as_str())
        .map_err(|e| PollError::Refused(e.to_string()))?;
    match len {
        Some(len) if len > MAX_BYTES => Err(PollError::Refused(format!(
            "{url}: declares {len} bytes, more than {MAX_BYTES}"
        ))),
        other => Ok(other),
    }
}

/// The download's file, its folder made if need be (the local snapshot's, not there yet
/// on a first start).
async fn create(part: &Path) -> Result<tokio::fs::File, PollError> {
    let failed = |e: std::io::Error| PollError::Failed(format!("{}: {e}", part.display()));
    if let Some(dir) = part.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await.map_err(failed)?;
    }
    tokio::fs::File::create(part).await.map_err(failed)
}

async fn write(f: &mut tokio::fs::File, data: &[u8]) -> Result<(), PollError> {
    tokio::io::AsyncWriteExt::write_all(f, data)
        .await
        .map_err(|e| PollError::Failed(format!("writing the download: {e}")))
}

/// One HTTP/1.1 exchange on `io`: status, ETag, and the body when the status is 200.
async fn exchange<I>(
    io: I,
    req: http::Request<Empty<Bytes>>,
    expect: Expect<'_>,
    url: &Url,
) -> Result<(u16, Option<String>, Bytes), PollError>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let failed = |e: hyper::Error| PollError::Failed(shared::text::error_chain(&e));
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(failed)?;
    let conn = tokio::spawn(conn);
    let result = async {
        let resp = sender.send_request(req).await.map_err(failed)?;
        let status = resp.status().as_u16();
        let etag = resp
            .headers()
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if status != 200 {
            return Ok((status, etag, Bytes::new()));
        }
        let body = read_body(resp.into_body(), expect, url).await?;
        Ok((status, etag, body))
    }
    .await;
    conn.abort();
    result
}

/// GET `url` with `If-None-Match` over a connection of its own (http or https), within
/// [`REQUEST_TIMEOUT`]: status, ETag and body.
pub async fn get(
    tls: &tokio_rustls::TlsConnector,
    url: &Url,
    etag: Option<&str>,
    expect: Expect<'_>,
) -> Result<(u16, Option<String>, Bytes), PollError> {
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
    let req = req
        .body(Empty::new())
        .map_err(|e| PollError::Failed(e.to_string()))?;
    let fetch = async {
        let (tcp, name) = match url.host() {
            Some(url::Host::Domain(d)) => (
                connect((d, port)).await,
                rustls_pki_types::ServerName::try_from(d.to_string()).map_err(|e| e.to_string())?,
            ),
            Some(url::Host::Ipv4(a)) => (
                connect((a, port)).await,
                rustls_pki_types::ServerName::IpAddress(std::net::IpAddr::V4(a).into()),
            ),
            Some(url::Host::Ipv6(a)) => (
                connect((a, port)).await,
                rustls_pki_types::ServerName::IpAddress(std::net::IpAddr::V6(a).into()),
            ),
            None => return Err(PollError::Failed("no host".to_string())),
        };
        let tcp = tcp.map_err(|e| format!("cannot connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        if url.scheme() == "https" {
            let tls = tls
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            exchange(tls, req, expect, url).await
        } else {
            exchange(tcp, req, expect, url).await
        }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, fetch)
        .await
        .map_err(|_| PollError::Failed(format!("no whole answer within {REQUEST_TIMEOUT:?}")))?
}
