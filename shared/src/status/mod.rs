//! The public view of a snapshot: the network's summary and each mirror's state and reasons,
//! as the status pages, the JSON API and `mirror-checker status --json` show them. A pure
//! function of the snapshot, so they cannot disagree with the answers. Private details are
//! not in it: no contact, no netblocks, no ASNs (a private mirror's audience is said in
//! words only).
//!
//! Field names are part of the API (`/api/v1/...`): add fields, never rename or remove one
//! within a version.

mod mirror;
mod network;

pub use mirror::mirror;
pub use network::{network, propagation};

use serde::{Deserialize, Serialize};

/// The API's version, in its paths (`/api/v1/`).
pub const API_VERSION: u32 = 1;

/// The whole network: `/api/v1/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkStatus {
    pub api_version: u32,
    /// The snapshot this was built from.
    pub serial: u64,
    /// When the checker built that snapshot (Unix seconds).
    pub generated_at: i64,
    pub distribution: String,
    pub mirrors_total: usize,
    /// Mirrors served for at least one directory (to whomever their audience is).
    pub mirrors_served: usize,
    /// When the master last published a new version of any directory (Unix seconds).
    pub master_published_at: Option<i64>,
    /// Per release and repository: how many mirrors carry it current, behind, not served.
    pub coverage: Vec<Coverage>,
    pub mirrors: Vec<MirrorSummary>,
    /// How each directory's current version reached the mirrors, newest publication first.
    pub propagation: Vec<PropagationSummary>,
}

/// Mirrors named in a propagation summary at most.
pub const MAX_BEHIND_NAMED: usize = 20;

/// How a directory's current version reached the mirrors watched since before its
/// publication (whose arrival the checker could time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropagationSummary {
    pub path: String,
    /// When the master published it (Unix seconds).
    pub published_at: i64,
    pub carriers: u32,
    /// How many of them serve it (or a newer one).
    pub arrived: u32,
    /// Seconds from publication until 50%, 90%, 99% of the carriers served it; `null` while
    /// not reached.
    pub p50: Option<i64>,
    pub p90: Option<i64>,
    pub p99: Option<i64>,
    /// How many carriers do not serve it yet, and the first of them by name.
    pub behind_count: u32,
    pub behind: Vec<String>,
}

/// One release's repository across the network. A mirror counts once: `current` when every
/// directory of it the mirror should carry is served at the master's current version,
/// `behind` when each is served but some on an older version still listed (an alternate),
/// `not_served` when any is not served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub release: String,
    pub repo: String,
    pub directories: usize,
    pub current: usize,
    pub behind: usize,
    pub not_served: usize,
}

/// A mirror's state at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum MirrorState {
    /// Served for every directory it should carry.
    Served,
    /// Served for some directories, not for others.
    Partly,
    /// Served for none.
    NotServed,
}

impl MirrorState {
    pub fn as_str(self) -> &'static str {
        match self {
            MirrorState::Served => "served",
            MirrorState::Partly => "partly served",
            MirrorState::NotServed => "not served",
        }
    }
}

/// One of a mirror's URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorUrl {
    pub protocol: String,
    pub url: String,
}

/// A capability (`http`, `https`, `ipv4`, `ipv6`) the health rule took out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Down {
    pub capability: String,
    pub reason: String,
}

/// One mirror: a row of `/mirrors` and of `/api/v1/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MirrorSummary {
    pub name: String,
    pub sponsor: String,
    pub state: MirrorState,
    /// Why it is not served at all, when it is not.
    pub reason: Option<String>,
    /// To whom it is served, in words.
    pub audience: String,
    /// In the public pool (not private, not a cloud mirror).
    pub public: bool,
    pub country: Option<String>,
    pub continent: Option<String>,
    pub urls: Vec<MirrorUrl>,
    pub ipv4: bool,
    pub ipv6: bool,
    /// Directory × protocol pairs it should carry, and how they stand.
    pub checked_pairs: usize,
    pub current: usize,
    pub behind: usize,
    pub not_served: usize,
    /// Share of those pairs served (current or behind), 0 to 1.
    pub completion: f64,
    pub down: Vec<Down>,
    pub warnings: Vec<String>,
    /// When the checker last checked it (Unix seconds).
    pub checked_at: Option<i64>,
    /// When it last synced, by its TIME file.
    pub synced_at: Option<i64>,
    /// Share of the last 24 hours (7 days) at least one of its web protocols was up by the
    /// health rule, of the time its state was known; 0 to 1.
    pub availability_24h: Option<f64>,
    pub availability_7d: Option<f64>,
    /// Its worst directory's lag now, in seconds: how long ago the master published the
    /// first version that directory's copy lacks (0 when every copy is current; `null` when
    /// none of its copies can be told).
    pub lag_seconds: Option<i64>,
    /// Mean seconds from the master publishing a version until it served it, over the
    /// versions published in the last 24 hours (7 days): Arch Linux's `delay`, per version.
    pub mean_lag_24h: Option<i64>,
    pub mean_lag_7d: Option<i64>,
}

/// One directory over one protocol on one mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryVerdict {
    pub path: String,
    pub protocol: String,
    /// `current`, `behind` or `not_served`.
    pub verdict: String,
    /// Versions behind the master's current one (served or not), when known.
    pub versions_behind: Option<u32>,
    /// Seconds since the master published the first version this copy lacks (0 when
    /// current), when known.
    pub lag_seconds: Option<i64>,
    /// Why, in an operator's words (empty when current).
    pub detail: String,
}

/// One mirror in full: `/mirrors/{name}` and `/api/v1/mirrors/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MirrorDetail {
    pub api_version: u32,
    pub serial: u64,
    pub generated_at: i64,
    #[serde(flatten)]
    pub summary: MirrorSummary,
    /// Where it is placed and on whose word.
    pub placement: String,
    pub directories: Vec<DirectoryVerdict>,
    /// Every capability's state after the health rule, since when and why.
    pub capabilities: Vec<crate::snapshot::history::Capability>,
    /// The last 7 days: spans of up (`true`), down (`false`) or unknown (`null`).
    pub timeline: Vec<crate::snapshot::history::Span>,
    /// Its capabilities' state changes of the last 7 days, newest first.
    pub changes: Vec<crate::snapshot::history::Change>,
    /// Recent check errors.
    pub errors: Vec<CheckError>,
}

/// A check that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckError {
    pub path: String,
    pub protocol: String,
    pub error: String,
}

#[cfg(test)]
mod tests;
