//! The accept loop, in the shape of axum's serve-with-hyper example: accept, admit under the
//! connection cap, hand the socket to hyper with the service, spawn. The limits live in
//! small pieces around it: the cap and idle shedding ([`listen::conns`]), the header-read
//! deadline (hyper's for HTTP/1.1; the first request's for HTTP/2), the TLS handshake's
//! deadline, the stall deadline (answers to send and nothing written: a peer that does not
//! read, or keeps its HTTP/2 window shut), HTTP/2's bound on streams and on what each may
//! hold unsent, and a rate-limited log of accept errors.

use crate::state::AppState;
use listen::conns::{Conn, Conns};
use listen::guard::{Answering, Progress};
pub use listen::Limits;
use listen::RateLimited;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// Where connections come from, and what they are answered with.
pub struct Listeners {
    pub plain: TcpListener,
    pub tls: Option<(TcpListener, TlsAcceptor)>,
    pub app: axum::Router,
    /// The public listeners: the query forms of the two endpoints are answered straight
    /// away, and the connection metrics are theirs (not the metrics listener's).
    pub public: bool,
}

/// Accepts and serves connections until `stop` resolves.
pub async fn serve(
    listeners: &Listeners,
    state: &AppState,
    conns: &Arc<Conns>,
    limits: Limits,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut accept_log = RateLimited::default();
    tokio::pin!(stop);
    loop {
        let (accepted, secure) = tokio::select! {
            _ = &mut stop => return,
            accepted = async {
                conns.room(limits.max_connections).await;
                tokio::select! {
                    accepted = listeners.plain.accept() => (accepted, false),
                    accepted = accept_maybe(listeners.tls.as_ref()) => (accepted, true),
                }
            } => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: say so (once a second at most),
                // breathe, go on.
                state.metrics().accept_errors.inc();
                if let Some(suppressed) = accept_log.ready() {
                    tracing::warn!(error = %e, suppressed, "cannot accept a connection");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Some((registered, shed)) = conns.admit(limits.max_connections) else {
            state.metrics().connections_refused.inc();
            continue;
        };
        if shed {
            state.metrics().connections_shed.inc();
        }
        let count = listeners.public;
        if count {
            state.metrics().connections_open.set(conns.len() as i64);
        }
        let _ = stream.set_nodelay(true);
        let acceptor = secure
            .then(|| listeners.tls.as_ref().map(|(_, a)| a.clone()))
            .flatten();
        let service = service(listeners, state.clone(), registered.conn.clone(), peer);
        let (state, conns) = (state.clone(), conns.clone());
        tokio::spawn(async move {
            connection(
                stream,
                acceptor,
                service,
                &registered.conn,
                limits.header_timeout,
            )
            .await;
            drop(registered);
            if count {
                state.metrics().connections_open.set(conns.len() as i64);
            }
        });
    }
}

/// The service for one connection's requests: on the public listener the query forms of
/// the two endpoints straight to [`crate::app::direct`], everything else through the
/// router; the connection is busy until the answer is sent.
fn service(
    listeners: &Listeners,
    state: AppState,
    conn: Arc<Conn>,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    http::Request<hyper::body::Incoming>,
    Response = http::Response<Answering>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    let public = listeners.public;
    let direct = move |req: &http::Request<hyper::body::Incoming>| {
        public.then(|| crate::app::direct(&state, req)).flatten()
    };
    listen::http1::router_service_with(listeners.app.clone(), conn, peer, direct)
}

/// One connection: the TLS handshake (bounded like a request head, and shed like an idle
/// connection; ALPN says the protocol), or in the clear the first bytes say (a silent
/// connection is closed, or shed); then served until it ends.
async fn connection<S>(
    stream: TcpStream,
    acceptor: Option<TlsAcceptor>,
    service: S,
    conn: &Arc<Conn>,
    header_timeout: Duration,
) where
    S: hyper::service::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<Answering>,
        > + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match acceptor {
        Some(acceptor) => {
            let handshake = tokio::select! {
                done = tokio::time::timeout(header_timeout, acceptor.accept(Progress::new(stream, conn.clone()))) => done.ok().and_then(Result::ok),
                _ = conn.close.notified() => None,
            };
            if let Some(tls_stream) = handshake {
                let h2 = tls_stream.get_ref().1.alpn_protocol() == Some(b"h2");
                // Progress is counted under TLS: what reached the socket, not rustls's buffer.
                drive(tls_stream, h2, service, conn, header_timeout).await;
            }
        }
        None => {
            let sniffed = tokio::select! {
                h2 = sniff_h2(&stream, header_timeout) => h2,
                _ = conn.close.notified() => None,
            };
            if let Some(h2) = sniffed {
                let stream = Progress::new(stream, conn.clone());
                drive(stream, h2, service, conn, header_timeout).await;
            }
        }
    }
}

/// Accepts on the TLS listener, when there is one; never resolves otherwise.
async fn accept_maybe(
    tls: Option<&(TcpListener, TlsAcceptor)>,
) -> std::io::Result<(TcpStream, SocketAddr)> {
    match tls {
        Some((listener, _)) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Whether a plain connection speaks HTTP/2 with prior knowledge (h2c): its first bytes
/// begin the HTTP/2 preface. Read with `peek`, so HTTP/1.1 is served straight from the socket
/// as before; `None` when nothing came within `limit` or the peer closed.
async fn sniff_h2(stream: &TcpStream, limit: Duration) -> Option<bool> {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = [0u8; 4];
    loop {
        let n = tokio::time::timeout_at(deadline, stream.peek(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        if !PREFACE.starts_with(&buf[..n]) {
            return Some(false);
        }
        // "PRI " is no HTTP/1.1 method; fewer bytes than that (a "P"): wait for more.
        if n == buf.len() {
            return Some(true);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Serves one connection with HTTP/1.1 or HTTP/2 until it ends or the server asks it to
/// close.
async fn drive<I, S>(io: I, h2: bool, service: S, conn: &Conn, header_timeout: Duration)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<Answering>,
        > + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if h2 {
        let mut builder =
            hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            // Each answer is made whole before it is sent: a connection holds at most this
            // many at once, and each stream at most this much queued for its window.
            .max_concurrent_streams(MAX_STREAMS)
            .max_send_buf_size(64 * 1024);
        let served = builder.serve_connection(hyper_util::rt::TokioIo::new(io), service);
        tokio::pin!(served);
        // HTTP/2 has no header-read deadline of its own: a connection with no request being
        // answered for the header timeout (before its first, or after its last) is closed,
        // as an HTTP/1.1 keep-alive is (GOAWAY first).
        tokio::select! {
            _ = served.as_mut() => {}
            // A peer that lets nothing through is not asked to go away politely: dropped.
            _ = conn.stall_deadline(header_timeout) => {}
            _ = conn.idle_deadline(header_timeout) => {
                // GOAWAY; a client that does not answer its ping is not waited for long.
                served.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(Duration::from_secs(1), served).await;
            }
            // Told to close: an idle one at once, a busy one once its answers are sent.
            _ = conn.close.notified() => {
                if conn.idle_for().is_none() {
                    served.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(10), served).await;
                }
            }
        }
    } else {
        listen::http1::serve_connection(io, service, conn, header_timeout).await;
    }
}

/// Streams an HTTP/2 connection may have open at once (browsers use a few; dnf asks once).
const MAX_STREAMS: u32 = 8;
