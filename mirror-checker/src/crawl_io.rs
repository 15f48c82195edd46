//! The crawl's reading and writing: its input loaded from the store (each mirror's earlier
//! results read when its turn comes), and its judgement applied: the crawl's transaction
//! committed with health and the run's record, or rolled back when the run is set aside.

use crate::crawl::{Claimed, CrawlInput, Earlier, Judgement};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use store::{CrawlWriter, Store};

/// Each mirror's earlier results, read from `store` when its turn comes.
fn earlier(store: Store) -> Earlier {
    Arc::new(move |mirror_id| {
        let store = store.clone();
        Box::pin(async move {
            let mut all = Vec::new();
            store.visit_checks_of(mirror_id, |c| all.push(c)).await?;
            Ok(all)
        })
    })
}

/// What the maintenance windows holding now take out, by mirror.
async fn holding_windows(store: &Store) -> crate::Result<HashMap<i64, Vec<shared::model::Scope>>> {
    let now = shared::time::now();
    Ok(store
        .windows_by_mirror(now)
        .await?
        .into_iter()
        .map(|(id, ws)| {
            let holding = ws.iter().filter(|w| !w.awaiting_check && w.holds_at(now));
            let scopes = holding.map(|w| w.scope);
            (id, scopes.collect::<Vec<_>>())
        })
        .filter(|(_, scopes)| !scopes.is_empty())
        .collect())
}

/// Everything a crawl reads from the store, loaded once.
pub async fn load_input(store: &Store) -> crate::Result<CrawlInput> {
    let catalog = store.load_catalog().await?.ok_or(crate::Error::NoCatalog)?;
    let mirrors = store
        .load_mirrors_with_ids()
        .await?
        .into_iter()
        .filter(|(_, m)| m.enabled)
        .collect();
    let health = store
        .load_health()
        .await?
        .into_iter()
        .map(|h| ((h.mirror_id, h.capability.clone()), h))
        .collect();
    Ok(CrawlInput {
        catalog,
        mirrors,
        directory_ids: store.directory_ids().await?,
        history: store.repomd_history().await?,
        expired: store.alternates_expiry().await?,
        earlier: earlier(store.clone()),
        health,
        samples: store.samples().await?,
        selective: false,
        full: HashSet::new(),
        synced: store
            .mirror_stats()
            .await?
            .into_iter()
            .filter_map(|s| Some((s.mirror_id, s.checked_at - s.sync_age?)))
            .collect(),
        maintenance: holding_windows(store).await?,
    })
}

/// Applies a judgement: commits the crawl's transaction with health and the run's record, or,
/// when the run is set aside, rolls the results back and records only the run.
pub async fn apply(
    store: &Store,
    mut writer: CrawlWriter,
    judgement: &Judgement,
    claimed: Option<&Claimed<'_>>,
) -> crate::Result<()> {
    if judgement.run.ignored {
        writer.abandon().await?;
        store.record_run(&judgement.run).await?;
        // Set aside, but done: the mirrors are not checked again before their next turn.
        if let Some(c) = claimed {
            store
                .complete_claims(c.holder, c.claims, &c.schedule, judgement.run.finished_at)
                .await?;
        }
    } else {
        if let Some(c) = claimed {
            writer.complete_claims(c.holder, c.claims, &c.schedule, judgement.run.finished_at);
        }
        writer
            .finish(
                &judgement.run,
                &judgement.health,
                &judgement.events,
                &judgement.stats,
            )
            .await?;
        store
            .confirm_windows(&judgement.current, judgement.run.started_at)
            .await?;
    }
    let at = judgement.run.finished_at;
    for (mirror_id, l) in &judgement.located {
        store.record_located(*mirror_id, l, at).await?;
    }
    for (mirror_id, fetched) in &judgement.subnets {
        if let Err(why) = fetched {
            tracing::warn!(mirror_id, error = %why, "subnets URL unreadable; the last good list is kept");
        }
        if let Some(change) = store
            .record_subnets_fetch(*mirror_id, fetched.clone(), at)
            .await?
        {
            tracing::info!(
                mirror_id,
                added = change.added.len(),
                removed = change.removed.len(),
                "subnets changed"
            );
        }
    }
    Ok(())
}
