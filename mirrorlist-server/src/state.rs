//! The server's state. Everything a request reads that can change (the snapshot with its
//! indexes, the GeoIP and ASN databases, the cloud ranges) is one [`View`], swapped whole: a request takes one
//! `Arc` of the current view, with one lock, and finishes on that consistent picture whatever
//! is swapped in meanwhile.

use crate::geoip::{AsnDb, GeoDb};
pub use crate::loaded::Loaded;
use crate::select::Limits;
use std::sync::{Arc, RwLock};

/// What a request answers from: the snapshot in use and the databases that place clients.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub loaded: Option<Arc<Loaded>>,
    pub geo: Option<Arc<GeoDb>>,
    pub asn: Option<Arc<AsnDb>>,
    pub cloud: Option<Arc<crate::cloud::CloudRanges>>,
}

/// Settings that shape answers.
#[derive(Debug, Clone)]
pub struct Settings {
    pub limits: Limits,
    /// Whose forwarding header is believed, and which header each sets.
    pub trusted_proxies: Vec<shared::proxy::TrustedProxy>,
    /// Honour `ip=` (for debugging); off by default, since it lets anyone choose mirrors.
    pub allow_ip_param: bool,
    /// `/readyz` fails when the snapshot is older than this.
    pub max_snapshot_age: std::time::Duration,
    /// Nothing is answered from a snapshot older than this (its checker's last word, the
    /// heartbeat included); `None`: no bound.
    pub refuse_older_than: Option<std::time::Duration>,
    /// Fixed seed for the shuffle (tests and replicas that must agree); random when `None`.
    pub seed: Option<u64>,
    /// Log every answer (target `access`), without the client's address.
    pub access_log: bool,
    /// Explanations a client network may ask for a minute: `Some(0)` turns `/explain` off,
    /// `None` leaves it unlimited.
    pub explain_per_minute: Option<u32>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            limits: Limits::default(),
            trusted_proxies: Vec::new(),
            allow_ip_param: false,
            max_snapshot_age: std::time::Duration::from_secs(3 * 3600),
            refuse_older_than: None,
            seed: None,
            access_log: false,
            explain_per_minute: None,
        }
    }
}

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    view: RwLock<Arc<View>>,
    pub settings: Settings,
    pub metrics: crate::metrics::Metrics,
    /// Explanations asked for, per client network.
    pub explained: crate::limit::PerNetwork,
    /// Mirror coordinates learnt from GeoIP of their hosts.
    pub located: crate::locate::HostPlaces,
}

impl AppState {
    pub fn new(settings: Settings) -> AppState {
        AppState(Arc::new(Inner {
            view: RwLock::new(Arc::new(View::default())),
            settings,
            metrics: crate::metrics::Metrics::new(),
            explained: Default::default(),
            located: Default::default(),
        }))
    }

    /// What requests answer from now: one lock, one consistent picture.
    pub fn view(&self) -> Arc<View> {
        self.0
            .view
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The snapshot in use, if one is loaded.
    pub fn current(&self) -> Option<Arc<Loaded>> {
        self.view().loaded.clone()
    }

    /// The snapshot answers come from, or why none is served.
    pub fn serving(&self) -> Result<Arc<Loaded>, String> {
        let loaded = self
            .current()
            .ok_or_else(|| "no snapshot is loaded yet; try again shortly".to_string())?;
        match loaded.refusal(self.settings().refuse_older_than) {
            Some(reason) => Err(reason),
            None => Ok(loaded),
        }
    }

    /// Replaces the view with `change` applied to a copy of it.
    fn update(&self, change: impl FnOnce(&mut View) -> bool) -> bool {
        let mut view = self.0.view.write().unwrap_or_else(|e| e.into_inner());
        let mut next = View::clone(&view);
        let changed = change(&mut next);
        if changed {
            *view = Arc::new(next);
        }
        changed
    }

    /// Puts `loaded` in use, unless it is older than the one in use, or another snapshot
    /// with the serial in use (the rule the snapshot fetcher follows too: a new snapshot
    /// has a higher serial). Returns whether it was.
    pub fn swap(&self, loaded: Loaded) -> bool {
        self.update(|view| {
            if view.loaded.as_ref().is_some_and(|c| {
                let (old, new) = (&c.snapshot, &loaded.snapshot);
                old.serial > new.serial
                    || (old.serial == new.serial && old.created_at != new.created_at)
            }) {
                return false;
            }
            self.0.metrics.snapshot(&loaded.snapshot);
            // The same snapshot again (mirrors placed since): as fresh as it was.
            if let Some(c) = view
                .loaded
                .as_ref()
                .filter(|c| c.snapshot.serial == loaded.snapshot.serial)
            {
                loaded.raise_fresh(c.fresh_at());
                self.0.metrics.snapshot_fresh.set(loaded.fresh_at());
            }
            view.loaded = Some(Arc::new(loaded));
            true
        })
    }

    /// The checker's heartbeat: the snapshot `serial` is still fresh as of `at`. Ignored
    /// for another serial than the one in use.
    pub fn set_fresh(&self, serial: u64, at: i64) {
        if let Some(l) = self.current().filter(|l| l.snapshot.serial == serial) {
            l.raise_fresh(at);
            self.0.metrics.snapshot_fresh.set(l.fresh_at());
        }
    }

    pub fn set_geo(&self, db: Option<GeoDb>) {
        self.0.metrics.geoip_loaded.set(i64::from(db.is_some()));
        self.0
            .metrics
            .geoip_built
            .set(db.as_ref().map_or(0, GeoDb::built_at));
        if db.is_some() {
            self.0.metrics.geoip_loads.inc();
        }
        self.update(|view| {
            view.geo = db.map(Arc::new);
            true
        });
    }

    /// Stops using `db` (a database whose whole check failed after it began answering):
    /// answers are chosen without client locations, as with none configured. Nothing
    /// changes when another database has been swapped in meanwhile.
    pub fn withdraw_geo(&self, db: &Arc<GeoDb>) {
        let withdrawn = self.update(|view| {
            let same = view.geo.as_ref().is_some_and(|g| Arc::ptr_eq(g, db));
            if same {
                view.geo = None;
            }
            same
        });
        if withdrawn {
            self.0.metrics.geoip_loaded.set(0);
            self.0.metrics.geoip_built.set(0);
        }
    }

    /// As [`AppState::withdraw_geo`], for the ASN database.
    pub fn withdraw_asn(&self, db: &Arc<AsnDb>) {
        let withdrawn = self.update(|view| {
            let same = view.asn.as_ref().is_some_and(|a| Arc::ptr_eq(a, db));
            if same {
                view.asn = None;
            }
            same
        });
        if withdrawn {
            self.0.metrics.asn_loaded.set(0);
        }
    }

    pub fn set_asn(&self, db: Option<AsnDb>) {
        self.0.metrics.asn_loaded.set(i64::from(db.is_some()));
        self.update(|view| {
            view.asn = db.map(Arc::new);
            true
        });
    }

    pub fn set_cloud(&self, ranges: Option<crate::cloud::CloudRanges>) {
        self.update(|view| {
            view.cloud = ranges.map(Arc::new);
            true
        });
    }

    pub fn located(&self) -> &crate::locate::HostPlaces {
        &self.0.located
    }

    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.0.metrics
    }
}
