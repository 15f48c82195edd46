//! The server's state: the snapshot in use with its index, swapped whole. A request takes
//! an `Arc` of the current one and finishes on it, whatever is swapped in meanwhile.

use crate::geoip::{AsnDb, GeoDb};
use crate::render::Fragments;
use crate::select::{Index, Limits};
use shared::snapshot::Snapshot;
use std::sync::{Arc, RwLock};

/// A snapshot and the structures built from it for the request path.
#[derive(Debug)]
pub struct Loaded {
    pub snapshot: Snapshot,
    pub index: Index,
    pub fragments: Fragments,
    /// Unix time it was loaded.
    pub loaded_at: i64,
}

impl Loaded {
    pub fn new(snapshot: Snapshot) -> Loaded {
        let index = Index::build(&snapshot);
        let fragments = Fragments::build(&snapshot);
        Loaded {
            snapshot,
            index,
            fragments,
            loaded_at: shared::store::now(),
        }
    }
}

/// Settings that shape answers.
#[derive(Debug, Clone)]
pub struct Settings {
    pub limits: Limits,
    /// Believe `X-Forwarded-For`, `Forwarded` and `CF-Connecting-IP` only from these peers.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Honour `ip=` (for debugging); off by default, since it lets anyone choose mirrors.
    pub allow_ip_param: bool,
    /// `/readyz` fails when the snapshot is older than this.
    pub max_snapshot_age_secs: i64,
    /// Fixed seed for the shuffle (tests and replicas that must agree); random when `None`.
    pub seed: Option<u64>,
    /// Log every answer (target `access`), without the client's address.
    pub access_log: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            limits: Limits::default(),
            trusted_proxies: Vec::new(),
            allow_ip_param: false,
            max_snapshot_age_secs: 3 * 3600,
            seed: None,
            access_log: false,
        }
    }
}

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    current: RwLock<Option<Arc<Loaded>>>,
    pub geo: RwLock<Option<Arc<GeoDb>>>,
    pub asn: RwLock<Option<Arc<AsnDb>>>,
    pub settings: Settings,
    pub metrics: crate::metrics::Metrics,
    /// Mirror coordinates learnt from GeoIP of their hosts.
    pub located: crate::locate::Located,
}

impl AppState {
    pub fn new(settings: Settings) -> AppState {
        AppState(Arc::new(Inner {
            current: RwLock::new(None),
            geo: RwLock::new(None),
            asn: RwLock::new(None),
            settings,
            metrics: crate::metrics::Metrics::new(),
            located: Default::default(),
        }))
    }

    /// The snapshot in use, if one is loaded.
    pub fn current(&self) -> Option<Arc<Loaded>> {
        self.0
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts `loaded` in use, unless it is older than the one in use. Returns whether it was.
    pub fn swap(&self, loaded: Loaded) -> bool {
        let mut current = self.0.current.write().unwrap_or_else(|e| e.into_inner());
        if current
            .as_ref()
            .is_some_and(|c| c.snapshot.serial > loaded.snapshot.serial)
        {
            return false;
        }
        self.0.metrics.snapshot(&loaded.snapshot);
        *current = Some(Arc::new(loaded));
        true
    }

    pub fn geo(&self) -> Option<Arc<GeoDb>> {
        self.0.geo.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn asn(&self) -> Option<Arc<AsnDb>> {
        self.0.asn.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_geo(&self, db: Option<GeoDb>) {
        self.0.metrics.geoip_loaded.set(i64::from(db.is_some()));
        *self.0.geo.write().unwrap_or_else(|e| e.into_inner()) = db.map(Arc::new);
    }

    pub fn set_asn(&self, db: Option<AsnDb>) {
        self.0.metrics.asn_loaded.set(i64::from(db.is_some()));
        *self.0.asn.write().unwrap_or_else(|e| e.into_inner()) = db.map(Arc::new);
    }

    pub fn located(&self) -> &crate::locate::Located {
        &self.0.located
    }

    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.0.metrics
    }
}
