//! A mirror's recent history, as the checker records it and the status pages show it: its
//! capabilities' state changes, when it was last checked and synced, recent check errors,
//! and its availability: the share of the time, of that during which its state was known,
//! that at least one of its web protocols was up by the health rule.

use crate::model::HealthState;
use serde::{Deserialize, Serialize};

/// One state change of a capability (`http`, `https`, `ipv4`, `ipv6`, `content`, `sync`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub capability: String,
    pub from: HealthState,
    pub to: HealthState,
    pub reason: String,
    pub at: i64,
}

/// A stretch of time and whether the mirror was up through it (`None`: not known yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub from: i64,
    pub to: i64,
    pub up: Option<bool>,
}

/// A capability's state now, since when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capability {
    pub capability: String,
    pub state: HealthState,
    pub since: i64,
    pub reason: String,
}

/// What the snapshot carries of a mirror's history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub sponsor: String,
    pub sponsor_url: Option<String>,
    /// Every capability's state after the health rule, by name.
    pub capabilities: Vec<Capability>,
    /// When the checker last checked it.
    pub checked_at: Option<i64>,
    /// When it last synced, by its TIME file.
    pub synced_at: Option<i64>,
    /// Share of the last 24 hours and 7 days it was up (of the time its state was known).
    pub availability_24h: Option<f64>,
    pub availability_7d: Option<f64>,
    /// Mean time, in seconds, from the master publishing a version of a directory it
    /// carries until it served it, over the versions published in the last 24 hours (7
    /// days); see [`super::propagation`]. `None` when none was published or none can be
    /// told.
    pub mean_lag_24h: Option<i64>,
    pub mean_lag_7d: Option<i64>,
    /// The last 7 days as spans, oldest first (a small chart).
    pub timeline: Vec<Span>,
    /// Its capabilities' state changes within 7 days, newest first, at most [`MAX_CHANGES`].
    pub changes: Vec<Change>,
    /// Recent check errors: (directory, protocol, error), at most [`MAX_ERRORS`].
    pub errors: Vec<(String, String, String)>,
}

pub const DAY: i64 = 86_400;
pub const WEEK: i64 = 7 * DAY;
pub const MAX_CHANGES: usize = 20;
pub const MAX_ERRORS: usize = 5;

/// The mirror's web-protocol state over `[now - window, now]`: spans of up, down or
/// unknown. `changes` are its capabilities' changes (any order); `current` the states of its
/// web capabilities now (`http`, `https`, those it has).
pub fn timeline(
    changes: &[Change],
    current: &[(String, HealthState)],
    now: i64,
    window: i64,
) -> Vec<Span> {
    let start = now - window;
    let web: Vec<&str> = current.iter().map(|(c, _)| c.as_str()).collect();
    let mut relevant: Vec<&Change> = changes
        .iter()
        .filter(|c| web.contains(&c.capability.as_str()) && c.at > start && c.at <= now)
        .collect();
    relevant.sort_by_key(|c| c.at);
    // Each capability's state at the window's start: the `from` of its first change inside
    // it, or its state now when it did not change.
    let mut state: Vec<(String, HealthState)> = current
        .iter()
        .map(|(cap, now_state)| {
            let first = relevant.iter().find(|c| &c.capability == cap);
            (cap.clone(), first.map_or(*now_state, |c| c.from))
        })
        .collect();
    let summary = |state: &[(String, HealthState)]| -> Option<bool> {
        if state.iter().any(|(_, s)| *s == HealthState::Up) {
            Some(true)
        } else if state.iter().any(|(_, s)| *s == HealthState::Down) {
            Some(false)
        } else {
            None
        }
    };
    let mut spans: Vec<Span> = Vec::new();
    let mut at = start;
    let mut up = summary(&state);
    for c in relevant {
        if let Some(s) = state.iter_mut().find(|(cap, _)| *cap == c.capability) {
            s.1 = c.to;
        }
        let next = summary(&state);
        if next != up {
            if c.at > at {
                spans.push(Span {
                    from: at,
                    to: c.at,
                    up,
                });
            }
            at = c.at;
            up = next;
        }
    }
    if now > at {
        spans.push(Span {
            from: at,
            to: now,
            up,
        });
    }
    spans
}

/// The share of known time that was up, `None` when nothing is known.
pub fn availability(spans: &[Span]) -> Option<f64> {
    let (mut up, mut known) = (0i64, 0i64);
    for s in spans {
        if let Some(u) = s.up {
            known += s.to - s.from;
            if u {
                up += s.to - s.from;
            }
        }
    }
    (known > 0).then(|| up as f64 / known as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use HealthState::{Down, Unknown, Up};

    fn change(capability: &str, from: HealthState, to: HealthState, at: i64) -> Change {
        Change {
            capability: capability.into(),
            from,
            to,
            reason: String::new(),
            at,
        }
    }

    #[test]
    fn availability_counts_the_time_any_web_protocol_was_up() {
        let now = 10 * DAY;
        let web = |http, https| vec![("http".to_string(), http), ("https".to_string(), https)];
        // Up all along: no change inside the window.
        let t = timeline(&[], &web(Up, Up), now, DAY);
        assert_eq!(availability(&t), Some(1.0));
        // HTTPS down for the last 6 hours while HTTP stayed up: still up.
        let t = timeline(
            &[change("https", Up, Down, now - 6 * 3600)],
            &web(Up, Down),
            now,
            DAY,
        );
        assert_eq!(availability(&t), Some(1.0));
        // Both down for 6 of the last 24 hours.
        let changes = [
            change("http", Up, Down, now - 12 * 3600),
            change("https", Up, Down, now - 12 * 3600),
            change("http", Down, Up, now - 6 * 3600),
            change("https", Down, Up, now - 6 * 3600),
        ];
        let t = timeline(&changes, &web(Up, Up), now, DAY);
        assert_eq!(availability(&t), Some(0.75));
        assert_eq!(
            t,
            vec![
                Span {
                    from: now - DAY,
                    to: now - 12 * 3600,
                    up: Some(true)
                },
                Span {
                    from: now - 12 * 3600,
                    to: now - 6 * 3600,
                    up: Some(false)
                },
                Span {
                    from: now - 6 * 3600,
                    to: now,
                    up: Some(true)
                },
            ]
        );
        // First checked 6 hours ago, down since: only the known time counts.
        let changes = [
            change("http", Unknown, Down, now - 6 * 3600),
            change("https", Unknown, Down, now - 6 * 3600),
        ];
        let t = timeline(&changes, &web(Down, Down), now, WEEK);
        assert_eq!(availability(&t), Some(0.0));
        assert_eq!(t[0].up, None);
        // Never checked: nothing known.
        assert_eq!(
            availability(&timeline(&[], &web(Unknown, Unknown), now, DAY)),
            None
        );
        // Changes of other capabilities, or older than the window, change nothing.
        let changes = [
            change("ipv6", Up, Down, now - 3600),
            change("http", Down, Up, now - 30 * DAY),
        ];
        assert_eq!(
            availability(&timeline(&changes, &web(Up, Up), now, DAY)),
            Some(1.0)
        );
    }
}
