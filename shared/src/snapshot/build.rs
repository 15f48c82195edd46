//! Building a snapshot from what the checker knows. Pure: same input, same snapshot. The
//! input is in the snapshot's own terms; the store fills it (`Store::snapshot_input`).

mod arrivals;
mod directory;
mod input;
mod mirror;

pub use arrivals::propagation_of;
pub use directory::{alternates, versions_in_window};
pub use input::{Activity, CapabilityState, DirCheck, Located, SnapshotInput};

use super::{SnapMirror, Snapshot};
use arrivals::{copies, mean_lags};
use directory::{directory, ChecksOf, Judged};
use mirror::{mirror_verdict, snap_mirror, Capabilities};
use std::collections::HashMap;

pub fn build(input: &SnapshotInput, serial: u64, now: i64, generator: &str) -> Snapshot {
    let mut health: HashMap<i64, Capabilities> = HashMap::new();
    for h in &input.health {
        health
            .entry(h.mirror_id)
            .or_default()
            .states
            .insert(h.capability.as_str(), h);
    }
    let none = Capabilities::default();
    let copies = copies(input);
    let lags = mean_lags(input, &copies, now);
    let mut mirrors = Vec::with_capacity(input.mirrors.len());
    // Snapshot index → (store id, the mirror, its verdict, whether its content is up).
    let mut verdicts = Vec::with_capacity(input.mirrors.len());
    for (id, m) in &input.mirrors {
        let caps = health.get(id).unwrap_or(&none);
        let v = mirror_verdict(m, caps);
        mirrors.push(snap_mirror(input, *id, m, &v, caps, lags.get(id), now));
        verdicts.push(Judged {
            id: *id,
            mirror: m,
            content_up: caps.up("content"),
            verdict: v,
        });
    }
    add_errors(input, &mut mirrors);
    let mut checks: ChecksOf = HashMap::new();
    for c in &input.checks {
        checks
            .entry(c.directory_id)
            .or_default()
            .insert((c.mirror_id, c.protocol), c);
    }
    let directories = input
        .catalog
        .directories
        .iter()
        .map(|d| directory(input, d, &verdicts, &checks, &copies, now))
        .collect();
    let mut snap = Snapshot {
        serial,
        created_at: now,
        generator: generator.to_string(),
        catalog: input.catalog.clone(),
        mirrors,
        directories,
    };
    super::maintenance::apply(&mut snap, now);
    snap
}

/// Each mirror's recent errors, by directory path, a few of them.
fn add_errors(input: &SnapshotInput, mirrors: &mut [SnapMirror]) {
    let paths: HashMap<i64, &str> = input
        .directory_ids
        .iter()
        .map(|(p, id)| (*id, p.as_str()))
        .collect();
    let index: HashMap<i64, usize> = input
        .mirrors
        .iter()
        .enumerate()
        .map(|(at, (id, _))| (*id, at))
        .collect();
    for c in &input.checks {
        let (Some(error), Some(&at)) = (&c.error, index.get(&c.mirror_id)) else {
            continue;
        };
        let path = paths.get(&c.directory_id).copied().unwrap_or("?");
        mirrors[at]
            .record
            .errors
            .push((path.to_string(), c.protocol.to_string(), error.clone()));
    }
    for m in mirrors {
        m.record.errors.sort();
        m.record.errors.truncate(super::history::MAX_ERRORS);
    }
}

#[cfg(test)]
mod tests;
