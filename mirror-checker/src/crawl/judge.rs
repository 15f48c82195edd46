//! Judging a crawl: the 70% rule (is the checker's own network failing?), then hysteresis
//! per mirror capability; and what each mirror cost.

use super::{CrawlConfig, CrawlInput, MirrorSummary};
use crate::health::{self, Thresholds};
use shared::model::CheckOutcome;
use shared::snapshot::Located;
use std::collections::BTreeMap;
use store::{CrawlRun, HealthEvent, HealthRecord, MirrorStats};

/// What a crawl did and decided.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub run: CrawlRun,
    /// What each mirror cost.
    pub stats: Vec<MirrorStats>,
    pub health: Vec<HealthRecord>,
    pub events: Vec<HealthEvent>,
    pub by_outcome: BTreeMap<CheckOutcome, usize>,
    /// Where each mirror reached was found (kept even when the run is set aside: an address
    /// does not depend on the checker's network being up).
    pub located: Vec<(i64, Located)>,
    /// Each fetched `subnets` URL's list, or why it failed (a failure keeps the last good
    /// list; kept even when the run is set aside, for the same reason).
    pub subnets: Vec<(i64, Result<Vec<ipnet::IpNet>, String>)>,
    /// Mirrors whose repomd.xml checks in this run all found a servable copy: they confirm
    /// a maintenance window that ended before the run.
    pub current: Vec<i64>,
}

/// The mirrors a daemon batch claimed from the shared schedule: completed in the crawl's
/// transaction.
pub struct Claimed<'a> {
    pub holder: &'a str,
    pub claims: &'a [store::Claim],
    pub schedule: store::Schedule,
}

