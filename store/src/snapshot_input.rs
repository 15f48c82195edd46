//! What a snapshot is built from, read from the store: the bridge between the store's rows
//! and the snapshot's pure builder.

use super::{CheckRecord, Result, Store};
use shared::snapshot::history::{Change, WEEK};
use shared::snapshot::{Activity, CapabilityState, DirCheck, SnapshotInput};
use std::collections::HashMap;
use std::sync::Arc;

/// The hashes checks read, each kept once however many copies hold it.
#[derive(Default)]
pub struct Hashes(std::collections::HashSet<Arc<str>>);

impl Hashes {
    fn share(&mut self, sha: Option<String>) -> Option<Arc<str>> {
        let sha = sha?;
        if let Some(known) = self.0.get(sha.as_str()) {
            return Some(known.clone());
        }
        let shared: Arc<str> = sha.into();
        self.0.insert(shared.clone());
        Some(shared)
    }
}

/// A check as the verdicts read it. Checks pinned to an address family are probes (the
/// family's health speaks for them): only the family-neutral ones judge a directory.
pub fn dir_check(c: CheckRecord, hashes: &mut Hashes) -> Option<DirCheck> {
    (c.family == shared::model::Family::Any).then(|| DirCheck {
        mirror_id: c.mirror_id,
        directory_id: c.directory_id,
        protocol: c.protocol,
        outcome: c.outcome,
        sha256: hashes.share(c.sha256_seen),
        good_sha256: hashes.share(c.good_sha256),
        versions_behind: c.versions_behind,
        lag_seconds: c.lag_seconds,
        http_status: c.http_status,
        error: c.error,
    })
}

impl Store {
    /// Everything [`shared::snapshot::build`] needs; `None` when no catalog is stored yet.
    pub async fn snapshot_input(&self) -> Result<Option<SnapshotInput>> {
        let Some(catalog) = self.load_catalog().await? else {
            return Ok(None);
        };
        let (mut checks, mut hashes) = (Vec::new(), Hashes::default());
        self.visit_checks(|c| checks.extend(dir_check(c, &mut hashes)))
            .await?;
        let health = self
            .load_health()
            .await?
            .into_iter()
            .map(|h| CapabilityState {
                mirror_id: h.mirror_id,
                capability: h.capability,
                state: h.state,
                reason: h.reason,
                since: h.since,
            })
            .collect();
        let fetched_subnets: HashMap<i64, Vec<ipnet::IpNet>> = self
            .fetched_subnets()
            .await?
            .into_iter()
            .filter(|f| f.fetched_at.is_some())
            .map(|f| (f.mirror_id, f.cidrs))
            .collect();
        let mut activity: HashMap<i64, Activity> = HashMap::new();
        for s in self.mirror_stats().await? {
            let a = activity.entry(s.mirror_id).or_default();
            a.checked_at = Some(s.checked_at);
            a.sync_age = s.sync_age;
        }
        for e in self.health_events_since(shared::time::now() - WEEK).await? {
            activity
                .entry(e.mirror_id)
                .or_default()
                .changes
                .push(Change {
                    capability: e.capability,
                    from: e.old_state,
                    to: e.new_state,
                    reason: e.reason,
                    at: e.at,
                });
        }
        Ok(Some(SnapshotInput {
            catalog,
            mirrors: self.load_mirrors_with_ids().await?,
            directory_ids: self.directory_ids().await?,
            history: self.repomd_history().await?,
            expired: self.alternates_expiry().await?,
            checks,
            health,
            fetched_subnets,
            located: self.located().await?,
            activity,
            arrivals: self.arrivals_since(shared::time::now() - WEEK).await?,
            maintenance: self.windows_by_mirror(shared::time::now()).await?,
        }))
    }
}
