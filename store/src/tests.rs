//! The store suite: every test runs against SQLite and, when a server is given, PostgreSQL.

use super::*;
use crate::testing::test_stores;
use shared::catalog::Catalog;
use shared::model::{CheckOutcome, Family, HealthState, RepomdVersion};
use shared::registry::{self, Mirror, Protocol};
use shared::testing::AllOf;
use shared::testing::{example, shared_data};
use std::collections::HashMap;

fn example_catalog() -> Catalog {
    Catalog::load(&example("catalog.toml")).unwrap()
}

fn example_mirrors() -> Vec<Mirror> {
    registry::import_dir(&example("mirrors.d")).unwrap().mirrors
}

#[tokio::test]
async fn opening_twice_applies_the_schema_once() {
    let dir = std::env::temp_dir().join(format!("store-open-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("s.db").display());
    let first = Store::open(&url).await.unwrap();
    first
        .apply_registry(&example_mirrors(), false)
        .await
        .unwrap();
    first.close().await;
    let second = Store::open(&url).await.unwrap();
    assert_eq!(
        second.load_mirrors().await.unwrap().len(),
        example_mirrors().len()
    );
    let row = sqlx::query("PRAGMA journal_mode")
        .fetch_one(second.pool())
        .await
        .unwrap();
    assert_eq!(col::<String>(&row, "journal_mode").unwrap(), "wal");
    assert!(matches!(
        Store::open("mysql://x").await,
        Err(StoreError::UnsupportedUrl(_))
    ));
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn catalog_round_trips_with_stable_directory_ids() {
    for (backend, store) in test_stores("catalog").await {
        assert!(store.load_catalog().await.unwrap().is_none());
        let catalog = example_catalog();
        store.save_catalog(&catalog).await.unwrap();
        assert_eq!(
            store.load_catalog().await.unwrap().as_ref(),
            Some(&catalog),
            "{backend:?}"
        );
        let ids = store.directory_ids().await.unwrap();
        assert_eq!(ids.len(), catalog.directories.len());
        // Dropping a repo keeps the other ids and deactivates its directories.
        let mut spec = catalog.spec.clone();
        spec.repos.retain(|r| r.name != "nfv");
        let smaller = Catalog::from_spec(spec).unwrap();
        store.save_catalog(&smaller).await.unwrap();
        let after = store.directory_ids().await.unwrap();
        assert_eq!(after.len(), smaller.directories.len());
        for (path, id) in &after {
            assert_eq!(ids[path], *id, "{backend:?}: {path} changed id");
        }
    }
}

#[tokio::test]
async fn applying_a_registry_is_idempotent_and_syncs_only_when_told() {
    for (backend, store) in test_stores("registry").await {
        let mirrors = example_mirrors();
        let first = store.apply_registry(&mirrors, false).await.unwrap();
        assert_eq!(first.added.len(), mirrors.len());
        let stored = store.load_mirrors_with_ids().await.unwrap();
        let again = store.apply_registry(&mirrors, false).await.unwrap();
        assert_eq!(
            (again.added.len(), again.updated.len(), again.unchanged),
            (0, 0, mirrors.len()),
            "{backend:?}"
        );

        let mut changed = mirrors.clone();
        changed[0].geo.city = Some("Elsewhere".into());
        changed[0].asns = vec![64999, 64998];
        changed[0].urls.remove(&Protocol::Rsync);
        let dropped = changed.pop().unwrap();
        let outcome = store.apply_registry(&changed, false).await.unwrap();
        assert_eq!(outcome.updated, vec![changed[0].name.clone()]);
        assert_eq!(outcome.kept, vec![dropped.name.clone()]);
        assert!(outcome.removed.is_empty());
        let now_stored = store.load_mirrors_with_ids().await.unwrap();
        let id_of = |list: &[(i64, Mirror)], name: &str| {
            list.iter().find(|(_, m)| m.name == name).unwrap().0
        };
        assert_eq!(
            id_of(&stored, &changed[0].name),
            id_of(&now_stored, &changed[0].name),
            "updated in place"
        );
        assert_eq!(
            now_stored
                .iter()
                .find(|(_, m)| m.name == changed[0].name)
                .unwrap()
                .1,
            changed[0]
        );

        let synced = store.apply_registry(&changed, true).await.unwrap();
        assert_eq!(synced.removed, vec![dropped.name.clone()]);
        assert_eq!(store.load_mirrors().await.unwrap().len(), changed.len());
    }
}

#[tokio::test]
async fn the_real_registry_survives_import_store_export_import() {
    let Some(dir) = shared_data("almalinux-mirrors/mirrors.d") else {
        return;
    };
    let imported = registry::import_dir(&dir).unwrap();
    for (backend, store) in test_stores("realregistry").await {
        store.apply_registry(&imported.mirrors, true).await.unwrap();
        let loaded = store.load_mirrors().await.unwrap();
        let mut expected = imported.mirrors.clone();
        expected.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(loaded, expected, "{backend:?}: store changed the mirrors");
        let out = std::env::temp_dir().join(format!("export-{backend:?}-{}", std::process::id()));
        registry::export_dir(&loaded, &out).unwrap();
        let mut again = registry::import_dir(&out).unwrap();
        // Files keep their source names, so they come back in that order.
        again.mirrors.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(
            again.mirrors, expected,
            "{backend:?}: export changed the mirrors"
        );
        std::fs::remove_dir_all(&out).ok();
        let unchanged = store.apply_registry(&again.mirrors, true).await.unwrap();
        assert_eq!(unchanged.unchanged, expected.len());
    }
}

fn version(n: i64) -> RepomdVersion {
    RepomdVersion {
        size: 3000 + n as u64,
        timestamp: 1_700_000_000 + n,
        md5: format!("{n:032x}"),
        sha1: format!("{n:040x}"),
        sha256: format!("{n:064x}"),
        sha512: format!("{n:0128x}"),
        first_seen: 1_700_000_100 + n * 3600,
    }
}

#[tokio::test]
async fn upstream_history_checks_health_and_snapshots() {
    for (backend, store) in test_stores("checks").await {
        store.save_catalog(&example_catalog()).await.unwrap();
        store
            .apply_registry(&example_mirrors(), false)
            .await
            .unwrap();
        let dirs = store.directory_ids().await.unwrap();
        let dir = dirs["9.8/BaseOS/x86_64/os"];
        assert!(store.record_repomd(dir, &version(1)).await.unwrap());
        assert!(store.record_repomd(dir, &version(2)).await.unwrap());
        assert!(
            !store.record_repomd(dir, &version(2)).await.unwrap(),
            "{backend:?}: duplicate"
        );
        let history = store.repomd_history().await.unwrap();
        assert_eq!(history[&dir], vec![version(2), version(1)], "newest first");

        let mirrors = store.load_mirrors_with_ids().await.unwrap();
        let mut records = Vec::new();
        for (id, _) in &mirrors {
            for d in dirs.values() {
                for protocol in [Protocol::Http, Protocol::Https] {
                    records.push(CheckRecord {
                        mirror_id: *id,
                        directory_id: *d,
                        protocol,
                        family: Family::Any,
                        outcome: CheckOutcome::Current,
                        sha256_seen: Some(version(2).sha256),
                        versions_behind: None,
                        lag_seconds: None,
                        http_status: Some(200),
                        latency_ms: Some(12),
                        bytes: 3002,
                        etag: Some("\"abc\"".into()),
                        last_modified: None,
                        checked_at: 1_700_100_000,
                        error: None,
                        timestamp_seen: Some(1_700_000_000),
                        good_sha256: Some(version(2).sha256),
                        good_at: Some(1_700_100_000),
                    });
                }
            }
        }
        store.record_checks(&records).await.unwrap();
        records[0].outcome = CheckOutcome::Behind;
        records[0].versions_behind = Some(1);
        records[0].error = Some("behind".into());
        store.record_checks(&records[..1]).await.unwrap();
        let loaded = store.load_checks().await.unwrap();
        assert_eq!(loaded.len(), records.len(), "{backend:?}");
        assert!(loaded.contains(&records[0]));
        // A failed check keeps the last good copy (what the verdicts fall back on while the
        // health rule weighs the failure).
        let mut failed = records[1].clone();
        (failed.outcome, failed.sha256_seen, failed.error) =
            (CheckOutcome::Error, None, Some("timed out".into()));
        failed.checked_at += 60;
        failed.good_sha256 = None;
        store
            .record_checks(std::slice::from_ref(&failed))
            .await
            .unwrap();
        let stored = store
            .load_checks()
            .await
            .unwrap()
            .into_iter()
            .find(|c| {
                (c.mirror_id, c.directory_id, c.protocol)
                    == (failed.mirror_id, failed.directory_id, failed.protocol)
            })
            .unwrap();
        assert_eq!(stored.outcome, CheckOutcome::Error);
        assert_eq!(stored.good_sha256, Some(version(2).sha256), "{backend:?}");
        assert_eq!(stored.good_at, Some(1_700_100_000));

        let (mid, _) = mirrors[0];
        let health = HealthRecord {
            mirror_id: mid,
            capability: "https".into(),
            state: HealthState::Down,
            since: 1_700_100_000,
            reason: "https: certificate expired".into(),
            consecutive_ok: 0,
            consecutive_failed: 3,
        };
        let event = HealthEvent {
            mirror_id: mid,
            capability: "https".into(),
            old_state: HealthState::Up,
            new_state: HealthState::Down,
            reason: health.reason.clone(),
            at: health.since,
        };
        store
            .save_health(std::slice::from_ref(&health), std::slice::from_ref(&event))
            .await
            .unwrap();
        assert_eq!(store.load_health().await.unwrap(), vec![health]);
        assert_eq!(store.health_events(mid, 10).await.unwrap(), vec![event]);

        assert!(store.latest_snapshot().await.unwrap().is_none());
        for serial in [1, 2] {
            store
                .record_snapshot(&SnapshotRecord {
                    serial,
                    created_at: 1_700_100_000 + serial,
                    path: format!("snap-{serial}.bin"),
                    sha256: "00".repeat(32),
                    size: 1234,
                    mirrors: 10,
                    directories: 20,
                })
                .await
                .unwrap();
        }
        assert_eq!(store.latest_snapshot().await.unwrap().unwrap().serial, 2);

        // A crawl is applied whole, and its run recorded; an ignored run only recorded.
        let run = CrawlRun {
            started_at: 1_700_200_000,
            finished_at: 1_700_200_030,
            mirrors: 10,
            checks: records.len() as i64,
            errors: 1,
            not_modified: 5,
            requests: 200,
            bytes: 4096,
            ignored: false,
            note: String::new(),
            checker: "checker-a".into(),
        };
        records[1].outcome = CheckOutcome::Missing;
        let mut writer = store.begin_crawl().await.unwrap();
        writer.write(&records[1..2]).await.unwrap();
        writer.finish(&run, &[], &[], &[]).await.unwrap();
        let ignored = CrawlRun {
            ignored: true,
            note: "most checks failed".into(),
            ..run.clone()
        };
        store.record_run(&ignored).await.unwrap();
        assert_eq!(
            store.crawl_runs(5).await.unwrap(),
            vec![ignored, run],
            "{backend:?}"
        );
        assert!(store.load_checks().await.unwrap().contains(&records[1]));

        // A crawl writer commits only at finish; dropped or abandoned, it leaves nothing.
        let run = store.crawl_runs(1).await.unwrap().remove(0);
        let before = store.load_checks().await.unwrap();
        let mut changed = records[2].clone();
        changed.outcome = CheckOutcome::Unknown;
        let mut writer = store.begin_crawl().await.unwrap();
        writer.write(std::slice::from_ref(&changed)).await.unwrap();
        drop(writer);
        assert_eq!(
            store.load_checks().await.unwrap(),
            before,
            "{backend:?}: a dropped writer rolls back"
        );
        let mut writer = store.begin_crawl().await.unwrap();
        writer.write(std::slice::from_ref(&changed)).await.unwrap();
        writer.abandon().await.unwrap();
        assert_eq!(store.load_checks().await.unwrap(), before);
        let stats = MirrorStats {
            mirror_id: mid,
            checked_at: 5,
            requests: 300,
            bytes: 9000,
            not_modified: 150,
            sync_age: Some(3600),
            redirects_to: vec!["cdn.example.net".into()],
        };
        let mut writer = store.begin_crawl().await.unwrap();
        writer.write(std::slice::from_ref(&changed)).await.unwrap();
        writer
            .finish(&run, &[], &[], std::slice::from_ref(&stats))
            .await
            .unwrap();
        assert!(
            store.load_checks().await.unwrap().contains(&changed),
            "{backend:?}: committed"
        );
        assert_eq!(store.mirror_stats().await.unwrap(), vec![stats]);

        // Removing a mirror removes its results, health and stats with it.
        let keep: Vec<Mirror> = mirrors.iter().skip(1).map(|(_, m)| m.clone()).collect();
        store.apply_registry(&keep, true).await.unwrap();
        assert!(
            store
                .load_checks()
                .await
                .unwrap()
                .iter()
                .all_of(|r| r.mirror_id != mid),
            "{backend:?}"
        );
        assert!(store.load_health().await.unwrap().is_empty());
        assert!(store.mirror_stats().await.unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_checkers_claim_each_due_mirror_exactly_once() {
    // The real registry when it is there (530 mirrors), else the examples.
    let mirrors = match shared_data("almalinux-mirrors/mirrors.d") {
        Some(dir) => registry::import_dir(&dir).unwrap().mirrors,
        None => example_mirrors(),
    };
    let schedule = Schedule {
        interval: 900,
        first_within: 60,
    };
    for (backend, store) in test_stores("claims").await {
        store.apply_registry(&mirrors, false).await.unwrap();
        let ids: Vec<i64> = store
            .load_mirrors_with_ids()
            .await
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let now = 1_800_000_000;
        assert_eq!(
            store.schedule_new_mirrors(&schedule, now).await.unwrap(),
            ids.len()
        );
        assert_eq!(store.schedule_new_mirrors(&schedule, now).await.unwrap(), 0);
        // Nothing is due before its first due time; everything is within a minute.
        let early = store
            .claim_due("early", now - 1, 300, 10_000)
            .await
            .unwrap();
        assert!(early.is_empty(), "{backend:?}");
        let at = now + 60;

        // Four checkers claim in small batches at the same time.
        let mut tasks = Vec::new();
        for k in 0..4 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let holder = format!("checker-{k}");
                let mut got = Vec::new();
                loop {
                    let batch = store.claim_due(&holder, at, 300, 7).await.unwrap();
                    if batch.is_empty() {
                        break;
                    }
                    got.extend(batch.into_iter().map(|c| (holder.clone(), c)));
                }
                got
            }));
        }
        let mut claimed: Vec<(String, Claim)> = Vec::new();
        for t in tasks {
            claimed.extend(t.await.unwrap());
        }
        let mut seen: Vec<i64> = claimed.iter().map(|(_, c)| c.mirror_id).collect();
        seen.sort_unstable();
        let mut expected = ids.clone();
        expected.sort_unstable();
        assert_eq!(seen, expected, "every mirror claimed once ({backend:?})");

        // Claimed mirrors are not claimable again while the lease lives...
        assert!(store
            .claim_due("late", at + 299, 300, 10_000)
            .await
            .unwrap()
            .is_empty());
        // ...completed ones are scheduled about an interval on, released ones are due at
        // once, and those whose holder vanished come back when the lease runs out.
        let by = |h: &str| -> Vec<Claim> {
            claimed
                .iter()
                .filter(|(x, _)| x == h)
                .map(|(_, c)| c.clone())
                .collect()
        };
        let mut writer = store.begin_crawl().await.unwrap();
        writer.complete_claims("checker-0", &by("checker-0"), &schedule, at);
        writer.abandon().await.unwrap();
        assert!(
            store
                .schedule_rows()
                .await
                .unwrap()
                .iter()
                .all_of(|r| r.checks == 0),
            "an abandoned crawl completes nothing"
        );
        store
            .complete_claims("checker-0", &by("checker-0"), &schedule, at)
            .await
            .unwrap();
        store
            .release_claims("checker-1", &by("checker-1"))
            .await
            .unwrap();
        let again = store.claim_due("other", at + 1, 300, 10_000).await.unwrap();
        let again_ids: Vec<i64> = again.iter().map(|c| c.mirror_id).collect();
        let mut released: Vec<i64> = by("checker-1").iter().map(|c| c.mirror_id).collect();
        released.sort_unstable();
        let mut again_sorted = again_ids.clone();
        again_sorted.sort_unstable();
        assert_eq!(again_sorted, released, "{backend:?}");
        let expired = store
            .claim_due("other", at + 301, 300, 10_000)
            .await
            .unwrap();
        assert_eq!(
            expired.len(),
            by("checker-2").len() + by("checker-3").len(),
            "{backend:?}"
        );
        let rows = store.schedule_rows().await.unwrap();
        for c in by("checker-0") {
            let row = rows.iter().find(|r| r.mirror_id == c.mirror_id).unwrap();
            assert_eq!(row.checks, 1);
            assert_eq!(row.last_checked_by.as_deref(), Some("checker-0"));
            assert_eq!(row.holder, None);
            assert!(row.due_at >= at + 450 && row.due_at < at + 1350);
        }
        // A completion by a checker whose lease was taken over changes nothing.
        store
            .complete_claims("checker-2", &by("checker-2"), &schedule, at + 302)
            .await
            .unwrap();
        let rows = store.schedule_rows().await.unwrap();
        for c in by("checker-2") {
            let row = rows.iter().find(|r| r.mirror_id == c.mirror_id).unwrap();
            assert_eq!((row.checks, row.holder.as_deref()), (0, Some("other")));
        }
    }
}

#[tokio::test]
async fn one_checker_leads_until_its_lease_runs_out() {
    for (backend, store) in test_stores("leases").await {
        let t = 1_800_000_000;
        assert!(store.hold_lease("leader", "a", t, 30).await.unwrap());
        assert!(!store.hold_lease("leader", "b", t + 1, 30).await.unwrap());
        assert!(store.hold_lease("leader", "a", t + 20, 30).await.unwrap());
        assert!(!store.hold_lease("leader", "b", t + 49, 30).await.unwrap());
        assert!(store.hold_lease("leader", "b", t + 51, 30).await.unwrap());
        assert!(!store.hold_lease("leader", "a", t + 52, 30).await.unwrap());
        assert_eq!(
            store.lease("leader").await.unwrap(),
            Some(("b".to_string(), t + 81)),
            "{backend:?}"
        );
        store.release_lease("leader", "a").await.unwrap();
        assert!(!store.hold_lease("leader", "a", t + 53, 30).await.unwrap());
        store.release_lease("leader", "b").await.unwrap();
        assert!(store.hold_lease("leader", "a", t + 53, 30).await.unwrap());
    }
}

/// `store` with the example catalog and registry: the first mirror's id and 9.8's BaseOS
/// for x86_64.
async fn example_store(store: &Store) -> (i64, i64) {
    store.save_catalog(&example_catalog()).await.unwrap();
    store
        .apply_registry(&example_mirrors(), false)
        .await
        .unwrap();
    let d = store.directory_ids().await.unwrap()["9.8/BaseOS/x86_64/os"];
    let m = store.load_mirrors_with_ids().await.unwrap()[0].0;
    (m, d)
}

/// One check result of `mirror_id` for `directory_id`, current on version 2.
fn current_check(mirror_id: i64, directory_id: i64, checked_at: i64) -> CheckRecord {
    CheckRecord {
        mirror_id,
        directory_id,
        protocol: Protocol::Https,
        family: Family::Any,
        outcome: CheckOutcome::Current,
        sha256_seen: Some(version(2).sha256),
        versions_behind: None,
        lag_seconds: None,
        http_status: Some(200),
        latency_ms: Some(12),
        bytes: 3002,
        etag: None,
        last_modified: None,
        checked_at,
        error: None,
        timestamp_seen: Some(1_700_000_000),
        good_sha256: Some(version(2).sha256),
        good_at: Some(checked_at),
    }
}

fn a_run(checks: i64) -> CrawlRun {
    CrawlRun {
        started_at: 1_700_300_000,
        finished_at: 1_700_300_100,
        mirrors: 2,
        checks,
        errors: 0,
        not_modified: 0,
        requests: checks,
        bytes: 0,
        ignored: false,
        note: String::new(),
        checker: "a".into(),
    }
}

/// A crawl in progress leaves the store writable: another process can import the registry,
/// save the catalog or record a snapshot while results are being written, and the crawl's
/// results still appear all together when it finishes (the crawl held SQLite's write lock
/// from its first result to its end, so everything else failed after the busy timeout). A
/// mirror removed meanwhile does not fail the crawl: its results are dropped.
#[tokio::test]
async fn a_crawl_in_progress_leaves_the_store_writable() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let mut stores = vec![(
        Backend::Sqlite,
        Store::open(&url).await.unwrap(),
        Store::open(&url).await.unwrap(),
    )];
    if let Some(url) = crate::testing::postgres_test_url("short_tx").await {
        stores.push((
            Backend::Postgres,
            Store::open(&url).await.unwrap(),
            Store::open(&url).await.unwrap(),
        ));
    }
    for (backend, crawler, other) in stores {
        crawler.save_catalog(&example_catalog()).await.unwrap();
        let registry = example_mirrors();
        crawler.apply_registry(&registry, false).await.unwrap();
        let dirs = crawler.directory_ids().await.unwrap();
        let d = dirs["9.8/BaseOS/x86_64/os"];
        let ids = crawler.load_mirrors_with_ids().await.unwrap();
        let (keep, gone) = (ids[0].0, ids[1].0);

        let mut writer = crawler.begin_crawl().await.unwrap();
        writer
            .write(&[current_check(keep, d, 10), current_check(gone, d, 10)])
            .await
            .unwrap();
        // Meanwhile another process writes: each of these waited for the crawl to end.
        other.save_catalog(&example_catalog()).await.unwrap();
        let without: Vec<Mirror> = registry
            .iter()
            .filter(|m| m.name != ids[1].1.name)
            .cloned()
            .collect();
        other.apply_registry(&without, true).await.unwrap();
        other
            .record_snapshot(&SnapshotRecord {
                serial: 1,
                created_at: 1,
                path: "s".into(),
                sha256: "x".into(),
                size: 1,
                mirrors: 1,
                directories: 1,
            })
            .await
            .unwrap();
        assert!(
            other.load_checks().await.unwrap().is_empty(),
            "{backend:?}: nothing of the crawl is visible before it finishes"
        );
        writer.write(&[current_check(keep, d, 20)]).await.unwrap();
        let health = |mirror_id| HealthRecord {
            mirror_id,
            capability: "https".into(),
            state: HealthState::Up,
            since: 20,
            reason: "ok".into(),
            consecutive_ok: 1,
            consecutive_failed: 0,
        };
        let stats = |mirror_id| MirrorStats {
            mirror_id,
            checked_at: 20,
            requests: 3,
            bytes: 0,
            not_modified: 0,
            sync_age: None,
            redirects_to: vec![],
        };
        writer
            .finish(
                &a_run(3),
                &[health(keep), health(gone)],
                &[],
                &[stats(keep), stats(gone)],
            )
            .await
            .unwrap();
        assert_eq!(
            other.load_checks().await.unwrap(),
            vec![current_check(keep, d, 20)],
            "{backend:?}: the crawl's last word for each key, without the removed mirror"
        );
        assert_eq!(other.load_health().await.unwrap(), vec![health(keep)]);
        assert_eq!(other.mirror_stats().await.unwrap(), vec![stats(keep)]);
    }
}

/// A SQLite store whose write lock another process holds: the error says so once, plainly,
/// what is working on the store, and what to do (it said "database is locked" inside two
/// layers of prefixes, and nothing of who held it).
#[tokio::test]
async fn a_busy_sqlite_store_says_so_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let first = Store::open(&url).await.unwrap();
    let second = Store::open_with(&url, std::time::Duration::from_millis(200))
        .await
        .unwrap();
    let catalog = shared::catalog::Catalog::load(&example("catalog.toml")).unwrap();
    first.save_catalog(&catalog).await.unwrap();
    // A crawl is under way, and something holds the write lock.
    let writer = first.begin_crawl().await.unwrap();
    let mut lock = first.pool().begin().await.unwrap();
    sqlx::query("UPDATE catalog SET updated_at = updated_at")
        .execute(&mut *lock)
        .await
        .unwrap();
    let err = second.save_catalog(&catalog).await.unwrap_err();
    let err = second.explain(err).await.to_string();
    assert_eq!(err.matches("locked").count(), 1, "{err}");
    assert!(err.contains("another process"), "{err}");
    assert!(
        err.contains(&format!("crawl by process {}", std::process::id())),
        "{err}"
    );
    drop(lock);
    writer.abandon().await.unwrap();
    // With nothing registered as working, it says that too.
    let mut lock = first.pool().begin().await.unwrap();
    sqlx::query("UPDATE catalog SET updated_at = updated_at")
        .execute(&mut *lock)
        .await
        .unwrap();
    let err = second.save_catalog(&catalog).await.unwrap_err();
    let err = second.explain(err).await.to_string();
    assert!(err.contains("no crawl or import"), "{err}");
}

