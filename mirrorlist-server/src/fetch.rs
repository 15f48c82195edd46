//! Snapshots over HTTP: with `--snapshot-url`, the server polls each source (a checker's
//! publication listener, or any cache or object store in front of one) with conditional
//! requests, verifies what it gets (framing, checksum and, with `--snapshot-key`, the
//! signature) and writes a newer one to its own `--snapshot` file, where the file watcher
//! swaps it in as it does for any file. The last good snapshot stays on local disk, so a
//! restart answers at once without the source. Several sources may be named (every checker
//! that may lead): they are polled together, each answer taken as it comes (one slow or
//! hostile source holds back no other), and the newest serial wins.

mod client;

use crate::cli::Cli;
use crate::state::AppState;
use shared::snapshot::{self, PublicKey};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// One source and what it last answered.
struct Source {
    url: Url,
    fresh: Url,
    etag: Option<String>,
    /// What its last poll failed with: the same failure is logged once, not every poll.
    failing: Option<String>,
    /// Where its downloads are written as they arrive, beside the local file.
    part: PathBuf,
}

/// `.LOCAL.N.part` beside `local`: where source `n`'s download is written, renamed over
/// `local` once verified (the same folder, so the rename is atomic).
fn part_path(local: &Path, n: usize) -> PathBuf {
    let name = local
        .file_name()
        .map_or_else(|| "snapshot".into(), |n| n.to_string_lossy().into_owned());
    local.with_file_name(format!(".{name}.{n}.part"))
}

/// Removes a download that was not installed, however the poll ended.
struct Leftover<'a>(&'a Path);

impl Drop for Leftover<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}

/// What one poll of a source did.
#[derive(Debug, PartialEq, Eq)]
pub enum Polled {
    /// A newer snapshot, written to the local file.
    New(u64),
    /// The same one as before (304, or a snapshot not newer than the local one).
    Unchanged,
    /// A snapshot built later than the local one but with a lower serial (the source's
    /// store was rebuilt and its serials started again): not taken, and said.
    Behind { offered: u64, held: u64 },
}

/// Polls the sources for new snapshots and heartbeats.
pub struct Fetcher {
    common: Arc<Common>,
    sources: Vec<Source>,
}

/// What every source's poll shares: the client, and the local file and what it holds.
struct Common {
    tls: tokio_rustls::TlsConnector,
    local: PathBuf,
    key: Option<PublicKey>,
    /// The serial of the snapshot in the local file, as last read or written there: the
    /// heartbeats are checked against it without reading the file again at every poll.
    /// Held while an answer is verified and written, so that sources write one at a time.
    held: tokio::sync::Mutex<Option<u64>>,
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
    local_held(path, key).map(|(serial, _)| serial)
}

/// The serial and build time of the snapshot in the local file.
fn local_held(path: &Path, key: Option<&PublicKey>) -> Option<(u64, i64)> {
    snapshot::read_verified(path, key)
        .ok()
        .map(|s| (s.serial, s.created_at))
}

impl Fetcher {
    pub fn new(cli: &Cli, key: Option<PublicKey>) -> Result<Fetcher, crate::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default versions")
            .with_root_certificates(client::tls_roots(cli.snapshot_ca.as_deref())?)
            .with_no_client_auth();
        let common = Common {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            local: cli.snapshot.clone(),
            held: tokio::sync::Mutex::new(local_serial(&cli.snapshot, key.as_ref())),
            key,
        };
        Ok(Fetcher {
            common: Arc::new(common),
            sources: cli
                .snapshot_url
                .iter()
                .enumerate()
                .map(|(n, url)| Source {
                    url: url.clone(),
                    fresh: fresh_url(url),
                    etag: None,
                    failing: None,
                    part: part_path(&cli.snapshot, n),
                })
                .collect(),
        })
    }

    #[cfg(test)]
    async fn poll_one(&mut self, i: usize) -> Result<Polled, PollError> {
        poll_source(&self.common, &mut self.sources[i]).await
    }

    /// Polls every source once, together; counts and logs what each did. The newest serial
    /// written, if any.
    pub async fn poll(&mut self, state: &AppState) -> Option<u64> {
        let common = &self.common;
        let polls = self
            .sources
            .iter_mut()
            .map(|source| poll_and_count(common, source, state));
        futures_util::future::join_all(polls)
            .await
            .into_iter()
            .max()
            .flatten()
    }

    /// Polls each source every `every` on a task of its own until `cancel`.
    pub fn run(
        self,
        state: AppState,
        every: Duration,
        cancel: tokio_util::sync::CancellationToken,
    ) {
        for mut source in self.sources {
            let (common, state, cancel) = (self.common.clone(), state.clone(), cancel.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(every) => {}
                    }
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = poll_and_count(&common, &mut source, &state) => {}
                    }
                }
            });
        }
    }

    /// Until a snapshot is on local disk: poll every `every` (the caller gives up by
    /// dropping this).
    pub async fn first(&mut self, state: &AppState, every: Duration) {
        loop {
            if self.poll(state).await.is_some() || self.common.held.lock().await.is_some() {
                return;
            }
            tracing::warn!("no snapshot yet from any source; trying again in {every:?}");
            tokio::time::sleep(every).await;
        }
    }
}

