//! The files the server keeps fresh: each one a [`Watched`] (its paths, the stamps last seen,
//! how to load it off the runtime and put it in use). New snapshots, heartbeats, GeoIP and
//! ASN databases, cloud ranges and TLS certificates all go the same way; a bad file is
//! refused and what is in use keeps serving.

use super::start::load_snapshot;
use crate::cli::Cli;
use crate::geoip::{AsnDb, GeoDb};
use crate::state::AppState;
use crate::tls::Certs;
use shared::fsread::stamp;
use shared::snapshot::PublicKey;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What loading a changed file came to: put in use (with what to log), nothing to do, or
/// refused (why).
type Loaded = Result<Option<String>, String>;

/// When a file was last changed, and its length.
type Stamp = (std::time::SystemTime, u64);

type Load = Arc<dyn Fn(&AppState) -> Loaded + Send + Sync>;

/// One input read from files.
pub struct Watched {
    /// What it is, for the log.
    what: &'static str,
    paths: Vec<PathBuf>,
    seen: Option<Vec<Stamp>>,
    load: Load,
}

impl Watched {
    pub fn new(
        what: &'static str,
        paths: Vec<PathBuf>,
        load: impl Fn(&AppState) -> Loaded + Send + Sync + 'static,
    ) -> Watched {
        let mut w = Watched {
            what,
            paths,
            seen: None,
            load: Arc::new(load),
        };
        // What was read at start is in use already.
        w.seen = w.stamps();
        w
    }

    /// The files' stamps, when every one of them is there.
    fn stamps(&self) -> Option<Vec<Stamp>> {
        self.paths.iter().map(|p| stamp(p)).collect()
    }

    /// Read again at the next look, changed or not (SIGHUP; a new snapshot's heartbeat).
    pub fn forget(&mut self) {
        self.seen = None;
    }

    /// Loads the files when they changed since last seen; whether that put something new
    /// in use.
    pub async fn look(&mut self, state: &AppState) -> bool {
        let now = self.stamps();
        if now.is_none() || now == self.seen {
            return false;
        }
        self.seen = now;
        let (load, st) = (self.load.clone(), state.clone());
        match tokio::task::spawn_blocking(move || load(&st)).await {
            Ok(Ok(Some(done))) => {
                tracing::info!(file = self.what, "{done}");
                true
            }
            Ok(Ok(None)) => false,
            Ok(Err(why)) => {
                tracing::warn!(file = self.what, "{why}");
                false
            }
            Err(e) => {
                tracing::error!(file = self.what, error = %e, "loader failed");
                false
            }
        }
    }
}

/// The snapshot, verified, indexed and swapped in (never an older one).
pub fn snapshot(cli: &Cli, key: Option<PublicKey>) -> Watched {
    let path = cli.snapshot.clone();
    Watched::new("snapshot", vec![path.clone()], move |state| {
        let started = Instant::now();
        let loaded = super::start::timed_load(state, || {
            load_snapshot(&path, key.as_ref(), state.located())
        })
        .map_err(|e| format!("new snapshot refused ({e}); the one in use keeps serving"))?;
        let serial = loaded.snapshot.serial;
        let elapsed = started.elapsed();
        if !state.swap(loaded) {
            return Err(format!(
                "snapshot {serial} is older than the one in use, or another snapshot with its \
                 serial; ignored (a new snapshot has a higher serial)"
            ));
        }
        super::background::pages(state);
        Ok(Some(format!(
            "snapshot {serial} swapped in ({} ms)",
            elapsed.as_millis()
        )))
    })
}

/// The checker's heartbeat beside the snapshot: the serial in use still holds as of then.
pub fn heartbeat(cli: &Cli, key: Option<PublicKey>) -> Watched {
    let path = cli.snapshot.clone();
    let fresh = shared::snapshot::freshness_path(&path);
    let mut w = Watched::new("heartbeat", vec![fresh], move |state| {
        if let Some((serial, at)) = shared::snapshot::read_freshness(&path, key.as_ref()) {
            state.set_fresh(serial, at);
        }
        Ok(None)
    });
    // Not read at start: read at the first look.
    w.forget();
    w
}

pub fn geoip(path: PathBuf) -> Watched {
    let shown = path.display().to_string();
    Watched::new("GeoIP database", vec![path.clone()], move |state| {
        let db = GeoDb::open(&path).map_err(|e| {
            format!("the changed GeoIP database is refused ({e}); the one in use stays")
        })?;
        state.set_geo(Some(db));
        Ok(Some(format!("GeoIP database {shown} reloaded")))
    })
}

pub fn asn(path: PathBuf) -> Watched {
    let shown = path.display().to_string();
    Watched::new("ASN database", vec![path.clone()], move |state| {
        let db = AsnDb::open(&path).map_err(|e| {
            format!("the changed ASN database is refused ({e}); the one in use stays")
        })?;
        state.set_asn(Some(db));
        Ok(Some(format!("ASN database {shown} reloaded")))
    })
}

pub fn cloud(files: Vec<(String, PathBuf)>) -> Watched {
    let paths = files.iter().map(|(_, p)| p.clone()).collect();
    Watched::new("cloud ranges", paths, move |state| {
        let ranges = crate::cloud::CloudRanges::load(&files)
            .map_err(|e| format!("changed cloud ranges refused ({e}); the ones in use stay"))?;
        let n = ranges.len();
        state.set_cloud(Some(ranges));
        Ok(Some(format!("{n} cloud ranges reloaded")))
    })
}

pub fn tls(certs: Arc<Certs>) -> Watched {
    let paths = vec![certs.cert.clone(), certs.key.clone()];
    Watched::new("TLS certificate", paths, move |_| {
        certs
            .reload()
            .map_err(|e| format!("changed TLS certificate refused ({e}); the one in use stays"))?;
        Ok(Some("TLS certificate reloaded".into()))
    })
}

/// Looks at every watched file each `--poll` (all of them again on SIGHUP) until cancelled.
/// A snapshot swapped in has its heartbeat read again: it may name the new serial.
pub async fn refresh(
    state: AppState,
    every: Duration,
    mut snapshot: Watched,
    mut heartbeat: Watched,
    mut others: Vec<Watched>,
    mut hangup: tokio::signal::unix::Signal,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: reading every file again");
                for w in std::iter::once(&mut snapshot).chain([&mut heartbeat]).chain(&mut others) {
                    w.forget();
                }
            }
        }
        if snapshot.look(&state).await {
            heartbeat.forget();
        }
        heartbeat.look(&state).await;
        for w in &mut others {
            w.look(&state).await;
        }
    }
}

/// Every watched file `cli` names besides the snapshot and its heartbeat.
pub fn others(cli: &Cli, certs: Option<&Arc<Certs>>) -> Vec<Watched> {
    let mut files = Vec::new();
    files.extend(cli.geoip.clone().map(geoip));
    files.extend(cli.asn_db.clone().map(asn));
    if !cli.cloud_ranges.is_empty() {
        files.push(cloud(cli.cloud_ranges.clone()));
    }
    files.extend(certs.cloned().map(tls));
    files
}