/// A crawl whose process was killed leaves staged results behind; once its registration has
/// gone untouched for an hour, the next crawl sweeps them (and it is no longer shown as
/// working on the store).
#[tokio::test]
async fn a_killed_crawls_staged_results_are_swept() {
    for (backend, store) in test_stores("sweep").await {
        let (m, d) = example_store(&store).await;
        let mut writer = store.begin_crawl().await.unwrap();
        writer.write(&[current_check(m, d, 10)]).await.unwrap();
        std::mem::forget(writer); // as kill -9 would: no rollback, no clean-up
        let staged = || async {
            sqlx::query("SELECT COUNT(*) AS n FROM crawl_staging")
                .fetch_one(store.pool())
                .await
                .map(|row| col::<i64>(&row, "n").unwrap())
                .unwrap()
        };
        assert_eq!(staged().await, 1, "{backend:?}");
        let t = shared::time::now();
        assert_eq!(store.work_in_progress(t).await.unwrap().len(), 1);
        // Another crawl while that one may still be alive leaves its results alone.
        store.begin_crawl().await.unwrap().abandon().await.unwrap();
        assert_eq!(staged().await, 1, "{backend:?}");
        sqlx::query("UPDATE store_work SET touched_at = touched_at - $1")
            .bind(STALE_SECS + 1)
            .execute(store.pool())
            .await
            .unwrap();
        assert!(store.work_in_progress(t).await.unwrap().is_empty());
        store.begin_crawl().await.unwrap().abandon().await.unwrap();
        assert_eq!(staged().await, 0, "{backend:?}");
        assert!(store.load_checks().await.unwrap().is_empty());
    }
}