/// Polls `source`: a newer verified snapshot is written to the local file, then its
/// heartbeat beside it.
async fn poll_source(common: &Common, source: &mut Source) -> Result<Polled, PollError> {
    let (url, fresh, part) = (
        source.url.clone(),
        source.fresh.clone(),
        source.part.clone(),
    );
    let _leftover = Leftover(&source.part);
    let expect = client::Expect::Snapshot(&part);
    let (status, tag, _) = client::get(&common.tls, &url, source.etag.as_deref(), expect).await?;
    let outcome = match status {
        304 => Polled::Unchanged,
        200 => {
            let mut held = common.held.lock().await;
            let (key, local, origin) = (common.key.clone(), common.local.clone(), url.to_string());
            // A new answer is rare (a new snapshot): the local file is read again then, in
            // case something else replaced it.
            let (written, now_held) = tokio::task::spawn_blocking(move || {
                // An answer that is not a whole, valid (and with a key, signed) snapshot is
                // refused, whatever is wrong with it. What was written is at most what its
                // header declared, so reading it back is bounded.
                let body = std::fs::read(&part).map_err(|e| PollError::Failed(e.to_string()))?;
                let header = snapshot::verify_bytes(&body, &origin, key.as_ref())
                    .map_err(|e| PollError::Refused(e.to_string()))?;
                let held = local_held(&local, key.as_ref());
                if let Some((serial, built)) = held.filter(|(s, _)| *s >= header.serial) {
                    let polled = if serial > header.serial && header.created_at > built {
                        Polled::Behind {
                            offered: header.serial,
                            held: serial,
                        }
                    } else {
                        Polled::Unchanged
                    };
                    return Ok::<_, PollError>((polled, Some(serial)));
                }
                drop(body);
                snapshot::install_verified(&part, &local)
                    .map_err(|e| PollError::Failed(e.to_string()))?;
                Ok((Polled::New(header.serial), Some(header.serial)))
            })
            .await
            .map_err(|e| PollError::Failed(e.to_string()))??;
            *held = now_held;
            source.etag = tag;
            written
        }
        other => return Err(PollError::Failed(format!("{url}: HTTP {other}"))),
    };
    // The heartbeat, kept only when it speaks of the local snapshot (and is signed).
    let small = client::Expect::AtMost(client::MAX_HEARTBEAT);
    if let Ok((200, _, body)) = client::get(&common.tls, &fresh, None, small).await {
        let held = common.held.lock().await;
        let (key, local, held) = (common.key.clone(), common.local.clone(), *held);
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

/// Polls `source` once, counts and logs what it did: the serial written, if any.
async fn poll_and_count(common: &Common, source: &mut Source, state: &AppState) -> Option<u64> {
    let result = poll_source(common, source).await;
    let url = &source.url;
    let well = matches!(result, Ok(Polled::New(_) | Polled::Unchanged));
    if well && source.failing.take().is_some() {
        tracing::info!(source = %url, "snapshot source answers again");
    }
    let mut written = None;
    let label = match &result {
        Ok(Polled::New(serial)) => {
            tracing::info!(source = %url, serial, "snapshot fetched");
            written = Some(*serial);
            "new"
        }
        Ok(Polled::Unchanged) => "unchanged",
        Ok(Polled::Behind { offered, held }) => {
            if source.failing.as_deref() != Some("behind") {
                tracing::error!(source = %url, offered, held, "the source offers a snapshot built later than the one held but with a lower serial: its checker's store was rebuilt; not taken until its serial passes the one held");
                source.failing = Some("behind".into());
            }
            "behind"
        }
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
    written
}

#[cfg(test)]
mod tests;
