use super::*;
use crate::catalog::Catalog;
use crate::model::{Family, RepomdVersion};
use crate::snapshot::{build, Activity, SnapshotInput};
use crate::testing::{all_current_input, example};

const NOW: i64 = 1_800_000_000;
const H: i64 = 3600;

fn input() -> SnapshotInput {
    let catalog = Catalog::load(&example("catalog.toml")).unwrap();
    let mirrors = crate::registry::import_dir(&example("mirrors.d"))
        .unwrap()
        .mirrors;
    let mut input = all_current_input(catalog, mirrors, |_| {
        Some(RepomdVersion {
            size: 1,
            timestamp: NOW - 2 * H,
            md5: "a".repeat(32),
            sha1: "b".repeat(40),
            sha256: "c".repeat(64),
            sha512: "d".repeat(128),
            first_seen: NOW - 2 * H,
        })
    });
    for (id, _) in &input.mirrors {
        input.activity.insert(
            *id,
            Activity {
                checked_at: Some(NOW - 60),
                ..Activity::default()
            },
        );
    }
    input
}

fn window(scope: Scope, from: i64, until: i64) -> Window {
    Window {
        scope,
        from,
        until,
        note: "disk swap".into(),
        awaiting_check: false,
        holds: false,
    }
}

/// The input with a window on its first public mirror; that mirror's index and name.
fn with_window(w: Window) -> (SnapshotInput, u32) {
    let mut input = input();
    let at = input
        .mirrors
        .iter()
        .position(|(_, m)| m.name == "mirror1.example.org")
        .expect("the example registry has mirror1.example.org");
    input.maintenance.insert(input.mirrors[at].0, vec![w]);
    (input, at as u32)
}

fn served_dirs(snap: &Snapshot, mirror: u32, p: Protocol) -> usize {
    let bit = protocol_bit(p);
    snap.directories
        .iter()
        .filter(|d| {
            d.mirrors
                .iter()
                .any(|dm| dm.mirror == mirror && dm.protocols & bit != 0)
        })
        .count()
}

#[test]
fn a_window_that_holds_takes_the_whole_mirror_out_with_its_note() {
    let (input, at) = with_window(window(Scope::Mirror, NOW - H, NOW + H));
    let snap = build(&input, 1, NOW, "test");
    let m = &snap.mirrors[at as usize];
    assert_eq!(
        m.refused,
        Some(NotServed::Maintenance {
            until: NOW + H,
            note: "disk swap".into()
        })
    );
    assert_eq!(
        m.refused.as_ref().unwrap().to_string(),
        "in maintenance until 2027-01-15 09:00 UTC: disk swap"
    );
    assert_eq!(served_dirs(&snap, at, Protocol::Https), 0);
    assert_eq!(count(&snap), (1, 0));
    // Without the window it is served.
    let plain = build(&self::input(), 1, NOW, "test");
    assert!(served_dirs(&plain, at, Protocol::Https) > 0);
    assert_eq!(count(&plain), (0, 0));
}

#[test]
fn a_planned_window_is_carried_and_applied_at_its_start_without_a_new_build() {
    let (input, at) = with_window(window(Scope::Mirror, NOW + H, NOW + 2 * H));
    let mut snap = build(&input, 1, NOW, "test");
    let served = served_dirs(&snap, at, Protocol::Https);
    assert!(served > 0, "served before the window");
    assert_eq!(next_start(&snap, NOW), Some(NOW + H));
    assert_eq!(apply(&mut snap, NOW + H - 1), 0, "not yet");
    assert_eq!(served_dirs(&snap, at, Protocol::Https), served);
    assert_eq!(apply(&mut snap, NOW + H), 1, "its start");
    assert_eq!(served_dirs(&snap, at, Protocol::Https), 0);
    assert_eq!(next_start(&snap, NOW + H), None);
    // Applying never puts back: after the window the snapshot still leaves it out (a new
    // snapshot, after a check, brings it back).
    assert_eq!(apply(&mut snap, NOW + 3 * H), 0);
    assert_eq!(served_dirs(&snap, at, Protocol::Https), 0);
    let dir = snap
        .directories
        .iter()
        .position(|d| !d.mirrors.is_empty())
        .unwrap();
    assert!(matches!(
        snap.verdict(dir, at, Protocol::Https, Family::Any),
        Err(NotServed::Maintenance { .. })
    ));
}

#[test]
fn a_protocol_window_takes_out_that_protocol_alone() {
    let (input, at) = with_window(window(Scope::Https, NOW - H, NOW + H));
    let snap = build(&input, 1, NOW, "test");
    assert_eq!(snap.mirrors[at as usize].refused, None);
    assert_eq!(served_dirs(&snap, at, Protocol::Https), 0);
    assert!(served_dirs(&snap, at, Protocol::Http) > 0);
    let dir = snap
        .directories
        .iter()
        .position(|d| d.mirrors.iter().any(|dm| dm.mirror == at))
        .unwrap();
    assert!(snap.verdict(dir, at, Protocol::Http, Family::Any).is_ok());
    assert!(matches!(
        snap.verdict(dir, at, Protocol::Https, Family::Any),
        Err(NotServed::Maintenance { .. })
    ));
    assert_eq!(count(&snap), (0, 1));
}

#[test]
fn a_family_window_takes_out_that_family_alone() {
    let (input, at) = with_window(window(Scope::V6, NOW - H, NOW + H));
    let snap = build(&input, 1, NOW, "test");
    let m = &snap.mirrors[at as usize];
    assert!(m.ipv4 && !m.ipv6);
    let dir = snap
        .directories
        .iter()
        .position(|d| d.mirrors.iter().any(|dm| dm.mirror == at))
        .unwrap();
    assert!(snap.verdict(dir, at, Protocol::Https, Family::V4).is_ok());
    assert!(matches!(
        snap.verdict(dir, at, Protocol::Https, Family::V6),
        Err(NotServed::Maintenance { .. })
    ));
}

#[test]
fn after_its_window_a_mirror_waits_for_a_good_check_after_the_end() {
    // Ended an hour ago; no good check since (the store says so).
    let mut w = window(Scope::Mirror, NOW - 3 * H, NOW - H);
    w.awaiting_check = true;
    let (mut input, at) = with_window(w);
    let id = input.mirrors[at as usize].0;
    let snap = build(&input, 1, NOW, "test");
    assert_eq!(
        snap.mirrors[at as usize].refused,
        Some(NotServed::AfterMaintenance { ended: NOW - H })
    );
    assert_eq!(
        snap.mirrors[at as usize]
            .refused
            .as_ref()
            .unwrap()
            .to_string(),
        "its maintenance ended at 2027-01-15 07:00 UTC; served again once a check finds it current"
    );
    assert_eq!(served_dirs(&snap, at, Protocol::Https), 0);
    // A good check confirmed it: the store no longer gives the window; served again.
    input.maintenance.remove(&id);
    let snap = build(&input, 2, NOW, "test");
    assert_eq!(snap.mirrors[at as usize].refused, None);
    assert!(snap.mirrors[at as usize].maintenance.is_empty());
    assert!(served_dirs(&snap, at, Protocol::Https) > 0);
}