/// When SQLite refuses the connection's set-up (a full disk, a read-only file), the error
/// is SQLite's own reason, not "pool timed out while waiting for an open connection" after
/// ten seconds (the reason was only in a log line).
#[tokio::test]
async fn a_refused_connection_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    std::fs::write(&path, b"").unwrap();
    let url = format!("sqlite://{}?mode=ro", path.display());
    let err = Store::open(&url).await.unwrap_err().to_string();
    assert!(!err.contains("timed out"), "{err}");
    assert!(err.contains("readonly"), "{err}");
}

/// A crawl counts what it changed: the first results, then nothing when the same ones come
/// again (times and latencies aside), then a changed outcome; the change mark moves only with
/// a crawl that changed something.
#[tokio::test]
async fn a_crawl_counts_what_it_changed() {
    for (backend, store) in test_stores("changes").await {
        let (m, d) = example_store(&store).await;
        let crawl = |record: CheckRecord| {
            let store = store.clone();
            async move {
                let mut w = store.begin_crawl().await.unwrap();
                w.write(&[record]).await.unwrap();
                w.finish(&a_run(1), &[], &[], &[]).await.unwrap()
            }
        };
        assert_eq!(crawl(current_check(m, d, 10)).await, 1, "{backend:?}");
        let mark = store.change_mark().await.unwrap();
        let mut again = current_check(m, d, 20);
        again.latency_ms = Some(99);
        assert_eq!(crawl(again).await, 0, "{backend:?}: the same result");
        assert_eq!(store.change_mark().await.unwrap(), mark);
        let mut missing = current_check(m, d, 30);
        missing.outcome = CheckOutcome::Missing;
        missing.http_status = Some(404);
        assert_eq!(crawl(missing).await, 1, "{backend:?}");
        assert_ne!(store.change_mark().await.unwrap(), mark);
    }
}

