//! The operator's view of one mirror: is it served, and if not, exactly why.

use crate::config::Config;
use crate::error::{Error, Result};
use shared::model::{CheckOutcome, HealthState};
use std::collections::BTreeMap;

pub async fn print(config: &Config, name: &str) -> Result<()> {
    let store = config.open_store().await?;
    let mirrors = store.load_mirrors_with_ids().await?;
    let Some((id, mirror)) = mirrors.iter().find(|(_, m)| m.name == name) else {
        return Err(Error::UnknownMirror(name.to_string()));
    };
    println!("{}  (sponsor: {})", mirror.name, mirror.sponsor);
    if !mirror.enabled {
        println!("  not served: disabled in the registry (enabled: false)");
    } else if !mirror.approved {
        println!("  not served: waiting for approval (approved: false)");
    }
    let health: Vec<_> = store
        .load_health()
        .await?
        .into_iter()
        .filter(|h| h.mirror_id == *id)
        .collect();
    if health.is_empty() {
        println!("  not checked yet");
    }
    for h in &health {
        let mark = match h.state {
            HealthState::Up => "up  ",
            HealthState::Down => "DOWN",
            HealthState::Unknown => "?   ",
        };
        println!("  {mark} {:<8} {}", h.capability, h.reason);
    }
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
        println!("  {protocol:<5} {outcome:<15} {n} directories");
    }
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
        println!(
            "  last crawl at {}: {} requests, {} body bytes, {} answered 304; {sync}",
            st.checked_at, st.requests, st.bytes, st.not_modified
        );
    }
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
        println!("  {due}{by}{held}");
    }
    let events = store.health_events(*id, 10).await?;
    if !events.is_empty() {
        println!("  recent changes:");
        for e in events {
            println!(
                "    {} {}: {} -> {}: {}",
                e.at, e.capability, e.old_state, e.new_state, e.reason
            );
        }
    }
    Ok(())
}
