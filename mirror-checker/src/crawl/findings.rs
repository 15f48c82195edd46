//! Pure judgement: what a fetched repomd.xml means against the master's history, and what a
//! mirror's checks of one run say about each of its capabilities.

use crate::health::Finding;
use shared::duration::human_age;
use shared::model::CheckOutcome;
use shared::model::RepomdVersion;
use shared::registry::Protocol;
use std::collections::{BTreeMap, HashMap, HashSet};
use store::CheckRecord;

/// How the errors of checks the breaker skipped begin.
pub const SKIPPED: &str = "not tried:";

/// Where a copy with `sha256` (and repomd `timestamp`, when read) stands against `history`
/// (newest first): the outcome, how many versions behind, and for how long the first newer
/// version it lacks has been published. A copy the master never showed the checker, whose
/// timestamp lies between two versions it did, is an intermediate version (the master
/// published twice between two scans): behind, not unknown.
pub fn classify(
    history: &[RepomdVersion],
    sha256: &str,
    timestamp: Option<i64>,
    now: i64,
) -> (CheckOutcome, Option<i64>, Option<i64>) {
    let behind = |k: usize| {
        (
            CheckOutcome::Behind,
            Some(k as i64),
            Some(now.saturating_sub(history[k - 1].first_seen)),
        )
    };
    match history.iter().position(|v| v.sha256 == sha256) {
        Some(0) => (CheckOutcome::Current, Some(0), Some(0)),
        Some(k) => behind(k),
        None => {
            let Some(t) = timestamp else {
                return (CheckOutcome::Unknown, None, None);
            };
            // Newer versions than the copy, and whether an older known one exists.
            let k = history.iter().take_while(|v| v.timestamp > t).count();
            if k > 0 && k < history.len() && history[k].timestamp < t {
                behind(k)
            } else {
                (CheckOutcome::Unknown, None, None)
            }
        }
    }
}

/// A protocol is healthy when most of its checks got an answer (even a 404) rather than a
/// transport or server failure; the reason names the most common failure.
pub fn protocol_finding(protocol: Protocol, checks: &[&CheckRecord]) -> Option<Finding> {
    if checks.is_empty() {
        return None;
    }
    let failed: Vec<&&CheckRecord> = checks
        .iter()
        .filter(|c| c.outcome == CheckOutcome::Error)
        .collect();
    let answered = checks.len() - failed.len();
    if failed.len() <= answered {
        let detail = if failed.is_empty() {
            format!("{protocol}: {answered} directories answered")
        } else {
            format!(
                "{protocol}: {answered} directories answered, {} failed",
                failed.len()
            )
        };
        return Some(Finding {
            ok: true,
            reason: detail,
        });
    }
    // Checks the breaker skipped repeat an earlier failure: name that one.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for c in failed
        .iter()
        .filter(|c| !c.error.as_deref().unwrap_or("").starts_with(SKIPPED))
    {
        *counts
            .entry(c.error.as_deref().unwrap_or("failed"))
            .or_default() += 1;
    }
    if counts.is_empty() {
        for c in &failed {
            *counts
                .entry(c.error.as_deref().unwrap_or("failed"))
                .or_default() += 1;
        }
    }
    let (worst, _) = counts
        .iter()
        .max_by_key(|(_, n)| **n)
        .expect("failures exist");
    Some(Finding {
        ok: false,
        reason: format!("{protocol}: {worst}"),
    })
}

