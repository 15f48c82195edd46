use crate::testing::test_stores;
use crate::WindowPlan;
use shared::model::Scope;

const H: i64 = 3600;
const MAX: i64 = 14 * 24 * H;

fn plan(scope: Scope, from: i64, until: i64, note: &str) -> WindowPlan {
    WindowPlan {
        mirror: "m.example.org".into(),
        scope,
        from,
        until,
        note: note.into(),
    }
}

#[tokio::test]
async fn overlapping_windows_of_one_scope_merge_and_others_stay_apart() {
    for (backend, store) in test_stores("maintenance_merge").await {
        let now = 1_000_000;
        let a = store
            .add_window(
                &plan(Scope::Mirror, now + H, now + 3 * H, "disks"),
                "op",
                MAX,
                now,
            )
            .await
            .unwrap()
            .unwrap();
        // Overlapping: merged into the first, notes joined.
        let b = store
            .add_window(
                &plan(Scope::Mirror, now + 2 * H, now + 5 * H, "network"),
                "op",
                MAX,
                now,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(b.id, a.id, "{backend:?}");
        assert_eq!((b.from, b.until), (now + H, now + 5 * H));
        assert_eq!(b.note, "network; disks");
        // Another scope, and a window apart: their own.
        let c = store
            .add_window(
                &plan(Scope::V6, now + 2 * H, now + 3 * H, ""),
                "op",
                MAX,
                now,
            )
            .await
            .unwrap()
            .unwrap();
        let d = store
            .add_window(
                &plan(Scope::Mirror, now + 10 * H, now + 11 * H, "later"),
                "op",
                MAX,
                now,
            )
            .await
            .unwrap()
            .unwrap();
        assert!(c.id != a.id && d.id != a.id);
        let all = store.windows(Some("m.example.org"), now).await.unwrap();
        assert_eq!(all.len(), 3, "{all:?}");
        // Bridging the two mirror windows merges all three into one.
        let e = store
            .add_window(
                &plan(Scope::Mirror, now + 4 * H, now + 10 * H, ""),
                "op",
                MAX,
                now,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!((e.from, e.until), (now + H, now + 11 * H));
        assert_eq!(
            store
                .windows(Some("m.example.org"), now)
                .await
                .unwrap()
                .len(),
            2
        );
        // A merge past the longest allowed is refused, and nothing changes.
        let refused = store
            .add_window(
                &plan(Scope::Mirror, now + 11 * H, now + MAX + 2 * H, ""),
                "op",
                MAX,
                now,
            )
            .await
            .unwrap()
            .unwrap_err();
        assert!(
            refused.contains("longer than the longest allowed"),
            "{refused}"
        );
        assert_eq!(
            store.window(e.id).await.unwrap().unwrap().until,
            now + 11 * H
        );
    }
}

#[tokio::test]
async fn a_window_is_changed_ended_early_or_cancelled_and_the_mark_moves() {
    for (backend, store) in test_stores("maintenance_end").await {
        let now = 1_000_000;
        let mark = store.change_mark().await.unwrap();
        let w = store
            .add_window(
                &plan(Scope::Https, now - H, now + H, "cert"),
                "op",
                MAX,
                now,
            )
            .await
            .unwrap()
            .unwrap();
        let marked = store.change_mark().await.unwrap();
        assert_ne!(marked, mark, "{backend:?}: a new window moves the mark");
        let changed = store
            .change_window(
                w.id,
                &plan(Scope::Https, now - H, now + 2 * H, "cert+"),
                "op",
                MAX,
                now,
            )
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(
            (changed.until, changed.note.as_str()),
            (now + 2 * H, "cert+")
        );
        assert_ne!(store.change_mark().await.unwrap(), marked);
        // Holding: ended now, kept with its new end.
        let ended = store.end_window(w.id, now).await.unwrap().unwrap();
        assert_eq!(ended.id, w.id);
        assert_eq!(store.window(w.id).await.unwrap().unwrap().until, now);
        assert!(
            store.end_window(w.id, now + 1).await.unwrap().is_none(),
            "over"
        );
        // Planned: cancelled, gone from the list.
        let p = store
            .add_window(
                &plan(Scope::Mirror, now + H, now + 2 * H, ""),
                "op",
                MAX,
                now,
            )
            .await
            .unwrap()
            .unwrap();
        assert!(store.end_window(p.id, now).await.unwrap().is_some());
        assert!(store.window(p.id).await.unwrap().is_none());
        assert!(store
            .windows(Some("m.example.org"), now)
            .await
            .unwrap()
            .is_empty());
        assert!(store
            .change_window(p.id, &plan(Scope::Mirror, now, now + H, ""), "op", MAX, now)
            .await
            .unwrap()
            .is_none());
    }
}

#[tokio::test]
async fn an_ended_window_waits_for_a_good_check_and_the_leader_is_told_to_check_once() {
    for (backend, store) in test_stores("maintenance_confirm").await {
        let m = shared::registry::Mirror::new("m.example.org", "M");
        store.apply_registry(&[m], false).await.unwrap();
        let id = store.load_mirrors_with_ids().await.unwrap()[0].0;
        let now = 1_000_000;
        store
            .add_window(&plan(Scope::Mirror, now, now + H, ""), "op", MAX, now)
            .await
            .unwrap()
            .unwrap();
        let held = &store.windows_by_mirror(now + 10).await.unwrap()[&id];
        assert!(
            !held[0].awaiting_check && held[0].holds_at(now + 10),
            "{backend:?}"
        );
        // Over: it waits for a check, and the leader makes the mirror due once.
        let after = now + H + 5;
        let waiting = &store.windows_by_mirror(after).await.unwrap()[&id];
        assert!(waiting[0].awaiting_check);
        assert_eq!(
            store.windows_awaiting_check(0, after).await.unwrap(),
            vec![id]
        );
        assert!(store
            .windows_awaiting_check(after, after + 60)
            .await
            .unwrap()
            .is_empty());
        // A check that started before the end confirms nothing; one after it does.
        let mark = store.change_mark().await.unwrap();
        assert_eq!(store.confirm_windows(&[id], now + H - 1).await.unwrap(), 0);
        assert_eq!(store.confirm_windows(&[id], after).await.unwrap(), 1);
        assert_ne!(store.change_mark().await.unwrap(), mark, "published again");
        assert!(store.windows_by_mirror(after).await.unwrap().is_empty());
    }
}
