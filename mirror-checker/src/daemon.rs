//! The checker daemon: runs until cancelled, sharing the crawl with every other checker on the
//! same store through the shared schedule, and (as the leader) scanning the master and
//! publishing snapshots.

use crate::crawl::Claimed;
use crate::error::{Error, Result};
use crate::service::Checker;
use shared::time::now;
use std::collections::HashSet;
use std::time::Duration;
use store::{Claim, Schedule};
use tokio_util::sync::CancellationToken;

/// Binds a listener for `what`, saying where (port 0 picks a free port: the log line says
/// which).
async fn bind(listen: std::net::SocketAddr, what: &str) -> Result<tokio::net::TcpListener> {
    let cannot =
        |e: std::io::Error| Error::Config(format!("cannot listen on {listen} for {what}: {e}"));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(cannot)?;
    let bound = listener.local_addr().map_err(cannot)?;
    tracing::info!(listen = %bound, "{what} listening");
    Ok(listener)
}

/// The lease of the checker that scans the master and publishes snapshots.
pub const LEADER: &str = "leader";

impl Checker {
    /// Runs until cancelled, sharing the work with every other checker on the same store.
    /// Each tick it claims the mirrors that are due (each is checked once per interval, at a
    /// phase of its own; claims are leases, so no two checkers take the same mirror and a
    /// dead checker's mirrors come back), checks them and applies the results together with
    /// their next due times. One checker at a time leads (a lease too): it scans the master and
    /// publishes a snapshot whenever the store has changed. A failed tick (the store
    /// unreachable, say) is logged and retried at the next one; nothing needs restarting.
    pub async fn daemon(&self, cancel: CancellationToken) -> Result<()> {
        let d = self.config.daemon.clone();
        let limits = d.listener_limits();
        if let Some(listen) = d.metrics_listen {
            let listener = bind(listen, "metrics").await?;
            if let Ok(bound) = listener.local_addr() {
                let _ = self.metrics_addr.set(bound);
            }
            let (metrics, cancel) = (self.metrics.clone(), cancel.clone());
            tokio::spawn(crate::metrics::serve(listener, metrics, limits, cancel));
        }
        if let Some(listen) = d.publish_listen {
            let listener = bind(listen, "snapshots").await?;
            if let Ok(bound) = listener.local_addr() {
                let _ = self.publish_addr.set(bound);
            }
            let (path, cancel) = (self.config.snapshot_path.clone(), cancel.clone());
            tokio::spawn(crate::publish::serve(listener, path, limits, cancel));
            if self.signing_key.is_none() {
                tracing::warn!(
                    "snapshots are served unsigned: set snapshot_signing_key, and give servers \
                     the public key with --snapshot-key"
                );
            }
        }
        let tick = Duration::from(d.tick).max(Duration::from_millis(100));
        tracing::info!(checker = %self.id, "checker daemon started");
        // Under systemd (Type=notify): ready now, and alive while the runtime runs (a batch
        // may take minutes: the pings come from a task of their own).
        shared::notify::tell("READY=1\nSTATUS=checking mirrors");
        let watchdog = shared::notify::spawn_watchdog();
        if self.config.http.about_url.trim().is_empty() {
            tracing::warn!(
                "[http] about_url is not set: mirrors that block unknown crawlers ask for a page \
                 saying what the checker is and from which addresses it crawls"
            );
        }
        let mailer = crate::control::mail::Mailer::of(&self.config.control)
            .map_err(|e| Error::Config(format!("[control]: {e}")))?;
        let mut state = DaemonState::default();
        loop {
            if state.leader {
                self.recheck_ownership(&mut state).await;
                if let Err(e) = self.remind().await {
                    tracing::warn!(error = %e, "reminders not written; trying again next tick");
                }
            }
            if let Err(e) = self.deliver_notifications(&mailer).await {
                tracing::warn!(error = %e, "notifications not delivered; trying again next tick");
            }
            match self.tick(&mut state, &cancel).await {
                Ok(()) => self.metrics.tick(true),
                Err(Error::Interrupted) => break,
                Err(e) => {
                    self.metrics.tick(false);
                    let e = self.explain(e).await;
                    tracing::error!(error = %e, "tick failed; retrying in {}", d.tick);
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(tick) => {}
            }
        }
        shared::notify::tell("STOPPING=1");
        if let Some(w) = watchdog {
            w.abort();
        }
        // A clean stop hands the leader's role over at once.
        if state.leader {
            if let Err(e) = self.store.release_lease(LEADER, &self.id).await {
                tracing::warn!(error = %e, "could not release the leader's lease");
            }
        }
        Ok(())
    }

    async fn tick(&self, state: &mut DaemonState, cancel: &CancellationToken) -> Result<()> {
        let d = &self.config.daemon;
        let schedule = d.schedule();
        let t = now();
        self.store.schedule_new_mirrors(&schedule, t).await?;
        let leader = self
            .store
            .hold_lease(LEADER, &self.id, t, d.lease.as_secs())
            .await?;
        if leader != state.leader {
            tracing::info!(checker = %self.id, leader, "leader's role changed");
            state.leader = leader;
        }
        self.metrics.leader(leader);
        let scan = leader
            && self.master()?.is_some()
            && state
                .last_scan
                .is_none_or(|at| t - at >= d.master_interval.as_secs() as i64);
        if leader {
            // A window that ended is checked at once: until a check finds the mirror
            // current, it stays out of the answers.
            let ended = self
                .store
                .windows_awaiting_check(state.windows_at.unwrap_or(0), t)
                .await?;
            self.store.make_due(&ended, t).await?;
            state.windows_at = Some(t);
        }
        let claims = self
            .store
            .claim_due(&self.id, t, d.lease.as_secs(), d.batch_max.max(1))
            .await?;
        self.metrics.claimed(claims.len());
        if scan || !claims.is_empty() {
            self.check_claims(&claims, scan, &schedule, cancel).await?;
            // Only a scan that went through waits for the next interval; a failed one is
            // tried again at the next tick.
            if scan {
                state.last_scan = Some(t);
            }
        }
        if leader {
            let mark = self.store.change_mark().await?;
            let stale = state.published_at.is_none_or(|at| t - at >= REPUBLISH_SECS);
            if state.published_mark.as_ref() != Some(&mark) || stale {
                // Still the leader? A batch can outlast the lease.
                if self
                    .store
                    .hold_lease(LEADER, &self.id, now(), d.lease.as_secs())
                    .await?
                {
                    let record = self.publish().await?;
                    state.published_mark = Some(mark);
                    state.published_at = Some(t);
                    state.published_serial = Some(record.serial as u64);
                }
            } else if let Some(serial) = state.published_serial {
                // Nothing changed: the snapshot in use is still the network's state.
                shared::snapshot::write_freshness(
                    &self.config.snapshot_path,
                    serial,
                    t,
                    self.signing_key.as_deref(),
                )?;
                self.metrics.heartbeat(t);
            }
        }
        Ok(())
    }

    /// Once per sweep (the daemon's `interval`), the leader looks for every served
    /// control-plane mirror's ownership token; a failure is logged and tried next sweep.
    async fn recheck_ownership(&self, state: &mut DaemonState) {
        let t = now();
        let every = self.config.daemon.interval.as_secs() as i64;
        if state.ownership_at.is_some_and(|at| t - at < every) {
            return;
        }
        state.ownership_at = Some(t);
        let looked = async {
            let recheck = crate::control::ownership::Recheck::of(&self.config, &self.store).await?;
            std::sync::Arc::new(recheck)
                .run()
                .await
                .map_err(Error::from)
        };
        match looked.await {
            Ok(l) if l.held + l.missing + l.flagged.len() + l.restored.len() > 0 => tracing::info!(
                held = l.held,
                missing = l.missing,
                flagged = ?l.flagged,
                restored = ?l.restored,
                "ownership tokens looked for"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "ownership tokens not looked for"),
        }
    }

    /// Checks claimed mirrors and applies the results with their next due times; on failure
    /// gives the claims back so that any checker can take them at once.
    async fn check_claims(
        &self,
        claims: &[Claim],
        scan: bool,
        schedule: &Schedule,
        cancel: &CancellationToken,
    ) -> Result<()> {
        let ids: HashSet<i64> = claims.iter().map(|c| c.mirror_id).collect();
        let claimed = Claimed {
            holder: &self.id,
            claims,
            schedule: *schedule,
        };
        // The claims' leases are renewed while the batch runs: a batch can outlast them (a
        // slow mirror whose new copies' files are all being looked at), and another checker
        // must not take the same mirrors meanwhile.
        let lease = self.config.daemon.lease.as_secs();
        let run = crate::service::Run {
            scan,
            publish: false,
            on_schedule: true,
            at: None,
        };
        let crawl = self.run_crawl(Some(&ids), Some(&claimed), run, cancel);
        tokio::pin!(crawl);
        let every = Duration::from_millis((lease * 1000 / 3).max(200));
        let result = loop {
            tokio::select! {
                result = &mut crawl => break result,
                _ = tokio::time::sleep(every) => {
                    if let Err(e) = self.store.renew_claims(&self.id, claims, now(), lease).await {
                        tracing::warn!(error = %e, "could not renew the claims' leases");
                    }
                }
            }
        };
        match result {
            Ok(summary) => {
                tracing::info!("{}", summary.describe());
                Ok(())
            }
            Err(e) => {
                if let Err(release) = self.store.release_claims(&self.id, claims).await {
                    tracing::warn!(error = %release, "could not give claims back; their leases will run out");
                }
                Err(e)
            }
        }
    }
}

/// A leader publishes a new snapshot at least this often even when nothing changed, for what
/// time alone changes (an alternate's window running out, "behind for 3 d"); between two, a
/// tick that changed nothing writes a heartbeat that keeps the servers' snapshot fresh.
const REPUBLISH_SECS: i64 = 3600;

/// What the daemon remembers between ticks.
#[derive(Default)]
struct DaemonState {
    leader: bool,
    /// When the leader last looked for the control plane's mirrors' ownership tokens.
    ownership_at: Option<i64>,
    /// Until when the leader has made mirrors whose maintenance window ended due.
    windows_at: Option<i64>,
    last_scan: Option<i64>,
    published_mark: Option<Vec<i64>>,
    published_at: Option<i64>,
    published_serial: Option<u64>,
}
