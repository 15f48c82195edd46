//! One snapshot and everything built from it for the request path, once per snapshot: the
//! routes (what a request names), the choice's index, the rendered fragments, and the status
//! pages. Process-wide state (which snapshot is in use, the databases, settings) is
//! [`crate::state`]'s.

use crate::pages::Pages;
use crate::render::Fragments;
use crate::resolve::Routes;
use crate::select::Index;
use shared::snapshot::Snapshot;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;

/// A snapshot and the structures built from it for the request path.
#[derive(Debug)]
pub struct Loaded {
    pub snapshot: Snapshot,
    pub routes: Routes,
    pub index: Index,
    pub fragments: Fragments,
    /// The status pages and the JSON API: built after the swap (off the load's clock), or by
    /// the first page request if that comes first.
    pages: OnceLock<Pages>,
    /// Unix time it was loaded.
    pub loaded_at: i64,
    /// The last time the checker said this snapshot is still the network's state (its
    /// heartbeat; at first, when it was built).
    fresh_at: AtomicI64,
}

impl Loaded {
    /// The pages of this snapshot, built on first use.
    pub fn pages(&self) -> &Pages {
        self.pages
            .get_or_init(|| Pages::build(&self.snapshot, shared::time::now()))
    }

    /// As of when this snapshot is known to be the network's state.
    pub fn fresh_at(&self) -> i64 {
        self.fresh_at.load(Ordering::Relaxed)
    }

    /// Why this snapshot is not served, when it is older than `limit` (its checker's last
    /// word: built, or vouched for by a signed heartbeat, that long ago).
    pub fn refusal(&self, limit: Option<std::time::Duration>) -> Option<String> {
        let limit = limit.filter(|l| !l.is_zero())?;
        let age = shared::time::now().saturating_sub(self.fresh_at());
        (age > limit.as_secs() as i64).then(|| {
            format!(
                "snapshot {} is {} old: nothing is served from a snapshot older than {} \
                 (the server's refuse-older-than) until a fresher one arrives",
                self.snapshot.serial,
                shared::duration::human_age(age as u64),
                shared::duration::format(limit),
            )
        })
    }

    /// The checker says this snapshot still holds as of `at` (never moves back).
    pub fn raise_fresh(&self, at: i64) {
        self.fresh_at.fetch_max(at, Ordering::Relaxed);
    }

    /// The snapshot with the maintenance windows that hold now applied, and its indexes.
    pub fn new(mut snapshot: Snapshot) -> Loaded {
        let now = shared::time::now();
        shared::snapshot::maintenance::apply(&mut snapshot, now);
        Loaded {
            pages: OnceLock::new(),
            routes: Routes::build(&snapshot.catalog),
            index: Index::build(&snapshot),
            fragments: Fragments::build(&snapshot),
            fresh_at: AtomicI64::new(snapshot.created_at),
            snapshot,
            loaded_at: now,
        }
    }
}
