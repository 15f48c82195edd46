//! What runs beside the answers: fetching snapshots from their sources, placing mirrors
//! by GeoIP of their hosts, and building the status pages ahead of the first request.

use super::start::load_snapshot;
use crate::fetch::Fetcher;
use crate::state::{AppState, Loaded};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Polls each snapshot source every `every`, each on its own, until cancelled.
pub fn fetch(fetcher: Fetcher, state: AppState, every: Duration, cancel: CancellationToken) {
    fetcher.run(state, every, cancel);
}

/// Places the snapshot's unplaced mirrors every `every` until cancelled.
pub fn locate(state: AppState, every: Duration, cancel: CancellationToken) {
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
        pages(state);
    }
}

/// Applies each maintenance window of the snapshot in use when it starts (looked for every
/// second), so a mirror leaves the answers then even when no new snapshot comes.
pub fn maintenance(state: AppState, cancel: CancellationToken) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            let Some(current) = state.current() else {
                continue;
            };
            let now = shared::time::now();
            let starting = current
                .snapshot
                .mirrors
                .iter()
                .flat_map(|m| &m.maintenance)
                .any(|w| !w.holds && w.holds_at(now));
            if !starting {
                continue;
            }
            let snap = current.snapshot.clone();
            if let Ok(loaded) = tokio::task::spawn_blocking(move || Loaded::new(snap)).await {
                tracing::info!(
                    serial = loaded.snapshot.serial,
                    "a maintenance window started"
                );
                state.swap(loaded);
                pages(&state);
            }
        }
    });
}

/// Builds the status pages of the snapshot in use in the background, so that the first
/// page request does not wait for them.
pub fn pages(state: &AppState) {
    if let Some(l) = state.current() {
        tokio::task::spawn_blocking(move || {
            l.pages();
        });
    }
}

/// Whether the snapshot on disk is a good one (a replica fed over HTTP then answers at once).
pub fn have_snapshot(
    state: &AppState,
    cli: &crate::cli::Cli,
    key: Option<&shared::snapshot::PublicKey>,
) -> bool {
    load_snapshot(&cli.snapshot, key, state.located()).is_ok()
}
