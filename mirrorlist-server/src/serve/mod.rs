//! Running the server: read its inputs ([`start`]), keep them fresh in the background
//! ([`watch`], [`background`]), answer until told to stop ([`accept`]), then drain.

mod accept;
mod background;
mod start;
mod watch;

pub use start::{load_snapshot, settings};

use crate::cli::Cli;
use crate::error::{Error, Result};
use crate::state::AppState;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Serves until SIGINT or SIGTERM, then drains for at most 10 s.
pub async fn serve(cli: Cli) -> Result<()> {
    let _ = listen::raise_fd_limit();
    let state = AppState::new(settings(&cli));
    let key = crate::snapshot_key(&cli)?;
    start::warn_about(&cli, key.as_ref());
    let every = start::poll_interval(&cli);
    let cancel = CancellationToken::new();
    let fetcher = match cli.snapshot_url.is_empty() {
        true => None,
        false => Some(crate::fetch::Fetcher::new(&cli, key.clone())?),
    };
    if let Some(mut f) = fetcher {
        // The last good snapshot on disk answers at once; without one, wait for a source.
        if !background::have_snapshot(&state, &cli, key.as_ref()) {
            tokio::select! {
                _ = f.first(&state, every) => {}
                _ = shutdown_signal() => return Ok(()),
            }
        }
        background::fetch(f, state.clone(), every, cancel.clone());
    }
    let certs = start::inputs(&cli, &state, key.as_ref())?;
    background::pages(&state);
    // SIGHUP (`systemctl reload`): every file is read again now, changed or not (a copy
    // that kept its modification time and size included). Handled from here on.
    let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .expect("signal handler");
    tokio::spawn(watch::refresh(
        state.clone(),
        every,
        watch::snapshot(&cli, key.clone()),
        watch::heartbeat(&cli, key),
        watch::others(&cli, certs.as_ref()),
        hangup,
        cancel.clone(),
    ));
    background::maintenance(state.clone(), cancel.clone());
    if !cli.no_locate_mirrors {
        background::locate(state.clone(), every, cancel.clone());
    }
    let app = crate::app::router_with(state.clone(), cli.metrics_listen.is_none());
    let listeners = listen(&cli, certs.as_ref(), app).await?;
    let limits = accept::Limits {
        max_connections: cli.max_connections,
        header_timeout: cli.header_read_timeout.into(),
    };
    if let Some(addr) = cli.metrics_listen {
        metrics_listener(addr, &state, limits, cancel.clone()).await?;
    }
    // Under systemd (Type=notify): ready now, and alive while the runtime runs.
    shared::notify::tell(&format!(
        "READY=1\nSTATUS=answering from snapshot {}",
        state.current().map_or(0, |l| l.snapshot.serial)
    ));
    let watchdog = shared::notify::spawn_watchdog();
    let conns = Arc::new(listen::conns::Conns::default());
    accept::serve(&listeners, &state, &conns, limits, shutdown_signal()).await;
    drop(listeners);
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

/// Binds `addr`, printing where it listens (port 0 picks one) after `what`.
async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener> {
    let cannot = |source| Error::Listen { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(cannot)?;
    println!("{what} on {}", listener.local_addr().map_err(cannot)?);
    Ok(listener)
}

/// The plain listener (its line first on stdout) and the TLS one when configured.
async fn listen(
    cli: &Cli,
    certs: Option<&Arc<crate::tls::Certs>>,
    app: axum::Router,
) -> Result<accept::Listeners> {
    let plain = bind(cli.listen, "listening").await?;
    let tls = match (cli.tls_listen, certs) {
        (Some(addr), Some(certs)) => Some((
            bind(addr, "tls listening").await?,
            tokio_rustls::TlsAcceptor::from(certs.server_config()),
        )),
        _ => None,
    };
    Ok(accept::Listeners {
        plain,
        tls,
        app,
        public: true,
    })
}

/// `/metrics` on a listener of its own, held to the same deadlines and cap as the public one.
async fn metrics_listener(
    addr: SocketAddr,
    state: &AppState,
    limits: accept::Limits,
    cancel: CancellationToken,
) -> Result<()> {
    let listeners = accept::Listeners {
        plain: bind(addr, "metrics listening").await?,
        tls: None,
        app: crate::app::metrics_router(state.clone()),
        public: false,
    };
    let state = state.clone();
    tokio::spawn(async move {
        let conns = Arc::new(listen::conns::Conns::default());
        accept::serve(&listeners, &state, &conns, limits, cancel.cancelled()).await;
        conns.close_all();
    });
    Ok(())
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
