//! How each typed row is read, in one place per type: `sqlx::FromRow` for the store's
//! records (so queries read them with `query_as`), with the columns both backends decode
//! alike: a flag (BOOLEAN in PostgreSQL, a 0/1 INTEGER in SQLite), a list stored one item
//! per line, and the shared enums (protocol, family, outcome, health state) by their names.

use crate::{CheckRecord, CrawlRun, HealthEvent, HealthRecord, MirrorStats};
use crate::{FetchedSubnets, ScheduleRow, SnapshotRecord, SubnetChange, Work};
use shared::model::RepomdVersion;
use shared::snapshot::propagation::Arrival;
use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

/// A column holding an enum's name.
fn named<T: TryFrom<String, Error = String>>(row: &AnyRow, name: &str) -> sqlx::Result<T> {
    let text: String = row.try_get(name)?;
    T::try_from(text).map_err(|e| sqlx::Error::ColumnDecode {
        index: name.to_string(),
        source: e.into(),
    })
}

/// A flag as either backend stores it.
pub(crate) fn flag(row: &AnyRow, name: &str) -> sqlx::Result<bool> {
    match row.try_get::<bool, _>(name) {
        Ok(b) => Ok(b),
        Err(_) => Ok(row.try_get::<i64, _>(name)? != 0),
    }
}

/// A list of short texts stored one per line (none: NULL or empty).
fn lines(row: &AnyRow, name: &str) -> sqlx::Result<Vec<String>> {
    let text: Option<String> = row.try_get(name)?;
    Ok(text
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect())
}

impl FromRow<'_, AnyRow> for CheckRecord {
    fn from_row(row: &AnyRow) -> sqlx::Result<CheckRecord> {
        Ok(CheckRecord {
            mirror_id: row.try_get("mirror_id")?,
            directory_id: row.try_get("directory_id")?,
            protocol: named(row, "protocol")?,
            family: named(row, "family")?,
            outcome: named(row, "outcome")?,
            sha256_seen: row.try_get("sha256_seen")?,
            versions_behind: row.try_get("versions_behind")?,
            lag_seconds: row.try_get("lag_seconds")?,
            http_status: row.try_get("http_status")?,
            latency_ms: row.try_get("latency_ms")?,
            bytes: row.try_get("bytes")?,
            etag: row.try_get("etag")?,
            last_modified: row.try_get("last_modified")?,
            checked_at: row.try_get("checked_at")?,
            error: row.try_get("error")?,
            timestamp_seen: row.try_get("timestamp_seen")?,
            good_sha256: row.try_get("good_sha256")?,
            good_at: row.try_get("good_at")?,
        })
    }
}

impl FromRow<'_, AnyRow> for HealthRecord {
    fn from_row(row: &AnyRow) -> sqlx::Result<HealthRecord> {
        Ok(HealthRecord {
            mirror_id: row.try_get("mirror_id")?,
            capability: row.try_get("capability")?,
            state: named(row, "state")?,
            since: row.try_get("since")?,
            reason: row.try_get("reason")?,
            consecutive_ok: row.try_get("consecutive_ok")?,
            consecutive_failed: row.try_get("consecutive_failed")?,
        })
    }
}

impl FromRow<'_, AnyRow> for HealthEvent {
    fn from_row(row: &AnyRow) -> sqlx::Result<HealthEvent> {
        Ok(HealthEvent {
            mirror_id: row.try_get("mirror_id")?,
            capability: row.try_get("capability")?,
            old_state: named(row, "old_state")?,
            new_state: named(row, "new_state")?,
            reason: row.try_get("reason")?,
            at: row.try_get("at")?,
        })
    }
}

impl FromRow<'_, AnyRow> for MirrorStats {
    fn from_row(row: &AnyRow) -> sqlx::Result<MirrorStats> {
        Ok(MirrorStats {
            mirror_id: row.try_get("mirror_id")?,
            checked_at: row.try_get("checked_at")?,
            requests: row.try_get("requests")?,
            bytes: row.try_get("bytes")?,
            not_modified: row.try_get("not_modified")?,
            sync_age: row.try_get("sync_age")?,
            redirects_to: lines(row, "redirects_to")?,
        })
    }
}