/// The content finding: ok when every directory the mirror carries holds the current version
/// or one still inside the alternates window. `servable` maps a directory id to those sha256s,
/// `paths` to its display path.
pub fn content_finding(
    checks: &[CheckRecord],
    servable: &HashMap<i64, HashSet<String>>,
    paths: &HashMap<i64, String>,
) -> Finding {
    // A directory is fine when any protocol found a servable copy.
    let mut fine: HashSet<i64> = HashSet::new();
    let mut worst: BTreeMap<i64, &CheckRecord> = BTreeMap::new();
    for c in checks {
        let ok = c.outcome != CheckOutcome::Incomplete
            && c.sha256_seen.as_ref().is_some_and(|s| {
                servable
                    .get(&c.directory_id)
                    .is_some_and(|set| set.contains(s))
            });
        if ok {
            fine.insert(c.directory_id);
        } else {
            worst.entry(c.directory_id).or_insert(c);
        }
    }
    worst.retain(|d, _| !fine.contains(d));
    let total = fine.len() + worst.len();
    if worst.is_empty() {
        let behind = checks
            .iter()
            .filter(|c| c.outcome == CheckOutcome::Behind)
            .map(|c| c.directory_id)
            .collect::<HashSet<_>>()
            .len();
        let reason = if behind == 0 {
            format!("all {total} directories current")
        } else {
            format!("{total} directories servable, {behind} of them one or more versions behind within the alternates window")
        };
        return Finding { ok: true, reason };
    }
    // Report the most telling problem first: stale content, then missing, then errors.
    let rank = |c: &CheckRecord| match c.outcome {
        CheckOutcome::Behind | CheckOutcome::Unknown => 0,
        CheckOutcome::Missing | CheckOutcome::Incomplete => 1,
        _ => 2,
    };
    let first = worst
        .values()
        .min_by_key(|c| (rank(c), c.directory_id))
        .expect("problems exist");
    let path = paths.get(&first.directory_id).map_or("?", String::as_str);
    let what = match first.outcome {
        CheckOutcome::Behind => format!(
            "{path}: {} versions behind for {}",
            first.versions_behind.unwrap_or(0),
            human_age(first.lag_seconds.unwrap_or(0).max(0) as u64)
        ),
        CheckOutcome::Unknown => {
            format!("{path}: repomd.xml matches no version the master published")
        }
        CheckOutcome::Missing => format!(
            "{path}: missing (HTTP {})",
            first.http_status.unwrap_or(404)
        ),
        CheckOutcome::Incomplete => format!(
            "{path}: half-synced: {}",
            first.error.as_deref().unwrap_or("files missing")
        ),
        _ => format!(
            "{path}: {}",
            first.error.as_deref().unwrap_or("check failed")
        ),
    };
    let more = worst.len() - 1;
    let reason = if more == 0 {
        what
    } else {
        format!("{what} (and {more} more of {total} directories)")
    };
    Finding { ok: false, reason }
}