/// Decides what a crawl changes: the 70% rule, then hysteresis per capability.
pub fn judge(
    input: &CrawlInput,
    summaries: &[MirrorSummary],
    recent: &[CrawlRun],
    config: &CrawlConfig,
    thresholds: Thresholds,
    started_at: i64,
    now: i64,
) -> Judgement {
    let all = summaries;
    let counted = counted(input, all);
    let summaries = &counted[..];
    let mut by_outcome: BTreeMap<CheckOutcome, usize> = BTreeMap::new();
    for (outcome, n) in summaries.iter().flat_map(|s| &s.by_outcome) {
        *by_outcome.entry(*outcome).or_default() += n;
    }
    let located: Vec<(i64, Located)> = all
        .iter()
        .filter_map(|s| Some((s.mirror_id, s.located.clone()?)))
        .collect();
    let subnets: Vec<(i64, Result<Vec<ipnet::IpNet>, String>)> = all
        .iter()
        .filter_map(|s| Some((s.mirror_id, s.subnets.clone()?)))
        .collect();
    let total: usize = by_outcome.values().sum();
    let errors = by_outcome.get(&CheckOutcome::Error).copied().unwrap_or(0);
    // On the polite schedule most of a mirror's checks are its TIME files: they count too.
    let time_checks: usize = summaries.iter().map(|s| s.time_checks as usize).sum();
    let time_failures: usize = summaries.iter().map(|s| s.time_failures as usize).sum();
    // The sample: this run, then the runs before it, newest first, until enough mirrors.
    let (mut mirrors, mut checks, mut failed, mut runs) = (
        summaries.len(),
        total + time_checks,
        errors + time_failures,
        1,
    );
    let since = started_at - config.ignore_window.as_secs() as i64;
    for r in recent.iter().filter(|r| r.started_at >= since) {
        if mirrors >= config.ignore_min_mirrors {
            break;
        }
        mirrors += r.mirrors.max(0) as usize;
        checks += r.checks.max(0) as usize;
        failed += r.errors.max(0) as usize;
        runs += 1;
    }
    let over = mirrors >= config.ignore_min_mirrors.max(1)
        && checks > 0
        && failed as f64 / checks as f64 > config.ignore_failure_ratio;
    // The checker's network failing fails every registration; a few failing is theirs.
    let spread = super::spread::spread(input, summaries);
    let clustered = spread.groups >= super::spread::MIN_GROUPS
        && spread.failing_share() <= config.ignore_failure_ratio;
    let ignored = over && !clustered;
    let mut run = CrawlRun {
        started_at,
        finished_at: now,
        mirrors: summaries.len() as i64,
        checks: total as i64,
        errors: errors as i64,
        not_modified: all.iter().map(|r| r.not_modified as i64).sum(),
        requests: all.iter().map(|r| r.requests as i64).sum(),
        bytes: all.iter().map(|r| r.bytes as i64).sum(),
        ignored,
        note: String::new(),
        checker: String::new(),
    };
    if ignored {
        let over_what = if runs == 1 {
            format!("{mirrors} mirrors")
        } else {
            format!(
                "{mirrors} mirrors in this run and the {} before it",
                runs - 1
            )
        };
        run.note = format!(
            "{failed} of {checks} checks of {over_what} failed (over {:.0}%): the checker's own network is the likely problem, so no mirror's state was changed; failing: {} of {} registrations; most failed: {}",
            config.ignore_failure_ratio * 100.0,
            spread.failing.len(),
            spread.groups,
            spread.worst_mirrors(5),
        );
        return Judgement {
            run,
            stats: Vec::new(),
            health: Vec::new(),
            events: Vec::new(),
            by_outcome,
            located,
            subnets,
            current: Vec::new(),
        };
    }
    if over {
        run.note = format!(
            "{failed} of {checks} checks failed (over {:.0}%), but on {} of {} registrations: {}; judged mirror by mirror, not as the checker's own network",
            config.ignore_failure_ratio * 100.0,
            spread.failing.len(),
            spread.groups,
            spread.failing_groups(5),
        );
    }
    let mut health = Vec::new();
    let mut events = Vec::new();
    for s in all {
        for (capability, finding) in &s.findings {
            if input.in_maintenance(s.mirror_id, capability) {
                continue;
            }
            let previous = input.health.get(&(s.mirror_id, capability.clone()));
            let (record, event) =
                health::step(s.mirror_id, capability, previous, finding, thresholds, now);
            health.push(record);
            events.extend(event);
        }
    }
    let stats = all
        .iter()
        .map(|s| MirrorStats {
            mirror_id: s.mirror_id,
            checked_at: started_at,
            requests: s.requests as i64,
            bytes: s.bytes as i64,
            not_modified: s.not_modified as i64,
            sync_age: s.sync_age,
            redirects_to: s.redirects_to.clone(),
        })
        .collect();
    Judgement {
        run,
        stats,
        health,
        events,
        by_outcome,
        located,
        subnets,
        current: all
            .iter()
            .filter(|s| found_current(s))
            .map(|s| s.mirror_id)
            .collect(),
    }
}

/// The summaries the 70% rule counts: a mirror wholly in maintenance is expected to fail and
/// does not speak for the checker's network. Copied only when there is such a mirror (most
/// crawls have none).
fn counted<'a>(
    input: &CrawlInput,
    all: &'a [MirrorSummary],
) -> std::borrow::Cow<'a, [MirrorSummary]> {
    let resting = |s: &MirrorSummary| input.in_maintenance(s.mirror_id, "");
    if all.iter().any(resting) {
        all.iter()
            .filter(|s| !resting(s))
            .cloned()
            .collect::<Vec<_>>()
            .into()
    } else {
        all.into()
    }
}

/// Whether a mirror's checks in a run found it serving: some repomd.xml current (or an
/// alternate), and none failed (a directory it lacks is judged by the ordinary rule).
fn found_current(s: &MirrorSummary) -> bool {
    let count = |o: CheckOutcome| s.by_outcome.get(&o).copied().unwrap_or(0);
    count(CheckOutcome::Current) + count(CheckOutcome::Behind) > 0
        && count(CheckOutcome::Error) == 0
}
