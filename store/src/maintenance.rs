//! Maintenance windows: declared, merged with the windows they overlap (of the same mirror
//! and scope), changed, ended early. Rows stay: an ended window keeps its end, a cancelled
//! or merged one its `cancelled_at`, so the history and the change mark hold.

use crate::{col, Result, Store};
use shared::model::Scope;
use shared::snapshot::maintenance::Window;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use std::collections::HashMap;

/// A window as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceWindow {
    pub id: i64,
    pub mirror: String,
    pub scope: Scope,
    pub from: i64,
    pub until: i64,
    pub note: String,
    pub created_by: String,
    pub created_at: i64,
}

/// A window asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowPlan {
    pub mirror: String,
    pub scope: Scope,
    pub from: i64,
    pub until: i64,
    pub note: String,
}

const COLUMNS: &str = "id, mirror, scope, starts_at, ends_at, note, created_by, created_at";

fn window(row: &AnyRow) -> Result<MaintenanceWindow> {
    let scope: String = col(row, "scope")?;
    Ok(MaintenanceWindow {
        id: col(row, "id")?,
        mirror: col(row, "mirror")?,
        scope: Scope::try_from(scope).map_err(crate::StoreError::Corrupt)?,
        from: col(row, "starts_at")?,
        until: col(row, "ends_at")?,
        note: col(row, "note")?,
        created_by: col(row, "created_by")?,
        created_at: col(row, "created_at")?,
    })
}

/// The notes of merged windows, each once, in order.
fn joined(notes: &[&str]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for n in notes.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out.join("; ")
}

impl Store {
    /// Declares a window, merged with the live windows of its mirror and scope it overlaps
    /// or touches; `Ok(Err(reason))` when the merged window would be longer than `max_secs`.
    /// Returns the window as it now stands.
    pub async fn add_window(
        &self,
        plan: &WindowPlan,
        by: &str,
        max_secs: i64,
        now: i64,
    ) -> Result<std::result::Result<MaintenanceWindow, String>> {
        let mut tx = self.pool.begin().await?;
        write_first(&mut tx).await?;
        let merged = merge(&mut tx, plan, None, by, max_secs, now).await?;
        if merged.is_ok() {
            tx.commit().await?;
        }
        Ok(merged)
    }

    /// Changes window `id` to `plan`'s times and note (merging as [`Store::add_window`]);
    /// `Ok(None)` when there is no such live window.
    pub async fn change_window(
        &self,
        id: i64,
        plan: &WindowPlan,
        by: &str,
        max_secs: i64,
        now: i64,
    ) -> Result<Option<std::result::Result<MaintenanceWindow, String>>> {
        let mut tx = self.pool.begin().await?;
        write_first(&mut tx).await?;
        if live(&mut tx, id).await?.is_none() {
            return Ok(None);
        }
        let merged = merge(&mut tx, plan, Some(id), by, max_secs, now).await?;
        if merged.is_ok() {
            tx.commit().await?;
        }
        Ok(Some(merged))
    }

    /// Ends window `id` now: one not started yet is cancelled, one holding ends now. Returns
    /// the window as it was, `None` when there is no such live window or it is over.
    pub async fn end_window(&self, id: i64, now: i64) -> Result<Option<MaintenanceWindow>> {
        let mut tx = self.pool.begin().await?;
        write_first(&mut tx).await?;
        let Some(w) = live(&mut tx, id).await?.filter(|w| w.until > now) else {
            return Ok(None);
        };
        let sql = if w.from > now {
            "UPDATE maintenance_windows SET cancelled_at = $1, revision = revision + 1 WHERE id = $2"
        } else {
            "UPDATE maintenance_windows SET ends_at = $1, revision = revision + 1 WHERE id = $2"
        };
        sqlx::query(sql)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(w))
    }

    /// A live window by id.
    pub async fn window(&self, id: i64) -> Result<Option<MaintenanceWindow>> {
        let mut tx = self.pool.begin().await?;
        live(&mut tx, id).await
    }

    /// The live windows of `mirror` (or of every mirror) ending after `since`, soonest
    /// first.
    pub async fn windows(
        &self,
        mirror: Option<&str>,
        since: i64,
    ) -> Result<Vec<MaintenanceWindow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM maintenance_windows
             WHERE ($1 = '' OR mirror = $1) AND cancelled_at IS NULL AND ends_at > $2
             ORDER BY starts_at, id"
        ))
        .bind(mirror.unwrap_or(""))
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(window).collect()
    }

    /// Every live window still to come or holding at `now`, and those ended but not yet
    /// confirmed by a good check, by mirror store id (the snapshot's and the crawl's view).
    pub async fn windows_by_mirror(&self, now: i64) -> Result<HashMap<i64, Vec<Window>>> {
        let rows = sqlx::query(
            "SELECT m.id AS mirror_id, w.scope, w.starts_at, w.ends_at, w.note
             FROM maintenance_windows w JOIN mirrors m ON m.name = w.mirror
             WHERE w.cancelled_at IS NULL AND (w.ends_at > $1 OR w.confirmed_at IS NULL)
             ORDER BY w.starts_at, w.id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut out: HashMap<i64, Vec<Window>> = HashMap::new();
        for row in &rows {
            let scope: String = col(row, "scope")?;
            let until: i64 = col(row, "ends_at")?;
            out.entry(col(row, "mirror_id")?).or_default().push(Window {
                scope: Scope::try_from(scope).map_err(crate::StoreError::Corrupt)?,
                from: col(row, "starts_at")?,
                until,
                note: col(row, "note")?,
                awaiting_check: until <= now,
                holds: false,
            });
        }
        Ok(out)
    }

    /// Mirrors (store ids) with a window ended in `(since, now]` that no good check has
    /// confirmed: each should be checked now.
    pub async fn windows_awaiting_check(&self, since: i64, now: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT DISTINCT m.id AS mirror_id
             FROM maintenance_windows w JOIN mirrors m ON m.name = w.mirror
             WHERE w.cancelled_at IS NULL AND w.confirmed_at IS NULL
               AND w.ends_at > $1 AND w.ends_at <= $2",
        )
        .bind(since)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| col(r, "mirror_id")).collect()
    }

    /// A check that started at `checked_at` found these mirrors (store ids) current: their
    /// windows ended by then are confirmed, and they may be served again.
    pub async fn confirm_windows(&self, mirror_ids: &[i64], checked_at: i64) -> Result<u64> {
        let mut n = 0;
        for id in mirror_ids {
            n += sqlx::query(
                "UPDATE maintenance_windows SET confirmed_at = $1, revision = revision + 1
                 WHERE cancelled_at IS NULL AND confirmed_at IS NULL AND ends_at <= $1
                   AND mirror IN (SELECT name FROM mirrors WHERE id = $2)",
            )
            .bind(checked_at)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok(n)
    }

    /// What the leader's change mark counts of windows: every change to one (a good check
    /// after one confirming it included).
    pub(crate) async fn maintenance_mark(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(revision), 0) AS BIGINT) AS mark FROM maintenance_windows",
        )
        .fetch_one(&self.pool)
        .await?;
        col(&row, "mark")
    }
}

