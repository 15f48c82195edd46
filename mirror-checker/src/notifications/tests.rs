use super::*;

fn mirror(name: &str, email: Option<&str>) -> Mirror {
    let mut m = Mirror::new(name, "Test");
    m.email = email.map(str::to_string);
    m
}

fn event(id: i64, capability: &str, from: HealthState, to: HealthState) -> HealthEvent {
    HealthEvent {
        mirror_id: id,
        capability: capability.into(),
        old_state: from,
        new_state: to,
        reason: format!("{capability}: connection refused (2 of 2 failed runs)"),
        at: 1_795_320_664,
    }
}

const BASE: &str = "https://control.example.org";

#[test]
fn a_change_of_state_is_told_to_the_contact_with_the_reason_what_to_do_and_the_page() {
    let mirrors = vec![
        (1, mirror("a.example.org", Some("Op@Example.org"))),
        (
            2,
            mirror("b.example.org", Some("op@example.org, noc@example.org")),
        ),
        (3, mirror("quiet.example.org", None)),
    ];
    let down = event(1, "https", HealthState::Up, HealthState::Down);
    let m = compose(&mirrors, std::slice::from_ref(&down), BASE);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].recipient, "op@example.org");
    assert_eq!(m[0].subject, "a.example.org: https down");
    assert_eq!(m[0].kind, "down");
    assert!(
        m[0].body.contains(
            "a.example.org: https went down at 2026-11-22 04:11 UTC: https: connection refused"
        ),
        "{}",
        m[0].body
    );
    assert!(
        m[0].body
            .contains("What to do: the checker could not fetch"),
        "{}",
        m[0].body
    );
    assert!(m[0]
        .body
        .contains("Its page: https://control.example.org/mirrors/a.example.org"));
    // Back up: told as such.
    let up = event(1, "https", HealthState::Down, HealthState::Up);
    let m = compose(&mirrors, &[up], BASE);
    assert_eq!(
        (m[0].subject.as_str(), m[0].kind.as_str()),
        ("a.example.org: https back up", "recovered")
    );
    // Several mirrors of one contact in one crawl: one message to them, one to the other.
    let both = [
        down.clone(),
        event(2, "ipv6", HealthState::Up, HealthState::Down),
    ];
    let m = compose(&mirrors, &both, BASE);
    let to: Vec<&str> = m.iter().map(|m| m.recipient.as_str()).collect();
    assert_eq!(to, ["noc@example.org", "op@example.org"]);
    assert_eq!(
        m[1].subject,
        "2 of your mirrors changed (a.example.org, ...)"
    );
    assert!(m[1].body.contains("b.example.org: ipv6 went down"));
}

#[test]
fn first_findings_unknown_capabilities_and_mirrors_without_a_contact_are_not_told() {
    let mirrors = vec![
        (1, mirror("a.example.org", Some("op@example.org"))),
        (3, mirror("quiet.example.org", None)),
    ];
    let quiet = [
        event(1, "https", HealthState::Unknown, HealthState::Down),
        event(1, "https", HealthState::Unknown, HealthState::Up),
        event(1, "other", HealthState::Up, HealthState::Down),
        event(3, "https", HealthState::Up, HealthState::Down),
        event(9, "https", HealthState::Up, HealthState::Down),
    ];
    assert!(compose(&mirrors, &quiet, BASE).is_empty());
}

#[test]
fn a_notice_reaches_each_contact_once_or_those_of_one_country() {
    let mut de = mirror("de.example.org", Some("op@example.org"));
    de.geo.country = Some("DE".into());
    let mut de2 = mirror("de2.example.org", Some("OP@example.org, noc@example.de"));
    de2.geo.country = Some("DE".into());
    let mut fr = mirror("fr.example.org", Some("fr@example.fr"));
    fr.geo.country = Some("FR".into());
    let all = [de, de2, fr, mirror("quiet.example.org", None)];
    let to = |m: Vec<OutboxMessage>| m.into_iter().map(|m| m.recipient).collect::<Vec<_>>();
    assert_eq!(
        to(notice(&all, "10.2 is coming", "Sync it by Friday.", None)),
        ["fr@example.fr", "noc@example.de", "op@example.org"]
    );
    let de_only = notice(&all, "10.2", "Sync it.", Some("de"));
    assert_eq!(de_only.len(), 2);
    assert!(de_only[0].body.starts_with("Sync it."));
    assert!(notice(&all, "x", "y", Some("JP")).is_empty());
}

fn down(id: i64, capability: &str, since: i64) -> store::HealthRecord {
    store::HealthRecord {
        mirror_id: id,
        capability: capability.into(),
        state: HealthState::Down,
        since,
        reason: format!("{capability}: connection refused"),
        consecutive_ok: 0,
        consecutive_failed: 5,
    }
}

#[test]
fn what_stays_down_is_recalled_at_most_once_a_day_never_a_first_finding_or_in_maintenance() {
    use std::collections::{HashMap, HashSet};
    const DAY: i64 = 86_400;
    let now = 1_795_320_664;
    let mirrors = vec![
        (1, mirror("a.example.org", Some("op@example.org"))),
        (2, mirror("resting.example.org", Some("op@example.org"))),
    ];
    let health = vec![
        down(1, "https", now - 2 * DAY),
        // Never had an IPv6 address: down since its first check, never told.
        down(1, "ipv6", now - 5 * DAY),
        down(2, "https", now - 2 * DAY),
    ];
    let went: HashSet<(i64, String)> = [(1, "https".to_string()), (2, "https".to_string())].into();
    let none = HashMap::new();
    let resting: HashSet<i64> = [2].into();
    let r = reminders(&mirrors, &health, &went, &none, &resting, (DAY, now), BASE);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].subject, "a.example.org: https still down");
    assert_eq!(r[0].kind, "reminder");
    assert!(
        r[0].body.contains("https down since 2026-11-20 04:11 UTC"),
        "{}",
        r[0].body
    );
    // Told within the day: not again. Down for less than a day: not yet.
    let told: HashMap<String, i64> = [("a.example.org".to_string(), now - DAY / 2)].into();
    assert!(reminders(&mirrors, &health, &went, &told, &resting, (DAY, now), BASE).is_empty());
    let fresh = vec![down(1, "https", now - DAY / 2)];
    assert!(reminders(&mirrors, &fresh, &went, &none, &resting, (DAY, now), BASE).is_empty());
}
