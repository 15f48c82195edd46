//! Plain HTTP/1.1 under the limits: one connection served with the header-read deadline
//! (idle keep-alives included), the stall deadline and a graceful close when asked; and a
//! whole listener (the checker's publication and metrics listeners) in the shape of axum's
//! serve-with-hyper example: accept, admit under the cap, serve, spawn.

use crate::conns::{Conn, Conns};
use crate::guard::{Answering, Busy, Progress};
use crate::{Limits, RateLimited};
use axum::extract::ConnectInfo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Serves one connection with HTTP/1.1 until it ends, stalls (answers to send and nothing
/// written for the header timeout: it is dropped), or is asked to close (dropped when idle,
/// else its answer is finished first).
pub async fn serve_connection<I, S>(io: I, service: S, conn: &Conn, header_timeout: Duration)
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
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        // A client that shuts its write side after the request still gets the answer.
        .half_close(true);
    let served = builder.serve_connection(hyper_util::rt::TokioIo::new(io), service);
    tokio::pin!(served);
    tokio::select! {
        _ = served.as_mut() => {}
        _ = conn.stall_deadline(header_timeout) => {}
        // Told to close: an idle one at once (a descriptor back now), a busy one once its
        // answer is sent.
        _ = conn.close.notified() => {
            if conn.idle_for().is_none() {
                served.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(Duration::from_secs(10), served).await;
            }
        }
    }
}

/// Serves `app` on `listener` over HTTP/1.1 under `limits` until `stop` resolves; then
/// asks every connection to close and waits (10 s at most) for them. `what` names the
/// listener in the log.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: Limits,
    what: &'static str,
    stop: impl std::future::Future<Output = ()>,
) {
    let conns = Arc::new(Conns::default());
    let mut log = RateLimited::default();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = async {
                conns.room(limits.max_connections).await;
                listener.accept().await
            } => accepted,
            _ = &mut stop => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                if let Some(suppressed) = log.ready() {
                    tracing::warn!(error = %e, suppressed, "{what}: cannot accept a connection");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // At the cap with none idle: turned away at once (the socket is dropped).
        let Some((registered, _shed)) = conns.admit(limits.max_connections) else {
            if let Some(suppressed) = log.ready() {
                tracing::warn!(
                    suppressed,
                    max = limits.max_connections,
                    "{what}: at the connection cap, turned a connection away"
                );
            }
            continue;
        };
        let service = router_service(app.clone(), registered.conn.clone(), peer);
        tokio::spawn(async move {
            let io = Progress::new(stream, registered.conn.clone());
            serve_connection(io, service, &registered.conn, limits.header_timeout).await;
        });
    }
    conns.close_all();
    let _ = tokio::time::timeout(Duration::from_secs(10), conns.drained()).await;
}

/// A connection's requests through `app`, each keeping the connection busy until its
/// answer is sent, with the peer's address as axum's `ConnectInfo`.
pub fn router_service(
    app: axum::Router,
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
    router_service_with(app, conn, peer, |_| None)
}

/// [`router_service`], with `direct` asked first: what it answers skips the router (the
/// hottest requests, answered without its layers).
pub fn router_service_with<D>(
    app: axum::Router,
    conn: Arc<Conn>,
    peer: SocketAddr,
    direct: D,
) -> impl hyper::service::Service<
    http::Request<hyper::body::Incoming>,
    Response = http::Response<Answering>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
       + Send
       + 'static
where
    D: Fn(&http::Request<hyper::body::Incoming>) -> Option<http::Response<axum::body::Body>>
        + Clone
        + Send
        + 'static,
{
    hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
        let busy = Busy::begin(conn.clone());
        req.extensions_mut().insert(ConnectInfo(peer));
        let direct = direct(&req);
        let app = app.clone();
        async move {
            let response = match direct {
                Some(response) => response,
                None => match tower::ServiceExt::oneshot(app, req.map(axum::body::Body::new)).await
                {
                    Ok(response) => response,
                    Err(never) => match never {},
                },
            };
            Ok(response.map(|body| Answering::new(body, busy)))
        }
    })
}