/// Takes the write lock first: a transaction that reads and then writes would otherwise be
/// refused at once by SQLite when another writer went first, instead of waiting its turn.
async fn write_first(tx: &mut Transaction<'_, Any>) -> Result<()> {
    sqlx::query("UPDATE maintenance_windows SET revision = revision WHERE id < 0")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn live(tx: &mut Transaction<'_, Any>, id: i64) -> Result<Option<MaintenanceWindow>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM maintenance_windows WHERE id = $1 AND cancelled_at IS NULL"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(window).transpose()
}

/// Writes `plan` (as window `keep`, or a new one) merged with the live windows of its
/// mirror and scope it overlaps or touches, cancelling those.
async fn merge(
    tx: &mut Transaction<'_, Any>,
    plan: &WindowPlan,
    keep: Option<i64>,
    by: &str,
    max_secs: i64,
    now: i64,
) -> Result<std::result::Result<MaintenanceWindow, String>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM maintenance_windows
         WHERE mirror = $1 AND scope = $2 AND cancelled_at IS NULL
           AND ends_at >= $3 AND starts_at <= $4 AND ends_at > $5
         ORDER BY starts_at, id"
    ))
    .bind(&plan.mirror)
    .bind(plan.scope.as_str())
    .bind(plan.from)
    .bind(plan.until)
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    let others: Vec<MaintenanceWindow> = rows
        .iter()
        .map(window)
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .filter(|w| Some(w.id) != keep)
        .collect();
    let from = others.iter().map(|w| w.from).fold(plan.from, i64::min);
    let until = others.iter().map(|w| w.until).fold(plan.until, i64::max);
    if until - from > max_secs {
        return Ok(Err(format!(
            "merged with the windows it overlaps ({}), it would last {}, longer than the \
             longest allowed ({})",
            others
                .iter()
                .map(|w| format!("#{}", w.id))
                .collect::<Vec<_>>()
                .join(", "),
            shared::duration::human_age((until - from) as u64),
            shared::duration::human_age(max_secs as u64),
        )));
    }
    let mut notes: Vec<&str> = others.iter().map(|w| w.note.as_str()).collect();
    notes.insert(0, plan.note.as_str());
    let note = joined(&notes);
    // The window kept: the one changed, else the earliest overlapped, else a new one.
    let id = match keep.or(others.first().map(|w| w.id)) {
        Some(id) => {
            sqlx::query(
                "UPDATE maintenance_windows SET starts_at = $1, ends_at = $2, note = $3,
                   revision = revision + 1 WHERE id = $4",
            )
            .bind(from)
            .bind(until)
            .bind(&note)
            .bind(id)
            .execute(&mut **tx)
            .await?;
            id
        }
        None => {
            let row = sqlx::query(
                "INSERT INTO maintenance_windows
                   (mirror, scope, starts_at, ends_at, note, created_by, created_at, revision)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 1) RETURNING id",
            )
            .bind(&plan.mirror)
            .bind(plan.scope.as_str())
            .bind(from)
            .bind(until)
            .bind(&note)
            .bind(by)
            .bind(now)
            .fetch_one(&mut **tx)
            .await?;
            col(&row, "id")?
        }
    };
    for w in others.iter().filter(|w| w.id != id) {
        sqlx::query(
            "UPDATE maintenance_windows SET cancelled_at = $1, revision = revision + 1
             WHERE id = $2",
        )
        .bind(now)
        .bind(w.id)
        .execute(&mut **tx)
        .await?;
    }
    let kept = live(tx, id).await?;
    Ok(Ok(kept.ok_or_else(|| {
        crate::StoreError::Corrupt(format!("maintenance window {id} vanished"))
    })?))
}

#[cfg(test)]
mod tests;
