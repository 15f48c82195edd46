//! What a snapshot is built from, read from the store: the bridge between the store's rows
//! and the snapshot's pure builder.

use super::{CheckRecord, Result, Store};
use shared::snapshot::{CapabilityState, SeenCopy, SnapshotInput};
use std::collections::HashMap;

/// The copy a check saw, if it saw one.
pub fn seen_copy(c: &CheckRecord) -> Option<SeenCopy> {
    Some(SeenCopy {
        mirror_id: c.mirror_id,
        directory_id: c.directory_id,
        protocol: c.protocol,
        sha256: c.sha256_seen.clone()?,
    })
}

impl Store {
    /// Everything [`shared::snapshot::build`] needs; `None` when no catalog is stored yet.
    pub async fn snapshot_input(&self) -> Result<Option<SnapshotInput>> {
        let Some(catalog) = self.load_catalog().await? else {
            return Ok(None);
        };
        let mut checks = Vec::new();
        self.visit_checks(|c| checks.extend(seen_copy(&c))).await?;
        let health = self
            .load_health()
            .await?
            .into_iter()
            .map(|h| CapabilityState {
                mirror_id: h.mirror_id,
                capability: h.capability,
                state: h.state,
            })
            .collect();
        Ok(Some(SnapshotInput {
            catalog,
            mirrors: self.load_mirrors_with_ids().await?,
            directory_ids: self.directory_ids().await?,
            history: self.repomd_history().await?,
            checks,
            health,
            fetched_subnets: HashMap::new(),
        }))
    }
}
