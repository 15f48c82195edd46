//! Running the server: load what it needs, keep it fresh in the background, answer until told
//! to stop. New snapshots and GeoIP databases are loaded and indexed off the request path and
//! swapped in whole; a bad file is refused and the one in use keeps serving.

use crate::cli::Cli;
use crate::error::{Error, Result};
use crate::geoip::{AsnDb, GeoDb};
use crate::select::Limits;
use crate::state::{AppState, Loaded, Settings};
use axum::extract::ConnectInfo;
use shared::snapshot::PublicKey;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use shared::fsread::stamp;

/// How often the files are looked at: `--poll`, but never in a busy loop.
fn poll_interval(cli: &Cli) -> Duration {
    Duration::from(cli.poll).max(Duration::from_millis(100))
}

/// Reads, verifies and indexes a snapshot; mirrors without coordinates get those learnt
/// from their hosts' addresses, when known.
pub fn load_snapshot(
    path: &Path,
    key: Option<&PublicKey>,
    located: &crate::locate::Located,
) -> Result<Loaded> {
    let mut snap = shared::snapshot::read_verified(path, key)?;
    located.apply(&mut snap);
    Ok(Loaded::new(snap))
}

/// Looks up the hosts of mirrors without coordinates (once each) and, when that places
/// some, re-indexes the snapshot in use with them.
async fn locate_mirrors(state: &AppState) {
    let view = state.view();
    let (Some(geo), Some(current)) = (view.geo.clone(), view.loaded.clone()) else {
        return;
    };
    let located = state.located();
    let hosts = located.unknown_hosts(&current.snapshot);
    if hosts.is_empty() {
        return;
    }
    let asked = hosts.len();
    let placed = located
        .learn(
            hosts,
            &geo,
            crate::locate::system_resolve,
            Duration::from_secs(3),
        )
        .await;
    tracing::info!(asked, placed, "mirror hosts located by GeoIP");
    if placed == 0 {
        return;
    }
    let mut snap = current.snapshot.clone();
    located.apply(&mut snap);
    if let Ok(loaded) = tokio::task::spawn_blocking(move || Loaded::new(snap)).await {
        state.swap(loaded);
        warm_pages(state);
    }
}

/// Builds the status pages of the snapshot in use in the background, so that the first
/// page request does not wait for them.
fn warm_pages(state: &AppState) {
    if let Some(l) = state.current() {
        tokio::task::spawn_blocking(move || {
            l.pages();
        });
    }
}

fn open_geo(path: &Path) -> Option<GeoDb> {
    match GeoDb::open(path) {
        Ok(db) => Some(db),
        Err(e) => {
            tracing::warn!(error = %e, "the changed GeoIP database is refused; the one in use stays");
            None
        }
    }
}

fn open_asn(path: &Path) -> Option<AsnDb> {
    match AsnDb::open(path) {
        Ok(db) => Some(db),
        Err(e) => {
            tracing::warn!(error = %e, "the changed ASN database is refused; the one in use stays");
            None
        }
    }
}

pub fn settings(cli: &Cli) -> Settings {
    Settings {
        limits: Limits {
            cap: cli.cap.max(1),
            minimum: cli.minimum,
            ..Limits::default()
        },
        trusted_proxies: cli.trusted_proxy.clone(),
        allow_ip_param: cli.allow_ip_param,
        max_snapshot_age: cli.max_snapshot_age.into(),
        seed: cli.seed,
        access_log: cli.access_log,
    }
}