impl FromRow<'_, AnyRow> for CrawlRun {
    fn from_row(row: &AnyRow) -> sqlx::Result<CrawlRun> {
        Ok(CrawlRun {
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
            mirrors: row.try_get("mirrors")?,
            checks: row.try_get("checks")?,
            errors: row.try_get("errors")?,
            not_modified: row.try_get("not_modified")?,
            requests: row.try_get("requests")?,
            bytes: row.try_get("bytes")?,
            ignored: flag(row, "ignored")?,
            note: row.try_get("note")?,
            checker: row.try_get("checker")?,
        })
    }
}

impl FromRow<'_, AnyRow> for SnapshotRecord {
    fn from_row(row: &AnyRow) -> sqlx::Result<SnapshotRecord> {
        Ok(SnapshotRecord {
            serial: row.try_get("serial")?,
            created_at: row.try_get("created_at")?,
            path: row.try_get("path")?,
            sha256: row.try_get("sha256")?,
            size: row.try_get("size")?,
            mirrors: row.try_get("mirrors")?,
            directories: row.try_get("directories")?,
        })
    }
}

impl FromRow<'_, AnyRow> for ScheduleRow {
    fn from_row(row: &AnyRow) -> sqlx::Result<ScheduleRow> {
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

impl FromRow<'_, AnyRow> for Work {
    fn from_row(row: &AnyRow) -> sqlx::Result<Work> {
        Ok(Work {
            id: row.try_get("id")?,
            what: row.try_get("what")?,
            pid: row.try_get("pid")?,
            host: row.try_get("host")?,
            started_at: row.try_get("started_at")?,
            touched_at: row.try_get("touched_at")?,
        })
    }
}

impl FromRow<'_, AnyRow> for FetchedSubnets {
    fn from_row(row: &AnyRow) -> sqlx::Result<FetchedSubnets> {
        Ok(FetchedSubnets {
            mirror_id: row.try_get("mirror_id")?,
            cidrs: crate::located::parse_cidrs(&row.try_get::<String, _>("cidrs")?),
            fetched_at: row.try_get("fetched_at")?,
            attempted_at: row.try_get("attempted_at")?,
            last_error: row.try_get("last_error")?,
        })
    }
}

impl FromRow<'_, AnyRow> for SubnetChange {
    fn from_row(row: &AnyRow) -> sqlx::Result<SubnetChange> {
        let cidrs = |name: &str| -> sqlx::Result<_> {
            Ok(crate::located::parse_cidrs(
                &row.try_get::<String, _>(name)?,
            ))
        };
        Ok(SubnetChange {
            mirror_id: row.try_get("mirror_id")?,
            at: row.try_get("at")?,
            added: cidrs("added")?,
            removed: cidrs("removed")?,
        })
    }
}

/// A directory's repomd.xml version, with the directory's id.
pub(crate) struct DirVersion(pub i64, pub RepomdVersion);

impl FromRow<'_, AnyRow> for DirVersion {
    fn from_row(row: &AnyRow) -> sqlx::Result<DirVersion> {
        let v = RepomdVersion {
            size: row.try_get::<i64, _>("size")? as u64,
            timestamp: row.try_get("timestamp")?,
            md5: row.try_get("md5")?,
            sha1: row.try_get("sha1")?,
            sha256: row.try_get("sha256")?,
            sha512: row.try_get("sha512")?,
            first_seen: row.try_get("first_seen")?,
        };
        Ok(DirVersion(row.try_get("directory_id")?, v))
    }
}

/// When a mirror was first seen serving a version.
pub(crate) struct Arrived(pub Arrival);

impl FromRow<'_, AnyRow> for Arrived {
    fn from_row(row: &AnyRow) -> sqlx::Result<Arrived> {
        Ok(Arrived(Arrival {
            mirror_id: row.try_get("mirror_id")?,
            directory_id: row.try_get("directory_id")?,
            sha256: row.try_get("sha256")?,
            at: row.try_get("first_served_at")?,
            observed: flag(row, "observed")?,
        }))
    }
}
