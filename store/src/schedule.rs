//! The crawl schedule several checkers share: per mirror when it is next due and who holds it
//! (a lease row, claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent claimers
//! never take the same mirror), and named leases such as the leader's.

use super::{col, Backend, Result, Store};
use shared::model::stable_hash;
use sqlx::{Any, AnyConnection, Transaction};

/// When mirrors are checked: every `interval` seconds, each at a phase of its own (from its
/// name) so the work is spread evenly; a newly registered mirror first within
/// `first_within` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub interval: u64,
    pub first_within: u64,
}

impl Schedule {
    fn phase(&self, name: &str) -> i64 {
        (stable_hash(name) % self.interval.max(1)) as i64
    }

    /// The first check of a mirror registered at `now`.
    pub fn first_due(&self, name: &str, now: i64) -> i64 {
        let spread = self.first_within.clamp(1, self.interval.max(1));
        now + (stable_hash(name) % spread) as i64
    }

    /// The next check after one completed at `now`: the mirror's next phase point at least
    /// half an interval away. In steady state that is exactly one interval later; the phases
    /// keep the load even however mirrors joined.
    pub fn next_due(&self, name: &str, now: i64) -> i64 {
        let i = self.interval.max(1) as i64;
        let earliest = now + (i + 1) / 2;
        let t = earliest - earliest.rem_euclid(i) + self.phase(name);
        if t < earliest {
            t + i
        } else {
            t
        }
    }
}

/// A mirror a checker has claimed: it checks it and then completes or releases the claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub mirror_id: i64,
    pub name: String,
    pub due_at: i64,
    /// An operator asked for every directory to be looked at (`recheck`).
    pub full: bool,
}

/// One mirror's place in the schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    pub mirror_id: i64,
    pub due_at: i64,
    pub holder: Option<String>,
    pub lease_until: Option<i64>,
    pub last_checked_at: Option<i64>,
    pub last_checked_by: Option<String>,
    pub checks: i64,
}

impl Store {
    /// Gives every mirror without a place in the schedule its first due time; returns how
    /// many were added.
    pub async fn schedule_new_mirrors(&self, schedule: &Schedule, now: i64) -> Result<usize> {
        let rows = sqlx::query(
            "SELECT m.id, m.name FROM mirrors m
             LEFT JOIN crawl_schedule s ON s.mirror_id = m.id
             WHERE s.mirror_id IS NULL ORDER BY m.id",
        )
        .fetch_all(&self.pool)
        .await?;
        for row in &rows {
            let (id, name): (i64, String) = (col(row, "id")?, col(row, "name")?);
            sqlx::query(
                "INSERT INTO crawl_schedule (mirror_id, due_at) VALUES ($1, $2)
                 ON CONFLICT (mirror_id) DO NOTHING",
            )
            .bind(id)
            .bind(schedule.first_due(&name, now))
            .execute(&self.pool)
            .await?;
        }
        Ok(rows.len())
    }

