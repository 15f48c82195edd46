//! What the builder reads: the checker's knowledge in the snapshot's own terms (the store
//! fills it, `Store::snapshot_input`).

use crate::catalog::Catalog;
use crate::model::{CheckOutcome, HealthState, RepomdVersion};
use crate::registry::{Mirror, Protocol};
use std::collections::HashMap;
use std::net::IpAddr;

/// What the builder reads.
#[derive(Debug, Clone)]
pub struct SnapshotInput {
    pub catalog: Catalog,
    /// Every registered mirror: (store id, mirror).
    pub mirrors: Vec<(i64, Mirror)>,
    /// Directory path → store id.
    pub directory_ids: HashMap<String, i64>,
    /// Store directory id → versions, newest first.
    pub history: HashMap<i64, Vec<RepomdVersion>>,
    /// Store directory id → when its alternates were expired (`expire-alternates`).
    pub expired: HashMap<i64, i64>,
    /// The latest check of each mirror × directory × protocol: only the fields verdicts need,
    /// so a crawl's worth stays small in memory.
    pub checks: Vec<DirCheck>,
    pub health: Vec<CapabilityState>,
    /// Subnets fetched from mirrors' `subnets_url`, by store id.
    pub fetched_subnets: HashMap<i64, Vec<ipnet::IpNet>>,
    /// Where GeoIP places the address the checker reached each mirror at, by store id.
    pub located: HashMap<i64, Located>,
    /// What the checker recorded of each mirror's recent past, by store id.
    pub activity: HashMap<i64, Activity>,
    /// When mirrors first served the versions published in the last 7 days.
    pub arrivals: Vec<crate::snapshot::propagation::Arrival>,
    /// Maintenance windows not long over, by store id.
    pub maintenance: HashMap<i64, Vec<crate::snapshot::maintenance::Window>>,
}

/// A mirror's recent past as the store keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// Its last crawl, and the age of its TIME file then.
    pub checked_at: Option<i64>,
    pub sync_age: Option<i64>,
    /// Its capabilities' state changes of the last 7 days.
    pub changes: Vec<crate::snapshot::history::Change>,
}

/// The latest check of a directory on a mirror over a protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirCheck {
    pub mirror_id: i64,
    pub directory_id: i64,
    pub protocol: Protocol,
    pub outcome: CheckOutcome,
    /// The copy's sha256, when one was read. Shared: most copies of a directory hold the
    /// same version, and a network's checks are read whole to build a snapshot.
    pub sha256: Option<std::sync::Arc<str>>,
    /// The last copy that matched a version of the master, kept across failed checks.
    pub good_sha256: Option<std::sync::Arc<str>>,
    /// For an intermediate copy (behind, not a version the checker knows): how many versions
    /// behind, and for how long.
    pub versions_behind: Option<i64>,
    pub lag_seconds: Option<i64>,
    pub http_status: Option<i64>,
    pub error: Option<String>,
}

/// A mirror's health for one capability (`http`, `https`, `ipv4`, `ipv6`, `content`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityState {
    pub mirror_id: i64,
    pub capability: String,
    pub state: HealthState,
    pub reason: String,
    /// Since when it has been in this state.
    pub since: i64,
}

/// GeoIP's answer for the address the checker reached a mirror at.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub address: IpAddr,
    pub country: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}
