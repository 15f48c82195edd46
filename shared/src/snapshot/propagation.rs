//! How long the master's versions take to reach the mirrors. The checker records when each
//! mirror was first seen serving each version ([`Arrival`]); a version's lag on a mirror is
//! the time from the master publishing it until the mirror served it or a newer one, or,
//! while it has neither, until now. A mirror's mean lag over a window is the mean over the
//! versions published in it (Arch Linux's mirror status calls its analogue "delay").

use crate::model::RepomdVersion;
use serde::{Deserialize, Serialize};

/// A mirror first seen serving a version of a directory's repomd.xml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    pub mirror_id: i64,
    pub directory_id: i64,
    pub sha256: String,
    pub at: i64,
    /// Seen arriving; `false` when it was already there when the checker looked, so `at`
    /// is only when watching began.
    pub observed: bool,
}

/// A mirror's copy of one directory as [`lags`] reads it: when it first served versions
/// (index into the directory's history, newest first; first-served time), since when the
/// checker has watched it, and the version it holds now by its latest check (`None` when
/// that check saw none the master published: missing, failed, or an intermediate copy).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copy {
    pub arrivals: Vec<(usize, i64)>,
    pub watched_from: Option<i64>,
    pub holds: Option<usize>,
}

impl Copy {
    /// Adds an arrival of the version at `index` in the directory's history.
    pub fn add(&mut self, index: usize, arrival: &Arrival) {
        self.arrivals.push((index, arrival.at));
        if !arrival.observed {
            self.watched_from = Some(self.watched_from.map_or(arrival.at, |w| w.min(arrival.at)));
        }
    }
}

/// The lag of each version of `history` (newest first) the master published within
/// `(now - window, now]`, on a mirror whose copy is `copy`. A version published before the
/// checker began watching the copy, or in the same second (the mirror may have had it all
/// along), is left out; so is one the mirror's latest check cannot speak for.
pub fn lags(history: &[RepomdVersion], copy: &Copy, now: i64, window: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let Some(watched_from) = copy.watched_from else {
        return out;
    };
    for (i, v) in history.iter().enumerate() {
        if v.first_seen <= now - window || v.first_seen <= watched_from {
            break;
        }
        if v.first_seen > now {
            continue;
        }
        // It or a newer one (a mirror may skip a version by syncing after the next).
        let arrived = copy
            .arrivals
            .iter()
            .filter(|(k, _)| *k <= i)
            .map(|(_, at)| *at)
            .min();
        match (arrived, copy.holds) {
            (Some(at), _) => out.push((at - v.first_seen).max(0)),
            (None, Some(held)) if held > i => out.push(now - v.first_seen),
            _ => {}
        }
    }
    out
}

/// How one version reached the mirrors: of those watched since before its publication
/// (whose arrival can be timed), how many serve it or a newer one, and how long after the
/// publication 50%, 90% and 99% of them did (`None` while not reached).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Propagation {
    /// The version's repomd.xml checksum and when the master published it.
    pub sha256: String,
    pub published_at: i64,
    pub carriers: u32,
    pub arrived: u32,
    pub p50: Option<i64>,
    pub p90: Option<i64>,
    pub p99: Option<i64>,
    /// The carriers that do not serve it yet (the caller's mirror keys), sorted.
    pub behind: Vec<u32>,
}

/// The propagation of the version at `index` in `history` (newest first) over `copies`
/// (mirror key, its copy of the directory).
pub fn report(
    history: &[RepomdVersion],
    index: usize,
    copies: &[(u32, &Copy)],
) -> Option<Propagation> {
    let v = history.get(index)?;
    let mut delays = Vec::new();
    let mut behind = Vec::new();
    let mut carriers = 0u32;
    for (key, copy) in copies {
        if copy.watched_from.is_none_or(|w| w >= v.first_seen) {
            continue;
        }
        carriers += 1;
        let arrived = copy
            .arrivals
            .iter()
            .filter(|(k, _)| *k <= index)
            .map(|(_, at)| *at)
            .min();
        match arrived {
            Some(at) => delays.push((at - v.first_seen).max(0)),
            None => behind.push(*key),
        }
    }
    delays.sort_unstable();
    behind.sort_unstable();
    let within = |share: f64| {
        let need = ((share * f64::from(carriers)).ceil() as usize).max(1);
        (carriers > 0 && delays.len() >= need).then(|| delays[need - 1])
    };
    Some(Propagation {
        sha256: v.sha256.clone(),
        published_at: v.first_seen,
        carriers,
        arrived: delays.len() as u32,
        p50: within(0.5),
        p90: within(0.9),
        p99: within(0.99),
        behind,
    })
}

