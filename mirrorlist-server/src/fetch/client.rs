//! The fetcher's HTTP client: one GET over a connection of its own (http or https), its
//! body read as it arrives and held to what the caller expects: a snapshot is refused from
//! its first bytes when they are no snapshot's, and past the length its header declares.

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
pub enum Expect {
    /// A snapshot: its first bytes and declared length are checked as they arrive.
    Snapshot,
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
    expect: Expect,
    url: &Url,
) -> Result<Bytes, PollError> {
    let mut limit = match expect {
        Expect::Snapshot => MAX_BYTES,
        Expect::AtMost(n) => n,
    };
    let mut declared = false;
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| PollError::Failed(format!("reading the body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        out.extend_from_slice(&data);
        if matches!(expect, Expect::Snapshot) && !declared {
            let origin = url.to_string();
            let len = snapshot::declared_len(&out, &origin)
                .map_err(|e| PollError::Refused(e.to_string()))?;
            if let Some(len) = len {
                if len > MAX_BYTES {
                    let e = format!("{url}: declares {len} bytes, more than {MAX_BYTES}");
                    return Err(PollError::Refused(e));
                }
                (limit, declared) = (len, true);
            }
        }
        if out.len() as u64 > limit {
            let e = format!("{url}: the answer is longer than the {limit} bytes it may be");
            return Err(PollError::Refused(e));
        }
    }
    Ok(Bytes::from(out))
}

/// One HTTP/1.1 exchange on `io`: status, ETag, and the body when the status is 200.
async fn exchange<I>(
    io: I,
    req: http::Request<Empty<Bytes>>,
    expect: Expect,
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
    expect: Expect,
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