/// A crawl records when a mirror first served each version: found there at its first check
/// (not observed arriving), seen arriving when its previous check held another version,
/// once per version; a failed check in between does not count as having had another one.
/// The snapshot turns them into the mirror's mean lag.
#[tokio::test]
async fn crawls_record_when_each_version_arrived() {
    for (backend, store) in test_stores("arrivals").await {
        let (m, d) = example_store(&store).await;
        // Three versions an hour apart, the last 7 hours ago.
        let base = shared::time::now() - 10 * 3600;
        let version = |n: i64| RepomdVersion {
            first_seen: base + n * 3600,
            ..version(n)
        };
        for n in 1..=3 {
            store.record_repomd(d, &version(n)).await.unwrap();
        }
        let crawl = |record: CheckRecord| {
            let store = store.clone();
            async move {
                let mut w = store.begin_crawl().await.unwrap();
                w.write(&[record]).await.unwrap();
                w.finish(&a_run(1), &[], &[], &[]).await.unwrap();
            }
        };
        let holding = |n: i64, at: i64| CheckRecord {
            sha256_seen: Some(version(n).sha256),
            good_sha256: Some(version(n).sha256),
            ..current_check(m, d, at)
        };
        let t = |n: i64| version(n).first_seen;
        crawl(holding(1, t(1) + 60)).await;
        crawl(holding(1, t(1) + 120)).await;
        crawl(holding(2, t(2) + 600)).await;
        crawl(holding(2, t(2) + 900)).await;
        let mut failed = current_check(m, d, t(3) + 60);
        (failed.outcome, failed.sha256_seen, failed.good_sha256) =
            (CheckOutcome::Error, None, None);
        crawl(failed).await;
        crawl(holding(3, t(3) + 1200)).await;
        let mut got: Vec<_> = store
            .arrivals_since(0)
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.mirror_id, a.directory_id, a.sha256, a.at, a.observed))
            .collect();
        got.sort_by_key(|a| a.3);
        assert_eq!(
            got,
            vec![
                (m, d, version(1).sha256, t(1) + 60, false),
                (m, d, version(2).sha256, t(2) + 600, true),
                (m, d, version(3).sha256, t(3) + 1200, false),
            ],
            "{backend:?}"
        );
        // Since version 3's publication: its arrival, not observed (after a failed check),
        // and the one that began the watch.
        assert_eq!(
            store.arrivals_since(t(3)).await.unwrap().len(),
            2,
            "{backend:?}"
        );
        let input = store.snapshot_input().await.unwrap().unwrap();
        assert!(
            !input.arrivals.is_empty(),
            "{backend:?}: the snapshot reads them"
        );
        let snap = shared::snapshot::build(&input, 1, t(2) + 1800, "test");
        let name = &store.load_mirrors_with_ids().await.unwrap()[0].1.name;
        let record = &snap
            .mirrors
            .iter()
            .find(|s| &s.name == name)
            .unwrap()
            .record;
        // Half an hour after version 2's publication: it arrived 10 min after it (version 1
        // was published before watching began, so is left out).
        assert_eq!(record.mean_lag_24h, Some(600), "{backend:?}");
    }
}