/// Watches the snapshot and the GeoIP files; loads changed ones in the background.
async fn refresh(
    state: AppState,
    cli: Cli,
    key: Option<PublicKey>,
    certs: Option<Arc<crate::tls::Certs>>,
    mut hangup: tokio::signal::unix::Signal,
    cancel: CancellationToken,
) {
    let tls_stamps = |c: &crate::tls::Certs| (stamp(&c.cert), stamp(&c.key));
    let mut tls_seen = certs.as_deref().map(tls_stamps);
    let watched = |p: &Option<PathBuf>| p.as_ref().and_then(|p| stamp(p));
    let mut snapshot_seen = stamp(&cli.snapshot);
    let fresh_path = shared::snapshot::freshness_path(&cli.snapshot);
    let mut fresh_seen = None;
    let mut geo_seen = watched(&cli.geoip);
    let mut asn_seen = watched(&cli.asn_db);
    let cloud_stamps =
        |cli: &Cli| -> Vec<_> { cli.cloud_ranges.iter().map(|(_, p)| stamp(p)).collect() };
    let mut cloud_seen = cloud_stamps(&cli);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(poll_interval(&cli)) => {}
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: reading every file again");
                snapshot_seen = None;
                fresh_seen = None;
                geo_seen = None;
                asn_seen = None;
                cloud_seen = Vec::new();
                tls_seen = None;
            }
        }
        let now = stamp(&cli.snapshot);
        if now.is_some() && now != snapshot_seen {
            snapshot_seen = now;
            let path = cli.snapshot.clone();
            let started = Instant::now();
            let (st, k) = (state.clone(), key.clone());
            match tokio::task::spawn_blocking(move || {
                load_snapshot(&path, k.as_ref(), st.located())
            })
            .await
            {
                Ok(Ok(loaded)) => {
                    let serial = loaded.snapshot.serial;
                    state
                        .metrics()
                        .swap_seconds
                        .set(started.elapsed().as_secs_f64());
                    if state.swap(loaded) {
                        fresh_seen = None;
                        warm_pages(&state);
                        tracing::info!(
                            serial,
                            load_ms = started.elapsed().as_millis() as u64,
                            "snapshot swapped in"
                        );
                    } else {
                        tracing::warn!(serial, "snapshot older than the one in use; ignored");
                    }
                }
                Ok(Err(e)) => tracing::warn!(
                    error = %e,
                    "new snapshot refused; the one in use keeps serving"
                ),
                Err(e) => tracing::error!(error = %e, "snapshot loader failed"),
            }
        }
        // The checker's heartbeat (read after a swap too: it may name the new serial).
        let now = stamp(&fresh_path);
        if now.is_some() && now != fresh_seen {
            fresh_seen = now;
            let (p, k) = (cli.snapshot.clone(), key.clone());
            if let Ok(Some((serial, at))) = tokio::task::spawn_blocking(move || {
                shared::snapshot::read_freshness(&p, k.as_ref())
            })
            .await
            {
                state.set_fresh(serial, at);
            }
        }
        if let Some(path) = &cli.geoip {
            let now = stamp(path);
            if now.is_some() && now != geo_seen {
                geo_seen = now;
                let p = path.clone();
                if let Ok(Some(db)) = tokio::task::spawn_blocking(move || open_geo(&p)).await {
                    state.set_geo(Some(db));
                    tracing::info!(path = %path.display(), "GeoIP database reloaded");
                }
            }
        }
        let now = cloud_stamps(&cli);
        if now != cloud_seen && now.iter().all(Option::is_some) {
            cloud_seen = now;
            let files = cli.cloud_ranges.clone();
            match tokio::task::spawn_blocking(move || crate::cloud::CloudRanges::load(&files)).await
            {
                Ok(Ok(ranges)) => {
                    tracing::info!(ranges = ranges.len(), "cloud ranges reloaded");
                    state.set_cloud(Some(ranges));
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "changed cloud ranges refused; the ones in use stay")
                }
                Err(e) => tracing::error!(error = %e, "cloud ranges loader failed"),
            }
        }
        if let Some(c) = &certs {
            let now = tls_stamps(c);
            if Some(&now) != tls_seen.as_ref() {
                tls_seen = Some(now);
                let c = c.clone();
                match tokio::task::spawn_blocking(move || c.reload()).await {
                    Ok(Ok(())) => tracing::info!("TLS certificate reloaded"),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "changed TLS certificate refused; the one in use stays")
                    }
                    Err(e) => tracing::error!(error = %e, "TLS certificate loader failed"),
                }
            }
        }
        if let Some(path) = &cli.asn_db {
            let now = stamp(path);
            if now.is_some() && now != asn_seen {
                asn_seen = now;
                let p = path.clone();
                if let Ok(Some(db)) = tokio::task::spawn_blocking(move || open_asn(&p)).await {
                    state.set_asn(Some(db));
                    tracing::info!(path = %path.display(), "ASN database reloaded");
                }
            }
        }
    }
}

