//! When each mirror first served each version: each copy's lag, each directory's
//! propagation and each mirror's mean lag.

use super::input::*;
use crate::model::CheckOutcome;
use std::collections::HashMap;

/// Each mirror's copy of each directory as the lag and propagation figures read it, by
/// (mirror store id, directory store id).
pub(super) fn copies(
    input: &SnapshotInput,
) -> HashMap<(i64, i64), crate::snapshot::propagation::Copy> {
    use crate::snapshot::propagation::Copy;
    let position: HashMap<(i64, &str), usize> = input
        .history
        .iter()
        .flat_map(|(dir, h)| {
            h.iter()
                .enumerate()
                .map(|(k, v)| ((*dir, v.sha256.as_str()), k))
        })
        .collect();
    let mut copies: HashMap<(i64, i64), Copy> = HashMap::new();
    for c in &input.checks {
        if !matches!(c.outcome, CheckOutcome::Current | CheckOutcome::Behind) {
            continue;
        }
        let Some(&k) = c
            .sha256
            .as_deref()
            .and_then(|sha| position.get(&(c.directory_id, sha)))
        else {
            continue;
        };
        let copy = copies.entry((c.mirror_id, c.directory_id)).or_default();
        copy.holds = Some(copy.holds.map_or(k, |held| held.min(k)));
    }
    for a in &input.arrivals {
        if let Some(&k) = position.get(&(a.directory_id, a.sha256.as_str())) {
            copies
                .entry((a.mirror_id, a.directory_id))
                .or_default()
                .add(k, a);
        }
    }
    copies
}

/// How the last `n` versions of the directory at `path` reached the mirrors, newest first;
/// `behind` holds indices into `input.mirrors`. Empty for a directory the store does not
/// know.
pub fn propagation_of(
    input: &SnapshotInput,
    path: &str,
    n: usize,
) -> Vec<crate::snapshot::propagation::Propagation> {
    let Some(dir) = input.directory_ids.get(path) else {
        return Vec::new();
    };
    let copies = copies(input);
    let of: Vec<(u32, &crate::snapshot::propagation::Copy)> = input
        .mirrors
        .iter()
        .enumerate()
        .filter_map(|(i, (id, _))| copies.get(&(*id, *dir)).map(|c| (i as u32, c)))
        .collect();
    let history = input.history.get(dir).map(Vec::as_slice).unwrap_or(&[]);
    (0..n.min(history.len()))
        .filter_map(|k| crate::snapshot::propagation::report(history, k, &of))
        .collect()
}

/// Each mirror's mean lag over the last 24 hours and 7 days, by store id.
pub(super) fn mean_lags(
    input: &SnapshotInput,
    copies: &HashMap<(i64, i64), crate::snapshot::propagation::Copy>,
    now: i64,
) -> HashMap<i64, (Option<i64>, Option<i64>)> {
    use crate::snapshot::history::{DAY, WEEK};
    use crate::snapshot::propagation::{lags, mean};
    let mut by_mirror: HashMap<i64, (Vec<i64>, Vec<i64>)> = HashMap::new();
    for ((mirror, dir), copy) in copies {
        let Some(history) = input.history.get(dir) else {
            continue;
        };
        let week = lags(history, copy, now, WEEK);
        let day = lags(history, copy, now, DAY);
        let entry = by_mirror.entry(*mirror).or_default();
        entry.0.extend(day);
        entry.1.extend(week);
    }
    by_mirror
        .into_iter()
        .map(|(id, (day, week))| (id, (mean(&day), mean(&week))))
        .collect()
}