    /// Claims for `holder`, until `now + lease_secs`, up to `limit` mirrors that are due and
    /// that no live lease holds, earliest due first. Concurrent claimers get disjoint sets.
    pub async fn claim_due(
        &self,
        holder: &str,
        now: i64,
        lease_secs: u64,
        limit: usize,
    ) -> Result<Vec<Claim>> {
        // PostgreSQL: rows another claimer has locked are skipped, and a row it has just
        // claimed fails the re-checked condition. SQLite: one statement is one write.
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE crawl_schedule SET holder = $1, lease_until = $2
             WHERE mirror_id IN (
               SELECT mirror_id FROM crawl_schedule
               WHERE due_at <= $3 AND (holder IS NULL OR lease_until < $3)
               ORDER BY due_at, mirror_id LIMIT $4{lock})
             RETURNING mirror_id, due_at, full_check"
        );
        let rows = sqlx::query(&sql)
            .bind(holder)
            .bind(now + lease_secs as i64)
            .bind(now)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=rows.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT id, name FROM mirrors WHERE id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for row in &rows {
            query = query.bind(col::<i64>(row, "mirror_id")?);
        }
        let names: std::collections::HashMap<i64, String> = query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((col(r, "id")?, col(r, "name")?)))
            .collect::<Result<_>>()?;
        let mut claims = rows
            .iter()
            .map(|row| {
                let mirror_id: i64 = col(row, "mirror_id")?;
                Ok(Claim {
                    mirror_id,
                    name: names.get(&mirror_id).cloned().unwrap_or_default(),
                    due_at: col(row, "due_at")?,
                    full: col::<i64>(row, "full_check")? != 0,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        claims.sort_by_key(|c| (c.due_at, c.mirror_id));
        Ok(claims)
    }

    /// Makes mirrors due at `now` (an operator's recheck); returns how many were scheduled.
    pub async fn make_due(&self, mirror_ids: &[i64], now: i64) -> Result<u64> {
        let mut n = 0;
        for id in mirror_ids {
            n += sqlx::query(
                "UPDATE crawl_schedule SET due_at = $1, full_check = 1 WHERE mirror_id = $2",
            )
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok(n)
    }

    /// Extends the leases of claims still held by `holder` to `now + lease_secs`, while a
    /// batch that outlasts its lease runs (no other checker takes those mirrors meanwhile);
    /// returns how many it still held.
    pub async fn renew_claims(
        &self,
        holder: &str,
        claims: &[Claim],
        now: i64,
        lease_secs: u64,
    ) -> Result<u64> {
        let mut n = 0;
        for c in claims {
            n += sqlx::query(
                "UPDATE crawl_schedule SET lease_until = $1 WHERE mirror_id = $2 AND holder = $3",
            )
            .bind(now + lease_secs as i64)
            .bind(c.mirror_id)
            .bind(holder)
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok(n)
    }

    /// Gives claims back unchecked: the mirrors stay due for whoever claims next.
    pub async fn release_claims(&self, holder: &str, claims: &[Claim]) -> Result<()> {
        for c in claims {
            sqlx::query(
                "UPDATE crawl_schedule SET holder = NULL, lease_until = NULL
                 WHERE mirror_id = $1 AND holder = $2",
            )
            .bind(c.mirror_id)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Marks claims checked and schedules their next check, in a transaction of its own (for
    /// runs whose results were set aside).
    pub async fn complete_claims(
        &self,
        holder: &str,
        claims: &[Claim],
        schedule: &Schedule,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        complete(&mut tx, holder, claims, schedule, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes or renews the lease `name` for `holder` until `now + ttl_secs`; false while
    /// another holder's lease is live.
    pub async fn hold_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_secs: u64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, until_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_at = excluded.until_at
             WHERE leases.holder = excluded.holder OR leases.until_at < $4",
        )
        .bind(name)
        .bind(holder)
        .bind(now + ttl_secs as i64)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the lease up (a checker stopping cleanly), so another takes it at once.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Who holds the lease `name`, and until when.
    pub async fn lease(&self, name: &str) -> Result<Option<(String, i64)>> {
        let row = sqlx::query("SELECT holder, until_at FROM leases WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((col(&r, "holder")?, col(&r, "until_at")?)))
            .transpose()
    }

    /// Numbers that move whenever anything a snapshot is built from changes (a crawl that
    /// changed a result or a health state, a new master version, the registry or the catalog
    /// edited, a mirror placed elsewhere, a subnets list changed): the leader publishes when
    /// they differ from those of its last snapshot. A crawl that found everything as it was
    /// does not move them.
    pub async fn change_mark(&self) -> Result<Vec<i64>> {
        let row = sqlx::query(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM crawl_runs WHERE changes > 0) AS runs,
               (SELECT COALESCE(MAX(id), 0) FROM repomd_versions) AS versions,
               (SELECT COUNT(*) FROM mirrors) AS mirrors,
               (SELECT COALESCE(MAX(updated_at), 0) FROM mirrors) AS mirrors_updated,
               (SELECT COALESCE(MAX(updated_at), 0) FROM catalog) AS catalog,
               (SELECT COALESCE(MAX(alternates_expired_at), 0) FROM directories) AS expired,
               (SELECT COALESCE(MAX(located_at), 0) FROM mirror_located) AS located,
               (SELECT COALESCE(MAX(id), 0) FROM subnet_changes) AS subnets,
               (SELECT n FROM mirror_revision WHERE id = 1) AS mirror_revision",
        )
        .fetch_one(&self.pool)
        .await?;
        [
            "runs",
            "versions",
            "mirrors",
            "mirrors_updated",
            "catalog",
            "expired",
            "located",
            "subnets",
            "mirror_revision",
        ]
        .iter()
        .map(|c| col(&row, c))
        .chain([self.maintenance_mark().await])
        .collect()
    }

    /// The whole schedule, by mirror id.
    pub async fn schedule_rows(&self) -> Result<Vec<ScheduleRow>> {
        Ok(sqlx::query_as(
            "SELECT mirror_id, due_at, holder, lease_until, last_checked_at, last_checked_by, checks
             FROM crawl_schedule ORDER BY mirror_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Marks `claims` checked by `holder` at `now` and schedules their next check. A claim whose
/// lease another checker has since taken over is left to that checker.
pub(super) async fn complete(
    tx: &mut Transaction<'static, Any>,
    holder: &str,
    claims: &[Claim],
    schedule: &Schedule,
    now: i64,
) -> Result<()> {
    let conn: &mut AnyConnection = tx;
    for c in claims {
        sqlx::query(
            "UPDATE crawl_schedule SET due_at = $1, holder = NULL, lease_until = NULL,
               last_checked_at = $2, last_checked_by = $3, checks = checks + 1, full_check = 0
             WHERE mirror_id = $4 AND holder = $3",
        )
        .bind(schedule.next_due(&c.name, now))
        .bind(now)
        .bind(holder)
        .bind(c.mirror_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl sqlx::FromRow<'_, sqlx::any::AnyRow> for ScheduleRow {
    fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<ScheduleRow> {
        use sqlx::Row;
        Ok(ScheduleRow {
            mirror_id: row.try_get("mirror_id")?,
            due_at: row.try_get("due_at")?,
            holder: row.try_get("holder")?,
            lease_until: row.try_get("lease_until")?,
            last_checked_at: row.try_get("last_checked_at")?,
            last_checked_by: row.try_get("last_checked_by")?,
            checks: row.try_get("checks")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_keep_their_phase_and_are_checked_once_per_interval() {
        let s = Schedule {
            interval: 900,
            first_within: 120,
        };
        for name in ["a.example", "b.example", "mirror.example.org"] {
            let first = s.first_due(name, 10_000);
            assert!((10_000..10_120).contains(&first), "{first}");
            // Checked on time: the next check is one interval later, at the same phase.
            let next = s.next_due(name, first.max(10_000));
            let steady = s.next_due(name, next);
            assert_eq!(steady - next, 900);
            assert_eq!(next.rem_euclid(900), steady.rem_euclid(900));
            // Checked late: never sooner than half an interval after the check.
            for late in [1, 400, 899, 5_000] {
                let n = s.next_due(name, next + late);
                assert!(n >= next + late + 450 && n < next + late + 450 + 900);
                assert_eq!(n.rem_euclid(900), next.rem_euclid(900));
            }
        }
        // Different names spread over the interval.
        let phases: std::collections::HashSet<i64> = (0..200)
            .map(|i| s.next_due(&format!("m{i}.example"), 0).rem_euclid(900))
            .collect();
        assert!(phases.len() > 150, "{}", phases.len());
    }
}
