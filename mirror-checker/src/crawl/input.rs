//! Everything a crawl reads, loaded once before it starts, and what an earlier check saw.

use shared::catalog::Catalog;
use shared::model::RepomdVersion;
use shared::registry::Mirror;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use store::{CheckRecord, HealthRecord};

/// One mirror's earlier results, read when its turn comes.
pub type Earlier = Arc<
    dyn Fn(i64) -> Pin<Box<dyn Future<Output = crate::Result<Vec<CheckRecord>>> + Send>>
        + Send
        + Sync,
>;

/// What an earlier check saw: enough to send a conditional request and to judge a 304.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub sha256: Option<String>,
    /// The copy's repomd timestamp, to classify it again after a 304.
    pub timestamp: Option<i64>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// What that check concluded (a half-synced copy is looked at again in full).
    pub outcome: Option<shared::model::CheckOutcome>,
    /// When.
    pub checked_at: Option<i64>,
}

/// Everything a crawl reads from the store, loaded once.
pub struct CrawlInput {
    pub catalog: Catalog,
    /// Enabled mirrors, with store ids.
    pub mirrors: Vec<(i64, Mirror)>,
    pub directory_ids: HashMap<String, i64>,
    /// Directory id → versions, newest first.
    pub history: HashMap<i64, Vec<RepomdVersion>>,
    /// Directory id → when its alternates were expired.
    pub expired: HashMap<i64, i64>,
    /// Reads a mirror's earlier results when its turn comes (only the open mirrors' are in
    /// memory at once).
    pub earlier: Earlier,
    pub health: HashMap<(i64, String), HealthRecord>,
    /// (directory id, sha256 of a version) → packages to look for on a new copy of it.
    pub samples: HashMap<(i64, String), Vec<(String, u64)>>,
    /// Look only at the directories the polite schedule says are due ([`select`]); off for
    /// a crawl an operator runs (`crawl --once`), which looks at everything.
    pub selective: bool,
    /// Mirrors an operator asked to recheck in full.
    pub full: HashSet<i64>,
    /// Each mirror's TIME file as last read (Unix seconds), by store id.
    pub synced: HashMap<i64, i64>,
    /// What maintenance windows holding now take out, by store id: its failures there do
    /// not count against its health, and a whole mirror out is left out of the 70% rule.
    pub maintenance: HashMap<i64, Vec<shared::model::Scope>>,
}

impl CrawlInput {
    /// Whether a window holding now covers `capability` of mirror `id` (`http`, `ipv6`;
    /// every capability for a whole-mirror window).
    pub fn in_maintenance(&self, id: i64, capability: &str) -> bool {
        use shared::model::Scope;
        self.maintenance.get(&id).is_some_and(|scopes| {
            scopes
                .iter()
                .any(|s| *s == Scope::Mirror || s.as_str() == capability)
        })
    }

    /// Keeps only the named mirrors (a daemon batch).
    pub fn only(mut self, ids: &HashSet<i64>) -> CrawlInput {
        self.mirrors.retain(|(id, _)| ids.contains(id));
        self
    }
}
