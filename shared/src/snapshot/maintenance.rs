//! Maintenance windows as the snapshot carries them, and what they take out of it. The
//! builder applies them when it builds; the server applies them again when it loads a
//! snapshot and at each window's start, so a replica stops serving a mirror when its window
//! opens even if no new snapshot is built then. Applying never puts anything back: a mirror
//! comes back when a new snapshot, built from a check after the window, says so.

use super::verdict::NotServed;
use super::{protocol_bit, Snapshot};
use crate::model::Scope;
use crate::registry::Protocol;
use serde::{Deserialize, Serialize};

/// A window on one mirror (or one protocol or family of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub scope: Scope,
    /// `[from, until)`, Unix seconds.
    pub from: i64,
    pub until: i64,
    pub note: String,
    /// Ended, but the mirror has not been checked since: it stays out until a check after
    /// the window finds it current.
    pub awaiting_check: bool,
    /// It holds in this snapshot (set by [`apply`], never cleared by it).
    pub holds: bool,
}

impl Window {
    /// Whether it holds at `now` (an ended one awaiting its check always does).
    pub fn holds_at(&self, now: i64) -> bool {
        self.awaiting_check || (self.from <= now && now < self.until)
    }

    /// Why what it covers is not served.
    pub fn reason(&self) -> NotServed {
        if self.awaiting_check {
            NotServed::AfterMaintenance { ended: self.until }
        } else {
            NotServed::Maintenance {
                until: self.until,
                note: self.note.clone(),
            }
        }
    }

    fn covers_protocol(&self, p: Protocol) -> bool {
        matches!(
            (self.scope, p),
            (Scope::Mirror, _) | (Scope::Http, Protocol::Http) | (Scope::Https, Protocol::Https)
        )
    }
}

/// Takes out of `snap` what the windows holding at `now` cover, marking them as holding.
/// Returns how many windows newly hold.
pub fn apply(snap: &mut Snapshot, now: i64) -> usize {
    let mut newly = 0;
    for at in 0..snap.mirrors.len() {
        let m = &mut snap.mirrors[at];
        let mut covered: Vec<Window> = Vec::new();
        for w in &mut m.maintenance {
            if !w.holds && w.holds_at(now) {
                w.holds = true;
                newly += 1;
            }
            if w.holds {
                covered.push(w.clone());
            }
        }
        if covered.is_empty() {
            continue;
        }
        for w in &covered {
            match w.scope {
                Scope::V4 => m.ipv4 = false,
                Scope::V6 => m.ipv6 = false,
                _ => {}
            }
        }
        let web: Vec<Protocol> = [Protocol::Http, Protocol::Https]
            .into_iter()
            .filter(|p| m.urls.contains_key(p) || m.module_urls.values().any(|u| u.contains_key(p)))
            .collect();
        let all_out = covered.iter().any(|w| w.scope == Scope::Mirror)
            || (!m.ipv4 && !m.ipv6)
            || web
                .iter()
                .all(|p| covered.iter().any(|w| w.covers_protocol(*p)));
        if all_out {
            let first = covered.iter().max_by_key(|w| w.until).map(Window::reason);
            m.refused = first;
        }
        take_out(snap, at as u32, &covered);
    }
    newly
}

/// Removes the protocols `covered` takes out of mirror `mirror` from every directory, with
/// the window's reason among the directory's refusals.
fn take_out(snap: &mut Snapshot, mirror: u32, covered: &[Window]) {
    let whole = snap.mirrors[mirror as usize].refused.is_some();
    for d in &mut snap.directories {
        let Some(at) = d.mirrors.iter().position(|dm| dm.mirror == mirror) else {
            continue;
        };
        for p in [Protocol::Http, Protocol::Https] {
            let Some(w) = covered.iter().find(|w| w.covers_protocol(p)) else {
                continue;
            };
            let bit = protocol_bit(p);
            if d.mirrors[at].protocols & bit == 0 {
                continue;
            }
            d.mirrors[at].protocols &= !bit;
            d.refused
                .retain(|r| !(r.mirror == mirror && r.protocol == p));
            d.refused.push(super::DirRefused {
                mirror,
                protocol: p,
                reason: w.reason(),
            });
        }
        if whole || d.mirrors[at].protocols == 0 {
            d.mirrors.remove(at);
        }
    }
}

/// The next time after `now` a window of `snap` starts to hold.
pub fn next_start(snap: &Snapshot, now: i64) -> Option<i64> {
    snap.mirrors
        .iter()
        .flat_map(|m| &m.maintenance)
        .filter(|w| !w.holds && w.from > now)
        .map(|w| w.from)
        .min()
}

/// How many mirrors a window holds on in `snap`: wholly, and in part.
pub fn count(snap: &Snapshot) -> (usize, usize) {
    let mut whole = 0;
    let mut part = 0;
    for m in &snap.mirrors {
        if m.maintenance
            .iter()
            .any(|w| w.holds && w.scope == Scope::Mirror)
            || matches!(
                m.refused,
                Some(NotServed::Maintenance { .. } | NotServed::AfterMaintenance { .. })
            )
        {
            whole += 1;
        } else if m.maintenance.iter().any(|w| w.holds) {
            part += 1;
        }
    }
    (whole, part)
}

#[cfg(test)]
mod tests;