/// Serves until SIGINT or SIGTERM, then drains for at most 10 s.
pub async fn serve(cli: Cli) -> Result<()> {
    raise_fd_limit();
    for p in cli.trusted_proxy.iter().filter(|p| p.net.prefix_len() == 0) {
        tracing::warn!(
            proxy = %p.net,
            "--trusted-proxy trusts every peer: any client can choose the address it is placed by"
        );
    }
    let state = AppState::new(settings(&cli));
    let key = crate::snapshot_key(&cli)?;
    if key.is_none() && !cli.snapshot_url.is_empty() {
        tracing::warn!(
            "--snapshot-url without --snapshot-key: whoever can answer for a source can feed \
             this server a mirror list"
        );
    }
    let mut fetcher = if cli.snapshot_url.is_empty() {
        None
    } else {
        Some(crate::fetch::Fetcher::new(&cli, key.clone())?)
    };
    if let Some(f) = fetcher.as_mut() {
        // The last good snapshot on disk answers at once; without one, wait for a source.
        if load_snapshot(&cli.snapshot, key.as_ref(), state.located()).is_err() {
            tokio::select! {
                _ = f.first(&state, poll_interval(&cli)) => {}
                _ = shutdown_signal() => return Ok(()),
            }
        }
    }
    let loaded = load_snapshot(&cli.snapshot, key.as_ref(), state.located())?;
    tracing::info!("{}", crate::describe(&loaded.snapshot));
    state.swap(loaded);
    warm_pages(&state);
    // A configured database that is missing, broken or of the wrong kind is an operator's
    // mistake: refuse to start.
    if let Some(path) = &cli.geoip {
        state.set_geo(Some(GeoDb::open(path)?));
    } else {
        tracing::warn!("no GeoIP database configured; answering without locations");
    }
    if let Some(path) = &cli.asn_db {
        state.set_asn(Some(AsnDb::open(path)?));
    }
    if !cli.cloud_ranges.is_empty() {
        // Configured but unreadable: an operator's mistake, refused at start.
        let ranges = crate::cloud::CloudRanges::load(&cli.cloud_ranges)?;
        tracing::info!(ranges = ranges.len(), "cloud ranges loaded");
        state.set_cloud(Some(ranges));
    }
    let cancel = CancellationToken::new();
    // A configured certificate that does not load is an operator's mistake: refused at start.
    let certs = match (&cli.tls_cert, &cli.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::Certs::open(cert, key)?),
        _ => None,
    };
    // SIGHUP (`systemctl reload`): every file is read again now, changed or not (a copy
    // that kept its modification time and size included). Handled from here on.
    let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .expect("signal handler");
    tokio::spawn(refresh(
        state.clone(),
        cli.clone(),
        key,
        certs.clone(),
        hangup,
        cancel.clone(),
    ));
    if let Some(mut fetcher) = fetcher {
        let (state, cancel, every) = (state.clone(), cancel.clone(), poll_interval(&cli));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
                fetcher.poll(&state).await;
            }
        });
    }
    if !cli.no_locate_mirrors {
        let (state, cancel, every) = (state.clone(), cancel.clone(), poll_interval(&cli));
        tokio::spawn(async move {
            loop {
                locate_mirrors(&state).await;
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
            }
        });
    }
    let listen_error = |source| Error::Listen {
        addr: cli.listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .map_err(listen_error)?;
    // The first line on stdout says where it listens (port 0 picks one).
    println!(
        "listening on {}",
        listener.local_addr().map_err(listen_error)?
    );
    let tls = match (cli.tls_listen, &certs) {
        (Some(addr), Some(certs)) => {
            let cannot = |source| Error::Listen { addr, source };
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(cannot)?;
            println!(
                "tls listening on {}",
                listener.local_addr().map_err(cannot)?
            );
            Some((
                listener,
                tokio_rustls::TlsAcceptor::from(certs.server_config()),
            ))
        }
        _ => None,
    };
    let app = crate::app::router_with(state.clone(), cli.metrics_listen.is_none());
    if let Some(addr) = cli.metrics_listen {
        let cannot = |source| Error::Listen { addr, source };
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(cannot)?;
        println!(
            "metrics listening on {}",
            listener.local_addr().map_err(cannot)?
        );
        let (router, cancel) = (crate::app::metrics_router(state.clone()), cancel.clone());
        tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { cancel.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "metrics listener failed");
            }
        });
    }
    // Under systemd (Type=notify): ready now, and alive while the runtime runs.
    shared::notify::tell(&format!(
        "READY=1\nSTATUS=answering from snapshot {}",
        state.current().map_or(0, |l| l.snapshot.serial)
    ));
    let watchdog = shared::notify::spawn_watchdog();
    let conns = Arc::new(crate::conns::Conns::default());
    let header_timeout: Duration = cli.header_read_timeout.into();
    let mut accept_log = RateLimited::default();
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        let (accepted, secure) = tokio::select! {
            accepted = listener.accept() => (accepted, false),
            accepted = accept_maybe(tls.as_ref()) => (accepted, true),
            _ = &mut stop => break,
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
        let Some((registered, shed)) = conns.admit(cli.max_connections) else {
            state.metrics().connections_refused.inc();
            drop(stream);
            continue;
        };
        if shed {
            state.metrics().connections_shed.inc();
        }
        state.metrics().connections_open.set(conns.len() as i64);
        let _ = stream.set_nodelay(true);
        let (app, st) = (app.clone(), state.clone());
        let this = registered.conn.clone();
        let service =
            hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                this.idle.store(false, Ordering::Relaxed);
                this.used.store(true, Ordering::Relaxed);
                let idle_again = IdleAgain(this.clone());
                req.extensions_mut().insert(ConnectInfo(peer));
                let direct = crate::app::direct(&st, &req);
                let app = app.clone();
                async move {
                    let _idle_again = idle_again;
                    match direct {
                        Some(response) => Ok(response),
                        None => {
                            tower::ServiceExt::oneshot(app, req.map(axum::body::Body::new)).await
                        }
                    }
                }
            });
        let state = state.clone();
        let conns_gauge = conns.clone();
        let acceptor = tls.as_ref().map(|(_, acceptor)| acceptor.clone());
        tokio::spawn(async move {
            let close = registered.conn.clone();
            match (secure, acceptor) {
                (true, Some(acceptor)) => {
                    // The handshake is bounded like a request head (and shed like an idle
                    // connection); ALPN says the protocol.
                    let handshake = tokio::select! {
                        done = tokio::time::timeout(header_timeout, acceptor.accept(stream)) => done.ok().and_then(Result::ok),
                        _ = close.close.notified() => None,
                    };
                    if let Some(tls_stream) = handshake {
                        let h2 = tls_stream.get_ref().1.alpn_protocol() == Some(b"h2");
                        drive(tls_stream, h2, service, &close, header_timeout).await;
                    }
                }
                // In the clear, the first bytes say (a silent connection is closed, or shed).
                _ => {
                    let sniffed = tokio::select! {
                        h2 = sniff_h2(&stream, header_timeout) => h2,
                        _ = close.close.notified() => None,
                    };
                    if let Some(h2) = sniffed {
                        drive(stream, h2, service, &close, header_timeout).await;
                    }
                }
            }
            drop(registered);
            state
                .metrics()
                .connections_open
                .set(conns_gauge.len() as i64);
        });
    }
    drop(listener);
    shared::notify::tell("STOPPING=1");
    if let Some(w) = watchdog {
        w.abort();
    }
    cancel.cancel();
    conns.close_all();
    tokio::select! {
        _ = conns.drained() => {}
        _ = tokio::time::sleep(Duration::from_secs(10)) => {
            tracing::warn!("requests still open after 10 s; stopping anyway");
        }
    }
    Ok(())
}