/// A version's package sample is kept by directory and checksum, replaced when recorded
/// again, and ignored for a version the store does not know.
#[tokio::test]
async fn package_samples_round_trip() {
    for (backend, store) in test_stores("samples").await {
        let (_, d) = example_store(&store).await;
        store.record_repomd(d, &version(1)).await.unwrap();
        let sample = vec![
            ("Packages/a.rpm".to_string(), 10),
            ("Packages/b.rpm".to_string(), 20),
        ];
        store
            .record_sample(d, &version(1).sha256, &sample)
            .await
            .unwrap();
        store
            .record_sample(d, &version(1).sha256, &sample[1..])
            .await
            .unwrap();
        store.record_sample(d, "unknown", &sample).await.unwrap();
        assert_eq!(
            store.samples().await.unwrap(),
            HashMap::from([((d, version(1).sha256), sample[1..].to_vec())]),
            "{backend:?}"
        );
    }
}

/// A batch that outlasts its lease renews it: another checker does not take those mirrors
/// meanwhile, and a claim taken over by another is not renewed by its old holder.
#[tokio::test]
async fn renewed_claims_are_not_taken_by_another_checker() {
    let schedule = Schedule {
        interval: 900,
        first_within: 1,
    };
    for (backend, store) in test_stores("renew").await {
        store
            .apply_registry(&example_mirrors(), false)
            .await
            .unwrap();
        let now = 1_800_000_000;
        store.schedule_new_mirrors(&schedule, now).await.unwrap();
        let a = store.claim_due("a", now + 1, 5, 2).await.unwrap();
        assert_eq!(a.len(), 2, "{backend:?}");
        assert_eq!(store.renew_claims("a", &a, now + 4, 5).await.unwrap(), 2);
        let b = store.claim_due("b", now + 7, 5, 100).await.unwrap();
        assert!(
            b.iter()
                .all(|c| !a.iter().any(|x| x.mirror_id == c.mirror_id)),
            "{backend:?}: b took a renewed claim"
        );
        // Not renewed: at now + 10 the lease has run out and b takes them.
        let b2 = store.claim_due("b", now + 10, 5, 100).await.unwrap();
        assert!(a
            .iter()
            .all(|x| b2.iter().any(|c| c.mirror_id == x.mirror_id)));
        assert_eq!(store.renew_claims("a", &a, now + 11, 5).await.unwrap(), 0);
    }
}

