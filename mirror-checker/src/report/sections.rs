//! The store's part of a mirror's status: where it was reached, its fetched subnets, its
//! capabilities after the health rule, its checks, what its last crawl cost, its place in
//! the schedule and its recent changes.

use crate::error::Result;
use shared::model::{CheckOutcome, HealthState};
use shared::registry::Mirror;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use store::Store;

/// Every section, in order.
pub(super) async fn all(store: &Store, id: &i64, mirror: &Mirror, out: &mut String) -> Result<()> {
    subnets(store, id, mirror, out).await?;
    health(store, id, out).await?;
    checks(store, id, out).await?;
    stats(store, id, out).await?;
    schedule(store, id, out).await?;
    events(store, id, out).await
}

/// The subnets fetched from its URL.
async fn subnets(store: &Store, id: &i64, mirror: &Mirror, out: &mut String) -> Result<()> {
    if let Some(f) = store
        .fetched_subnets()
        .await?
        .into_iter()
        .find(|f| f.mirror_id == *id)
    {
        let _ = writeln!(
            out,
            "  subnets from {}: {} networks{}",
            mirror.subnets_url.as_deref().unwrap_or("its URL"),
            f.cidrs.len(),
            f.last_error.as_deref().map_or(String::new(), |e| format!(
                "; the last fetch failed ({e}), the last good list is kept"
            ))
        );
    }
    Ok(())
}

/// Its capabilities after the health rule, and what `sync` and `content` mean.
async fn health(store: &Store, id: &i64, out: &mut String) -> Result<()> {
    let health: Vec<_> = store
        .load_health()
        .await?
        .into_iter()
        .filter(|h| h.mirror_id == *id)
        .collect();
    if !health.is_empty() {
        let _ = writeln!(out, "  capabilities (after the health rule):");
    }
    for h in &health {
        let mark = match h.state {
            HealthState::Up => "up  ",
            HealthState::Down => "DOWN",
            HealthState::Unknown => "?   ",
        };
        let since = if h.since > 0 {
            format!(
                " (since {} ago, {})",
                shared::duration::human_age((shared::time::now() - h.since).max(0) as u64),
                shared::duration::utc_minute(h.since)
            )
        } else {
            String::new()
        };
        let _ = writeln!(out, "    {mark} {:<8} {}{since}", h.capability, h.reason);
    }
    for (capability, meaning) in [
        (
            "sync",
            "sync: the age of the mirror's TIME file, which its sync job writes; for \
             information: whether a directory is served depends on its repodata matching the \
             master's",
        ),
        (
            "content",
            "content: whether the mirror's copies match versions the master published",
        ),
    ] {
        if health.iter().any(|h| h.capability == capability) {
            let _ = writeln!(out, "    ({meaning})");
        }
    }
    Ok(())
}

/// Its directories by protocol and outcome.
async fn checks(store: &Store, id: &i64, out: &mut String) -> Result<()> {
    let checks: Vec<_> = store
        .load_checks()
        .await?
        .into_iter()
        .filter(|c| c.mirror_id == *id)
        .collect();
    let mut by_outcome: BTreeMap<(String, CheckOutcome), usize> = BTreeMap::new();
    for c in &checks {
        *by_outcome
            .entry((c.protocol.to_string(), c.outcome))
            .or_default() += 1;
    }
    for ((protocol, outcome), n) in by_outcome {
        let _ = writeln!(out, "  {protocol:<5} {outcome:<15} {n} directories");
    }
    Ok(())
}

/// What its last crawl cost, and where its redirects led.
async fn stats(store: &Store, id: &i64, out: &mut String) -> Result<()> {
    if let Some(st) = store
        .mirror_stats()
        .await?
        .into_iter()
        .find(|s| s.mirror_id == *id)
    {
        let sync = st.sync_age.map_or("no TIME file".to_string(), |a| {
            format!(
                "TIME file {} old",
                shared::duration::human_age(a.max(0) as u64)
            )
        });
        let _ = writeln!(
            out,
            "  last crawl at {}: {} requests, {} body bytes, {} answered 304; {sync}",
            st.checked_at, st.requests, st.bytes, st.not_modified
        );
        if !st.redirects_to.is_empty() {
            let _ = writeln!(
                out,
                "  redirects to other hosts: {} (followed)",
                st.redirects_to.join(", ")
            );
        }
    }
    Ok(())
}

/// When it is due, who checked it last, who holds it now.
async fn schedule(store: &Store, id: &i64, out: &mut String) -> Result<()> {
    if let Some(row) = store
        .schedule_rows()
        .await?
        .into_iter()
        .find(|r| r.mirror_id == *id)
    {
        let now = shared::time::now();
        let due = if row.due_at <= now {
            "due now".to_string()
        } else {
            format!(
                "next check in {}",
                shared::duration::human_age((row.due_at - now) as u64)
            )
        };
        let by = match (&row.last_checked_by, row.last_checked_at) {
            (Some(by), Some(at)) => format!("; last checked at {at} by {by}"),
            _ => String::new(),
        };
        let held = match (&row.holder, row.lease_until) {
            (Some(h), Some(until)) if until >= now => format!("; being checked by {h}"),
            _ => String::new(),
        };
        let _ = writeln!(out, "  {due}{by}{held}");
    }
    Ok(())
}

/// Its recent changes of state.
async fn events(store: &Store, id: &i64, out: &mut String) -> Result<()> {
    let events = store.health_events(*id, 10).await?;
    if !events.is_empty() {
        let _ = writeln!(out, "  recent changes:");
        for e in events {
            let _ = writeln!(
                out,
                "    {} {}: {} -> {}: {}",
                e.at, e.capability, e.old_state, e.new_state, e.reason
            );
        }
    }
    Ok(())
}