/// Accepts on the TLS listener, when there is one; never resolves otherwise.
async fn accept_maybe(
    tls: Option<&(tokio::net::TcpListener, tokio_rustls::TlsAcceptor)>,
) -> std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)> {
    match tls {
        Some((listener, _)) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Whether a plain connection speaks HTTP/2 with prior knowledge (h2c): its first bytes
/// begin the HTTP/2 preface. Read with `peek`, so HTTP/1.1 is served straight from the socket
/// as before; `None` when nothing came within `limit` or the peer closed.
async fn sniff_h2(stream: &tokio::net::TcpStream, limit: Duration) -> Option<bool> {
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
async fn drive<I, S>(
    io: I,
    h2: bool,
    service: S,
    conn: &crate::conns::Conn,
    header_timeout: Duration,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<axum::body::Body>,
        > + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let io = hyper_util::rt::TokioIo::new(io);
    if h2 {
        let mut builder =
            hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .max_concurrent_streams(100);
        let served = builder.serve_connection(io, service);
        tokio::pin!(served);
        // An HTTP/2 connection's first request has no deadline of its own: one without a
        // request within the header timeout is closed, as an unfinished HTTP/1.1 head is.
        let first_request = async {
            tokio::time::sleep(header_timeout).await;
            if conn.used.load(Ordering::Relaxed) {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            _ = served.as_mut() => {}
            _ = first_request => {}
            _ = conn.close.notified() => {
                served.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(Duration::from_secs(10), served).await;
            }
        }
    } else {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(header_timeout)
            // A client that shuts its write side after the request still gets the answer.
            .half_close(true);
        let served = builder.serve_connection(io, service);
        tokio::pin!(served);
        tokio::select! {
            _ = served.as_mut() => {}
            _ = conn.close.notified() => {
                served.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(Duration::from_secs(10), served).await;
            }
        }
    }
}

/// Marks a connection idle again when its request's answer is made.
struct IdleAgain(Arc<crate::conns::Conn>);

impl Drop for IdleAgain {
    fn drop(&mut self) {
        self.0.idle.store(true, Ordering::Relaxed);
    }
}

/// A warning at most once a second, saying how many were held back.
#[derive(Default)]
struct RateLimited {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimited {
    fn ready(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|at| now.duration_since(at) < Duration::from_secs(1))
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// Raises the soft limit on open files to the hard one: each connection is a descriptor.
pub fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    if let (Some(current), Some(max)) = (lim.current, lim.maximum) {
        if current < max {
            let raised = Rlimit {
                current: Some(max),
                maximum: Some(max),
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                tracing::debug!(from = current, to = max, "open files limit raised");
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("signal handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
