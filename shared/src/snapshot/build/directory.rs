//! Each directory as the snapshot carries it: the versions a metalink offers (alternates by
//! MirrorManager's rule) and, per mirror and protocol, served or why not.

use super::input::*;
use super::mirror::MirrorVerdict;
use crate::model::{CheckOutcome, RepomdVersion};
use crate::registry::{Mirror, Protocol};
use crate::snapshot::verdict::NotServed;
use crate::snapshot::{protocol_bit, DirMirror, DirRefused, SnapDirectory, Version};
use std::collections::HashMap;

/// The versions a metalink offers at `now`, newest first: the current one, then each older
/// one until the version that replaced it is older than `window` seconds (MirrorManager's
/// rule: a mirror one sync behind stays usable right after a push however old the previous
/// push was). Versions replaced at or before `expired_at` (`expire-alternates`) are not
/// offered.
pub fn alternates(
    history: &[RepomdVersion],
    now: i64,
    window: u64,
    expired_at: Option<i64>,
) -> Vec<RepomdVersion> {
    let oldest = now.saturating_sub(window as i64);
    let mut out: Vec<RepomdVersion> = history.iter().take(1).cloned().collect();
    for pair in history.windows(2) {
        let replaced_at = pair[0].first_seen;
        if replaced_at < oldest || expired_at.is_some_and(|e| replaced_at <= e) {
            break;
        }
        out.push(pair[1].clone());
    }
    out
}

/// [`alternates`] with no expiry.
pub fn versions_in_window(history: &[RepomdVersion], now: i64, window: u64) -> Vec<RepomdVersion> {
    alternates(history, now, window, None)
}

/// One directory over one protocol, from its latest check.
pub(super) fn directory_verdict(
    check: Option<&DirCheck>,
    offered: &[Version],
    history: &[RepomdVersion],
    content_up: bool,
    now: i64,
) -> Result<(u8, bool), NotServed> {
    let Some(c) = check else {
        return Err(NotServed::NotCheckedYet);
    };
    let position = |sha: &str| offered.iter().position(|v| v.sha256 == sha);
    let held = |fallback_allowed: bool, otherwise: NotServed| match c
        .good_sha256
        .as_deref()
        .and_then(position)
    {
        Some(k) if fallback_allowed => Ok((k.min(u8::MAX as usize) as u8, true)),
        _ => Err(otherwise),
    };
    match c.outcome {
        CheckOutcome::Current | CheckOutcome::Behind => {
            let sha = c.sha256.as_deref().unwrap_or_default();
            if let Some(k) = position(sha) {
                return Ok((k.min(u8::MAX as usize) as u8, false));
            }
            match history.iter().position(|v| v.sha256 == sha) {
                Some(k) if k > 0 => Err(NotServed::Behind {
                    versions: k as u32,
                    for_secs: now - history[k - 1].first_seen,
                }),
                // Current when checked, superseded since.
                Some(_) => Err(NotServed::Behind {
                    versions: 0,
                    for_secs: 0,
                }),
                None => Err(NotServed::Intermediate {
                    versions: c.versions_behind.unwrap_or(1).max(1) as u32,
                    for_secs: c.lag_seconds.unwrap_or(0),
                }),
            }
        }
        CheckOutcome::Missing => Err(NotServed::Missing {
            status: c.http_status.unwrap_or(404) as u16,
        }),
        CheckOutcome::Unknown => held(content_up, NotServed::UnknownContent),
        // Its repomd.xml is the one dnf gets: no earlier copy can stand in.
        CheckOutcome::Incomplete => Err(NotServed::HalfSynced {
            problem: c.error.clone().unwrap_or_else(|| "files missing".into()),
        }),
        // The protocol is up (a down one never gets here): the health rule is still weighing
        // the failure.
        CheckOutcome::Error => held(
            true,
            NotServed::CheckFailed {
                reason: c.error.clone().unwrap_or_else(|| "failed".into()),
            },
        ),
    }
}

/// The latest checks by directory (store id), then by mirror (store id) and protocol:
/// each directory's map small enough to stay in cache while it is built (one map of every
/// check made the build grow faster than the network).
pub(super) type ChecksOf<'a> = HashMap<i64, HashMap<(i64, Protocol), &'a DirCheck>>;

/// A mirror with its verdict, as each directory reads it.
pub(super) struct Judged<'a> {
    pub id: i64,
    pub mirror: &'a Mirror,
    pub verdict: MirrorVerdict,
    pub content_up: bool,
}

/// One directory: the versions offered, its propagation, and each mirror served or why not.
pub(super) fn directory(
    input: &SnapshotInput,
    d: &crate::catalog::Directory,
    mirrors: &[Judged],
    checks: &ChecksOf,
    copies: &HashMap<(i64, i64), crate::snapshot::propagation::Copy>,
    now: i64,
) -> SnapDirectory {
    let mut out = SnapDirectory::default();
    let Some(&store_id) = input.directory_ids.get(&d.path) else {
        return out;
    };
    let empty = Vec::new();
    let history = input.history.get(&store_id).unwrap_or(&empty);
    out.versions = alternates(
        history,
        now,
        input.catalog.alternates_window_secs(),
        input.expired.get(&store_id).copied(),
    )
    .iter()
    .map(Version::from)
    .collect();
    if d.vault_only {
        return out;
    }
    let of_directory: Vec<(u32, &crate::snapshot::propagation::Copy)> = mirrors
        .iter()
        .enumerate()
        .filter_map(|(at, j)| copies.get(&(j.id, store_id)).map(|c| (at as u32, c)))
        .collect();
    out.propagation = crate::snapshot::propagation::report(history, 0, &of_directory);
    let none = HashMap::new();
    let checks = checks.get(&store_id).unwrap_or(&none);
    for (at, j) in mirrors.iter().enumerate() {
        if j.verdict.refused.is_none() {
            serve(&mut out, at as u32, j, d, checks, history, now);
        }
    }
    out
}

/// Mirror `at` in directory `out`: served over the protocols its checks hold up, refused
/// over the others with the reason.
#[allow(clippy::too_many_arguments)]
fn serve(
    out: &mut SnapDirectory,
    at: u32,
    j: &Judged,
    d: &crate::catalog::Directory,
    checks: &HashMap<(i64, Protocol), &DirCheck>,
    history: &[RepomdVersion],
    now: i64,
) {
    let (mut protocols, mut held, mut behind) = (0u8, 0u8, u8::MAX);
    for &p in &j.verdict.protocols {
        if j.mirror.base_url(d.module.as_deref(), p).is_none() {
            continue;
        }
        let verdict = if j.mirror.checked {
            directory_verdict(
                checks.get(&(j.id, p)).copied(),
                &out.versions,
                history,
                j.content_up,
                now,
            )
        } else {
            Ok((0, false))
        };
        match verdict {
            Ok((k, was_held)) => {
                protocols |= protocol_bit(p);
                if was_held {
                    held |= protocol_bit(p);
                }
                behind = behind.min(k);
            }
            Err(reason) => out.refused.push(DirRefused {
                mirror: at,
                protocol: p,
                reason,
            }),
        }
    }
    if protocols != 0 {
        out.mirrors.push(DirMirror {
            mirror: at,
            protocols,
            behind,
            held,
        });
    }
}