/// The sync finding from the mirror's TIME file: its age against `limit`, or, when the
/// file says no sync time, never up: "unknown: TIME file says …".
pub fn sync_finding(age: Option<i64>, problem: Option<&str>, limit: i64) -> Option<Finding> {
    if let Some(why) = problem {
        return Some(Finding {
            ok: false,
            reason: format!("unknown: TIME file says {why}"),
        });
    }
    let age = age?;
    let ok = age <= limit;
    let old = human_age(age.max(0) as u64);
    let reason = if ok {
        format!("TIME file {old} old")
    } else {
        format!(
            "TIME file {old} old, over the {} limit",
            human_age(limit as u64)
        )
    };
    Some(Finding { ok, reason })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::model::Family;

    fn v(n: i64, first_seen: i64) -> RepomdVersion {
        RepomdVersion {
            size: 1,
            timestamp: first_seen - 10,
            md5: String::new(),
            sha1: String::new(),
            sha256: format!("s{n}"),
            sha512: String::new(),
            first_seen,
        }
    }

    fn rec(
        dir: i64,
        outcome: CheckOutcome,
        sha: Option<&str>,
        behind: Option<i64>,
        lag: Option<i64>,
        error: Option<&str>,
    ) -> CheckRecord {
        CheckRecord {
            mirror_id: 1,
            directory_id: dir,
            protocol: Protocol::Https,
            family: Family::Any,
            outcome,
            sha256_seen: sha.map(str::to_string),
            versions_behind: behind,
            lag_seconds: lag,
            http_status: Some(if outcome == CheckOutcome::Missing {
                404
            } else {
                200
            }),
            latency_ms: None,
            bytes: 0,
            etag: None,
            last_modified: None,
            checked_at: 0,
            error: error.map(str::to_string),
            timestamp_seen: None,
            good_sha256: None,
            good_at: None,
        }
    }

    #[test]
    fn classification_against_history() {
        let history = vec![v(3, 1000), v(2, 500), v(1, 100)];
        assert_eq!(
            classify(&history, "s3", None, 2000),
            (CheckOutcome::Current, Some(0), Some(0))
        );
        assert_eq!(
            classify(&history, "s2", None, 2000),
            (CheckOutcome::Behind, Some(1), Some(1000))
        );
        assert_eq!(
            classify(&history, "s1", None, 2000),
            (CheckOutcome::Behind, Some(2), Some(1500))
        );
        assert_eq!(
            classify(&history, "zz", None, 2000),
            (CheckOutcome::Unknown, None, None)
        );
        assert_eq!(classify(&[], "s1", None, 2000).0, CheckOutcome::Unknown);
    }

    /// The master published s2.5 and s3 between two scans: a mirror holding s2.5 is one
    /// version behind (s3), not unknown. Copies outside the known range stay unknown.
    #[test]
    fn an_intermediate_version_is_behind() {
        let history = vec![v(3, 1000), v(2, 500), v(1, 100)];
        assert_eq!(
            classify(&history, "s2.5", Some(700), 2000),
            (CheckOutcome::Behind, Some(1), Some(1000))
        );
        assert_eq!(
            classify(&history, "s1.5", Some(300), 2000),
            (CheckOutcome::Behind, Some(2), Some(1500))
        );
        assert_eq!(
            classify(&history, "s4", Some(5000), 2000).0,
            CheckOutcome::Unknown,
            "newer than anything the master published"
        );
        assert_eq!(
            classify(&history, "s0", Some(10), 2000).0,
            CheckOutcome::Unknown,
            "older than anything known"
        );
        assert_eq!(
            classify(&history, "s2-again", Some(490), 2000).0,
            CheckOutcome::Unknown,
            "the timestamp of a known version with other content"
        );
    }

    #[test]
    fn verdicts_speak_an_operators_language() {
        let paths: HashMap<i64, String> = (1..=3)
            .map(|d| (d, format!("9.8/R{d}/x86_64/os")))
            .collect();
        let servable: HashMap<i64, HashSet<String>> = (1..=3)
            .map(|d| (d, HashSet::from(["s3".to_string(), "s2".to_string()])))
            .collect();
        let all_current: Vec<CheckRecord> = (1..=3)
            .map(|d| rec(d, CheckOutcome::Current, Some("s3"), Some(0), Some(0), None))
            .collect();
        assert_eq!(
            content_finding(&all_current, &servable, &paths),
            Finding {
                ok: true,
                reason: "all 3 directories current".into()
            }
        );
        let mut stale = all_current.clone();
        stale[1] = rec(
            2,
            CheckOutcome::Behind,
            Some("s1"),
            Some(2),
            Some(14 * 3600),
            None,
        );
        stale[2] = rec(3, CheckOutcome::Missing, None, None, None, None);
        let finding = content_finding(&stale, &servable, &paths);
        assert_eq!(
            finding,
            Finding {
                ok: false,
                reason:
                    "9.8/R2/x86_64/os: 2 versions behind for 14 h (and 1 more of 3 directories)"
                        .into()
            }
        );

        let tls: Vec<CheckRecord> = (1..=3)
            .map(|d| {
                rec(
                    d,
                    CheckOutcome::Error,
                    None,
                    None,
                    None,
                    Some("TLS: certificate expired"),
                )
            })
            .collect();
        let refs: Vec<&CheckRecord> = tls.iter().collect();
        assert_eq!(
            protocol_finding(Protocol::Https, &refs),
            Some(Finding {
                ok: false,
                reason: "https: TLS: certificate expired".into()
            })
        );
        let refs: Vec<&CheckRecord> = stale.iter().collect();
        assert!(
            protocol_finding(Protocol::Https, &refs).unwrap().ok,
            "404s are answers"
        );
        assert_eq!(protocol_finding(Protocol::Http, &[]), None);
    }

    /// A TIME file that says no sync time is never "sync up" (it read "-1e30" as i64::MIN,
    /// "0 s old", before).
    #[test]
    fn an_unreadable_time_file_is_never_sync_up() {
        let now = 1_796_000_000;
        for body in ["-1e30", "NaN", "99999999999999999999999", "1827536000"] {
            let problem = match crate::upstream::time_file(body.as_bytes(), now) {
                crate::upstream::TimeFile::Unreadable(why) => why,
                other => panic!("{body:?}: {other:?}"),
            };
            let f = sync_finding(None, Some(&problem), 86_400).unwrap();
            assert!(!f.ok, "{body:?}: {f:?}");
            assert!(f.reason.starts_with("unknown: TIME file says "), "{f:?}");
        }
        assert!(sync_finding(Some(60), None, 86_400).unwrap().ok);
        assert!(!sync_finding(Some(90_000), None, 86_400).unwrap().ok);
        assert_eq!(sync_finding(None, None, 86_400), None);
    }
}
