//! Start-up: the settings from the command line, and every input read once before the first
//! answer (the snapshot, from a source when there is none on disk yet; the GeoIP and ASN
//! databases, cloud ranges and TLS certificates). A configured input that is missing, broken
//! or of the wrong kind is an operator's mistake: the start is refused. The GeoIP and ASN
//! databases answer once their probe lookups pass; their whole check (a second for a
//! whole-Internet city database) runs in the background, and a database it refuses stops
//! being used, with an error in the log.

use crate::cli::Cli;
use crate::error::Result;
use crate::geoip::{AsnDb, GeoDb};
use crate::select::Limits;
use crate::state::{AppState, Loaded, Settings};
use shared::snapshot::PublicKey;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How often the files are looked at: `--poll`, but never in a busy loop.
pub fn poll_interval(cli: &Cli) -> Duration {
    Duration::from(cli.poll).max(Duration::from_millis(100))
}

/// Reads, verifies and indexes a snapshot; mirrors without coordinates get those learnt
/// from their hosts' addresses, when known.
pub fn load_snapshot(
    path: &Path,
    key: Option<&PublicKey>,
    located: &crate::locate::HostPlaces,
) -> Result<Loaded> {
    let mut snap = shared::snapshot::read_verified(path, key)?;
    located.apply(&mut snap);
    Ok(Loaded::new(snap))
}

/// Runs `load` (a snapshot's read, verification and indexing) and records its time, wall
/// and CPU, in the metrics.
pub fn timed_load<T>(state: &AppState, load: impl FnOnce() -> T) -> T {
    let (started, cpu) = (std::time::Instant::now(), shared::time::thread_cpu());
    let loaded = load();
    let metrics = state.metrics();
    metrics.swap_seconds.set(started.elapsed().as_secs_f64());
    if let (Some(before), Some(after)) = (cpu, shared::time::thread_cpu()) {
        metrics.swap_cpu_seconds.set((after - before).as_secs_f64());
    }
    loaded
}

/// The settings that shape answers.
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
        refuse_older_than: Some(cli.refuse_older_than.into()),
        seed: cli.seed,
        access_log: cli.access_log,
        explain_per_minute: Some(if cli.no_explain {
            0
        } else {
            cli.explain_per_minute
        }),
    }
}

/// Reads every configured input into `state`; the TLS certificates when configured.
pub fn inputs(
    cli: &Cli,
    state: &AppState,
    key: Option<&PublicKey>,
) -> Result<Option<Arc<crate::tls::Certs>>> {
    let loaded = timed_load(state, || load_snapshot(&cli.snapshot, key, state.located()))?;
    tracing::info!("{}", crate::describe(&loaded.snapshot));
    state.swap(loaded);
    if let Some(path) = &cli.geoip {
        let (db, pending) = GeoDb::open_probed(path)?;
        state.set_geo(Some(db));
        let db = state.view().geo.clone();
        let state = state.clone();
        check_whole(pending, "GeoIP", move || {
            if let Some(db) = &db {
                state.withdraw_geo(db);
            }
        });
    } else {
        tracing::warn!("no GeoIP database configured; answering without locations");
    }
    if let Some(path) = &cli.asn_db {
        let (db, pending) = AsnDb::open_probed(path)?;
        state.set_asn(Some(db));
        let db = state.view().asn.clone();
        let state = state.clone();
        check_whole(pending, "ASN", move || {
            if let Some(db) = &db {
                state.withdraw_asn(db);
            }
        });
    }
    if !cli.cloud_ranges.is_empty() {
        let ranges = crate::cloud::CloudRanges::load(&cli.cloud_ranges)?;
        tracing::info!(ranges = ranges.len(), "cloud ranges loaded");
        state.set_cloud(Some(ranges));
    }
    Ok(match (&cli.tls_cert, &cli.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::Certs::open(cert, key)?),
        _ => None,
    })
}

/// Decodes every record of a database already answering, in the background; `withdraw`
/// stops using it when it is damaged after all.
fn check_whole(
    pending: crate::geoip::Pending,
    what: &'static str,
    withdraw: impl FnOnce() + Send + 'static,
) {
    tokio::task::spawn_blocking(move || match pending.finish() {
        Ok(()) => tracing::debug!("the {what} database passed its whole check"),
        Err(e) => {
            tracing::error!(
                "{e}; the {what} database is no longer used: answers are chosen without it"
            );
            withdraw();
        }
    });
}

/// Warnings for settings that work but open a door.
pub fn warn_about(cli: &Cli, key: Option<&PublicKey>) {
    for p in cli.trusted_proxy.iter().filter(|p| p.net.prefix_len() == 0) {
        tracing::warn!(
            proxy = %p.net,
            "--trusted-proxy trusts every peer: any client can choose the address it is placed by"
        );
    }
    if key.is_none() && !cli.snapshot_url.is_empty() {
        tracing::warn!(
            "--snapshot-url without --snapshot-key: whoever can answer for a source can feed \
             this server a mirror list"
        );
    }
}