/// An operator's recheck asks for a full check: the claim says so until the check is
/// completed.
#[tokio::test]
async fn a_recheck_claims_a_full_check_once() {
    let schedule = Schedule {
        interval: 900,
        first_within: 1,
    };
    for (backend, store) in test_stores("full").await {
        store
            .apply_registry(&example_mirrors(), false)
            .await
            .unwrap();
        let now = 1_800_000_000;
        store.schedule_new_mirrors(&schedule, now).await.unwrap();
        let first = store.claim_due("a", now + 1, 60, 100).await.unwrap();
        assert!(first.iter().all(|c| !c.full), "{backend:?}");
        store
            .complete_claims("a", &first, &schedule, now + 2)
            .await
            .unwrap();
        let id = first[0].mirror_id;
        assert_eq!(store.make_due(&[id], now + 3).await.unwrap(), 1);
        let again = store.claim_due("a", now + 3, 60, 100).await.unwrap();
        assert_eq!(again.len(), 1, "{backend:?}");
        assert!(again[0].full);
        store
            .complete_claims("a", &again, &schedule, now + 4)
            .await
            .unwrap();
        let later = store.claim_due("a", now + 2000, 60, 100).await.unwrap();
        assert!(
            later.iter().all(|c| !c.full),
            "{backend:?}: completed, the next check is on the schedule again"
        );
    }
}
