//! Health with hysteresis: one failed probe does not drop a mirror and one success does not
//! readmit it. A mirror never seen before is admitted at its first success and refused at its
//! first failure; after that a state changes only after `down_after` failures or `up_after`
//! successes in a row. Pure: previous record and this run's finding in, next record out.

use serde::Deserialize;
use shared::model::HealthState;
use store::{HealthEvent, HealthRecord};

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Failed runs in a row that take an up capability down.
    pub down_after: u32,
    /// Successful runs in a row that bring a down capability back up.
    pub up_after: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            down_after: 2,
            up_after: 2,
        }
    }
}

/// This run's finding on one capability of one mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub ok: bool,
    /// Why, in an operator's words: "https: certificate expired".
    pub reason: String,
}

pub fn step(
    mirror_id: i64,
    capability: &str,
    previous: Option<&HealthRecord>,
    finding: &Finding,
    thresholds: Thresholds,
    now: i64,
) -> (HealthRecord, Option<HealthEvent>) {
    let (state, since, mut ok_run, mut fail_run) = match previous {
        Some(p) => (p.state, p.since, p.consecutive_ok, p.consecutive_failed),
        None => (HealthState::Unknown, now, 0, 0),
    };
    if finding.ok {
        ok_run += 1;
        fail_run = 0;
    } else {
        fail_run += 1;
        ok_run = 0;
    }
    let next = match state {
        HealthState::Unknown => {
            if finding.ok {
                HealthState::Up
            } else {
                HealthState::Down
            }
        }
        HealthState::Up if !finding.ok && fail_run >= i64::from(thresholds.down_after) => {
            HealthState::Down
        }
        HealthState::Down if finding.ok && ok_run >= i64::from(thresholds.up_after) => {
            HealthState::Up
        }
        same => same,
    };
    let changed = next != state;
    // A finding quotes what a mirror sent: bounded and escaped before it is stored.
    let finding = &Finding {
        ok: finding.ok,
        reason: shared::text::reason(&finding.reason),
    };
    let reason = if changed || !finding.ok || state == HealthState::Down {
        match (state, next, finding.ok) {
            // Still down while recovering: say how far along.
            (HealthState::Down, HealthState::Down, true) => format!(
                "{} (recovering: {ok_run} of {} good runs)",
                finding.reason, thresholds.up_after
            ),
            (HealthState::Up, HealthState::Up, false) => format!(
                "{} ({fail_run} of {} failed runs before it is taken out)",
                finding.reason, thresholds.down_after
            ),
            _ => finding.reason.clone(),
        }
    } else {
        finding.reason.clone()
    };
    let record = HealthRecord {
        mirror_id,
        capability: capability.to_string(),
        state: next,
        since: if changed { now } else { since },
        reason: reason.clone(),
        consecutive_ok: ok_run,
        consecutive_failed: fail_run,
    };
    let event = changed.then(|| HealthEvent {
        mirror_id,
        capability: capability.to_string(),
        old_state: state,
        new_state: next,
        reason,
        at: now,
    });
    (record, event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(findings: &[bool]) -> Vec<(HealthState, bool)> {
        let mut prev: Option<HealthRecord> = None;
        let mut out = Vec::new();
        for (i, ok) in findings.iter().enumerate() {
            let finding = Finding {
                ok: *ok,
                reason: if *ok {
                    "ok".into()
                } else {
                    "https: timed out".into()
                },
            };
            let (rec, event) = step(
                1,
                "https",
                prev.as_ref(),
                &finding,
                Thresholds::default(),
                i as i64,
            );
            out.push((rec.state, event.is_some()));
            prev = Some(rec);
        }
        out
    }

    #[test]
    fn hysteresis() {
        use HealthState::*;
        assert_eq!(
            run(&[true]),
            vec![(Up, true)],
            "a new mirror is admitted at once"
        );
        assert_eq!(
            run(&[false]),
            vec![(Down, true)],
            "a new failing mirror is refused at once"
        );
        assert_eq!(
            run(&[true, false, true, false]),
            vec![(Up, true), (Up, false), (Up, false), (Up, false)],
            "isolated failures do not drop it"
        );
        assert_eq!(
            run(&[true, false, false]),
            vec![(Up, true), (Up, false), (Down, true)]
        );
        assert_eq!(
            run(&[false, true, false, true, true]),
            vec![
                (Down, true),
                (Down, false),
                (Down, false),
                (Down, false),
                (Up, true)
            ],
            "one success does not readmit it"
        );
    }

    #[test]
    fn reasons_say_what_happens_next() {
        let up = step(
            7,
            "https",
            None,
            &Finding {
                ok: true,
                reason: "ok".into(),
            },
            Thresholds::default(),
            100,
        )
        .0;
        let (rec, event) = step(
            7,
            "https",
            Some(&up),
            &Finding {
                ok: false,
                reason: "https: certificate expired".into(),
            },
            Thresholds::default(),
            200,
        );
        assert_eq!(
            rec.reason,
            "https: certificate expired (1 of 2 failed runs before it is taken out)"
        );
        assert!(event.is_none());
        assert_eq!(rec.since, 100);
        let (down, event) = step(
            7,
            "https",
            Some(&rec),
            &Finding {
                ok: false,
                reason: "https: certificate expired".into(),
            },
            Thresholds::default(),
            300,
        );
        assert_eq!(down.state, HealthState::Down);
        let event = event.unwrap();
        assert_eq!(
            (
                event.old_state,
                event.new_state,
                event.reason.as_str(),
                event.at
            ),
            (
                HealthState::Up,
                HealthState::Down,
                "https: certificate expired",
                300
            )
        );
        let (rec, _) = step(
            7,
            "https",
            Some(&down),
            &Finding {
                ok: true,
                reason: "ok".into(),
            },
            Thresholds::default(),
            400,
        );
        assert_eq!(rec.reason, "ok (recovering: 1 of 2 good runs)");
    }
}