/// The mean of lags, in whole seconds; `None` for none.
pub fn mean(lags: &[i64]) -> Option<i64> {
    (!lags.is_empty()).then(|| lags.iter().sum::<i64>() / lags.len() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;
    const NOW: i64 = 1_000 * H;

    fn history(published_hours_ago: &[i64]) -> Vec<RepomdVersion> {
        published_hours_ago
            .iter()
            .map(|ago| RepomdVersion {
                size: 1,
                timestamp: NOW - ago * H,
                md5: String::new(),
                sha1: String::new(),
                sha256: format!("v{ago}"),
                sha512: String::new(),
                first_seen: NOW - ago * H,
            })
            .collect()
    }

    #[test]
    fn a_version_lags_until_the_mirror_first_serves_it() {
        // Versions published 10 h and 30 h ago. Watched since 25 h ago, when it already held
        // the older one; the newer one it served 3 h after its publication.
        let h = history(&[10, 30]);
        let copy = Copy {
            arrivals: vec![(1, NOW - 25 * H), (0, NOW - 7 * H)],
            watched_from: Some(NOW - 25 * H),
            holds: Some(0),
        };
        assert_eq!(lags(&h, &copy, NOW, 24 * H), vec![3 * H]);
        // The older one was published before the checker watched: left out.
        assert_eq!(lags(&h, &copy, NOW, 48 * H), vec![3 * H]);
        // Watched since before it, and seen arriving 2 h after its publication.
        let watched_earlier = Copy {
            arrivals: vec![(2, NOW - 31 * H), (1, NOW - 28 * H), (0, NOW - 7 * H)],
            watched_from: Some(NOW - 31 * H),
            holds: Some(0),
        };
        assert_eq!(lags(&h, &watched_earlier, NOW, 48 * H), vec![3 * H, 2 * H]);
    }

    #[test]
    fn a_version_not_served_yet_lags_until_now() {
        let h = history(&[5, 20]);
        let copy = Copy {
            arrivals: vec![(1, NOW - 19 * H)],
            watched_from: Some(NOW - 21 * H),
            holds: Some(1),
        };
        assert_eq!(lags(&h, &copy, NOW, 24 * H), vec![5 * H, H]);
        assert_eq!(mean(&lags(&h, &copy, NOW, 24 * H)), Some(3 * H));
    }

    #[test]
    fn a_skipped_version_ends_when_a_newer_one_arrives() {
        // Versions 12 h and 8 h ago; the mirror synced once, 2 h ago, getting the newest.
        let h = history(&[8, 12]);
        let copy = Copy {
            arrivals: vec![(2, NOW - 20 * H), (0, NOW - 2 * H)],
            watched_from: Some(NOW - 20 * H),
            holds: Some(0),
        };
        assert_eq!(lags(&h, &copy, NOW, 24 * H), vec![6 * H, 10 * H]);
    }

    #[test]
    fn what_the_checker_cannot_know_is_left_out() {
        let h = history(&[5, 9]);
        // Watched since 6 h ago, holding the older version: the newer one is lagging, the
        // older one it may have had all along.
        let mut watched = Copy::default();
        watched.add(
            1,
            &Arrival {
                mirror_id: 1,
                directory_id: 1,
                sha256: "v9".into(),
                at: NOW - 6 * H,
                observed: false,
            },
        );
        watched.holds = Some(1);
        assert_eq!(watched.watched_from, Some(NOW - 6 * H));
        assert_eq!(lags(&h, &watched, NOW, 24 * H), vec![5 * H]);
        // Watched from the second of its publication (one crawl scanned and checked).
        let same_second = Copy {
            arrivals: vec![(0, NOW - 5 * H)],
            watched_from: Some(NOW - 5 * H),
            holds: Some(0),
        };
        assert!(lags(&h, &same_second, NOW, 24 * H).is_empty());
        // Never watched (checked before arrivals were recorded, and unchanged since).
        let unwatched = Copy {
            holds: Some(1),
            ..Copy::default()
        };
        assert!(lags(&h, &unwatched, NOW, 24 * H).is_empty());
        // Its latest check failed: whether it has it now is not known.
        let failed = Copy {
            holds: None,
            ..watched
        };
        assert!(lags(&h, &failed, NOW, 24 * H).is_empty());
        assert_eq!(mean(&[]), None);
    }

    /// Ten mirrors watched since before a publication, arriving 1..=9 hours after it, one
    /// not yet; one watched only since after it does not count.
    #[test]
    fn a_report_gives_the_times_to_shares_of_the_carriers() {
        let h = history(&[20, 40]);
        let published = NOW - 20 * H;
        let mut copies: Vec<Copy> = (1..=9)
            .map(|n| Copy {
                arrivals: vec![(1, NOW - 30 * H), (0, published + n * H)],
                watched_from: Some(NOW - 30 * H),
                holds: Some(0),
            })
            .collect();
        copies.push(Copy {
            arrivals: vec![(1, NOW - 30 * H)],
            watched_from: Some(NOW - 30 * H),
            holds: Some(1),
        });
        copies.push(Copy {
            arrivals: vec![(0, NOW - H)],
            watched_from: Some(NOW - H),
            holds: Some(0),
        });
        // Watched from the very second of the publication (the scan that found it and the
        // mirror's first check in one crawl): what it held then says nothing of an arrival.
        copies.push(Copy {
            arrivals: vec![(0, published)],
            watched_from: Some(published),
            holds: Some(0),
        });
        let keyed: Vec<(u32, &Copy)> = copies
            .iter()
            .enumerate()
            .map(|(i, c)| (i as u32, c))
            .collect();
        let r = report(&h, 0, &keyed).unwrap();
        assert_eq!((r.carriers, r.arrived), (10, 9));
        assert_eq!((r.p50, r.p90, r.p99), (Some(5 * H), Some(9 * H), None));
        assert_eq!(r.behind, vec![9]);
        assert_eq!(r.published_at, published);
        // The older version: everyone watched had it from the start (arrival at watching).
        let older = report(&h, 1, &keyed).unwrap();
        assert_eq!(
            older.carriers, 0,
            "nobody was watched before its publication"
        );
        assert_eq!(older.p50, None);
        assert!(report(&h, 2, &keyed).is_none());
    }
}
