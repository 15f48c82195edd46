//! Which of a mirror's directories a check looks at: a polite schedule for the open
//! Internet. Every check reads the mirror's `TIME` file over each web protocol (its health,
//! and when it last synced); a directory's repomd.xml is fetched only when
//!
//! - it was never checked, or the operator asked for a full recheck;
//! - the master published a version the mirror's copy was not seen holding: at the first
//!   check after the publication, then at doubling intervals from it (at least `base`
//!   apart) until it is, and at once when the mirror's `TIME` file says it synced since;
//! - its last check failed, or found a copy matching no version or half-synced: every check;
//! - the sweep is due: every directory is looked at again after `sweep` (a copy removed or
//!   damaged without a new version, a directory that went missing or came back).
//!
//! On an unchanged network that is a handful of requests per mirror per check instead of one
//! per directory and protocol; after a publication, a mirror that did not sync is seen behind
//! at its next check, one that did is seen current as soon as it says so.

use super::Seen;
use shared::model::CheckOutcome;

/// When the schedule looks at one directory over one protocol.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The first interval after a publication, doubled while the copy is not current.
    pub base: i64,
    /// Every directory is looked at again after this; 0: every check looks at every one.
    pub sweep: i64,
}

/// The master's current version of a directory: its checksum and when it was published.
#[derive(Debug, Clone, Copy)]
pub struct Master<'a> {
    pub sha256: &'a str,
    pub published: i64,
}

/// Whether a check at `now` fetches this directory's repomd.xml, given what its last check
/// saw (`None`: never checked) and whether the mirror synced since (its `TIME` file
/// changed).
pub fn due(
    rule: Rule,
    previous: Option<&Seen>,
    master: Option<Master<'_>>,
    synced_since: bool,
    now: i64,
) -> bool {
    let Some(p) = previous else {
        return true;
    };
    let Some(checked) = p.checked_at else {
        return true;
    };
    let age = now - checked;
    if rule.sweep <= 0 || age >= rule.sweep {
        return true;
    }
    match p.outcome {
        None => true,
        // A tree the mirror does not carry: the sweep will see it come.
        Some(CheckOutcome::Missing) => false,
        Some(CheckOutcome::Error | CheckOutcome::Unknown | CheckOutcome::Incomplete) => true,
        Some(CheckOutcome::Current | CheckOutcome::Behind) => {
            let Some(m) = master else {
                return false;
            };
            if p.sha256.as_deref() == Some(m.sha256) {
                return false;
            }
            // Not seen holding the current version: at the first check after the
            // publication, at once after a sync, else at doubling intervals from the
            // publication, at least half a base apart (slack for the daemon's jitter).
            if checked < m.published || synced_since {
                return true;
            }
            age >= (checked - m.published).max(rule.base / 2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = 60;
    const RULE: Rule = Rule {
        base: 15 * M,
        sweep: 6 * 60 * M,
    };

    fn seen(outcome: CheckOutcome, sha: &str, checked_at: i64) -> Seen {
        Seen {
            sha256: Some(sha.into()),
            timestamp: None,
            etag: None,
            last_modified: None,
            outcome: Some(outcome),
            checked_at: Some(checked_at),
        }
    }

    #[test]
    fn an_unchanged_current_copy_waits_for_the_sweep() {
        let master = Some(Master {
            sha256: "new",
            published: 0,
        });
        let p = seen(CheckOutcome::Current, "new", 1000);
        assert!(!due(RULE, Some(&p), master, false, 1000 + 15 * M));
        assert!(
            !due(RULE, Some(&p), master, true, 1000 + 15 * M),
            "a sync alone"
        );
        assert!(due(RULE, Some(&p), master, false, 1000 + 6 * 60 * M));
        assert!(due(RULE, None, master, false, 0), "never checked");
        let every = Rule { sweep: 0, ..RULE };
        assert!(
            due(every, Some(&p), master, false, 1001),
            "no sweep: always"
        );
    }

    #[test]
    fn after_a_publication_the_copy_is_checked_at_doubling_intervals_until_current() {
        let published = 100_000;
        let master = Some(Master {
            sha256: "new",
            published,
        });
        // Last seen on the old version before the publication: due at the next check.
        let before = seen(CheckOutcome::Current, "old", published - 5 * M);
        assert!(due(RULE, Some(&before), master, false, published + 10 * M));
        assert!(
            due(RULE, Some(&before), master, false, published + 30),
            "whatever the daemon's interval"
        );
        // Seen behind 15 min after: due again 15 min later, not before.
        let once = seen(CheckOutcome::Behind, "old", published + 15 * M);
        assert!(!due(RULE, Some(&once), master, false, published + 25 * M));
        assert!(due(RULE, Some(&once), master, false, published + 30 * M));
        // Seen behind 2 h after: next at 4 h; at once when the mirror synced.
        let later = seen(CheckOutcome::Behind, "old", published + 120 * M);
        assert!(!due(RULE, Some(&later), master, false, published + 200 * M));
        assert!(due(RULE, Some(&later), master, false, published + 240 * M));
        assert!(due(RULE, Some(&later), master, true, published + 135 * M));
        // Capped by the sweep.
        let day = seen(CheckOutcome::Behind, "old", published + 20 * 60 * M);
        assert!(due(
            RULE,
            Some(&day),
            master,
            false,
            published + 26 * 60 * M
        ));
    }

    #[test]
    fn failures_every_check_missing_trees_at_the_sweep() {
        for failed in [
            CheckOutcome::Error,
            CheckOutcome::Unknown,
            CheckOutcome::Incomplete,
        ] {
            assert!(due(RULE, Some(&seen(failed, "x", 0)), None, false, 15 * M));
        }
        let missing = seen(CheckOutcome::Missing, "x", 0);
        assert!(!due(RULE, Some(&missing), None, true, 15 * M));
        assert!(due(RULE, Some(&missing), None, false, 6 * 60 * M));
    }
}
