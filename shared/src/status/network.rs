//! The network as a whole: coverage per release and repository, every mirror's row, and
//! how the latest publications propagated.

use super::mirror::{pairs, standing, summary, Lookup, Standing};
use super::*;
use crate::snapshot::Snapshot;
use std::collections::BTreeMap;

/// The propagation summaries of a snapshot, newest publication first (ties by path).
pub fn propagation(snap: &Snapshot) -> Vec<PropagationSummary> {
    let mut out: Vec<PropagationSummary> = snap
        .directories
        .iter()
        .zip(&snap.catalog.directories)
        .filter_map(|(d, c)| {
            let p = d.propagation.as_ref()?;
            Some(PropagationSummary {
                path: c.path.clone(),
                published_at: p.published_at,
                carriers: p.carriers,
                arrived: p.arrived,
                p50: p.p50,
                p90: p.p90,
                p99: p.p99,
                behind_count: p.behind.len() as u32,
                behind: p
                    .behind
                    .iter()
                    .take(MAX_BEHIND_NAMED)
                    .filter_map(|at| snap.mirrors.get(*at as usize).map(|m| m.name.clone()))
                    .collect(),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.published_at
            .cmp(&a.published_at)
            .then_with(|| a.path.cmp(&b.path))
    });
    out
}

/// The network's status.
pub fn network(snap: &Snapshot) -> NetworkStatus {
    let mut mirrors = Vec::with_capacity(snap.mirrors.len());
    // (release, repo) → (directories, per mirror its worst standing)
    let mut repos: BTreeMap<(String, String), (usize, BTreeMap<u32, Standing>)> = BTreeMap::new();
    for (i, d) in snap.catalog.mirrored() {
        if !snap.directories[i].versions.is_empty() {
            repos
                .entry((d.release.clone(), d.repo.clone()))
                .or_default()
                .0 += 1;
        }
    }
    let lookup = Lookup::new(snap);
    for at in 0..snap.mirrors.len() as u32 {
        let pairs = pairs(snap, Some(&lookup), at);
        for (i, _, v) in &pairs {
            let d = &snap.catalog.directories[*i];
            let worst = repos
                .get_mut(&(d.release.clone(), d.repo.clone()))
                .expect("every pair's directory is counted")
                .1
                .entry(at)
                .or_insert(Standing::Current);
            *worst = (*worst).max(standing(v));
        }
        mirrors.push(summary(snap, at, &pairs));
    }
    let coverage = repos
        .into_iter()
        .map(|((release, repo), (directories, by))| {
            let n = |s: Standing| by.values().filter(|w| **w == s).count();
            Coverage {
                release,
                repo,
                directories,
                current: n(Standing::Current),
                behind: n(Standing::Behind),
                not_served: n(Standing::NotServed),
            }
        })
        .collect();
    NetworkStatus {
        api_version: API_VERSION,
        serial: snap.serial,
        generated_at: snap.created_at,
        distribution: snap.catalog.spec.distribution.clone(),
        mirrors_total: snap.mirrors.len(),
        mirrors_served: mirrors
            .iter()
            .filter(|m| m.state != MirrorState::NotServed)
            .count(),
        master_published_at: snap
            .directories
            .iter()
            .filter_map(|d| d.versions.first().map(|v| v.first_seen))
            .max(),
        coverage,
        mirrors,
        propagation: propagation(snap),
    }
}
