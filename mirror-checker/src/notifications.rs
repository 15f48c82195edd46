//! Telling operators what changed: a crawl's health changes composed into messages to each
//! mirror's contact (one per contact per crawl, however many of their mirrors changed),
//! written to the outbox in the crawl's transaction (delivered from there: `delivery`).
//!
//! Only a change of a known state is told (up to down, down to up): a new mirror's first
//! findings are on its page. A run the 70% rule sets aside changes no state, and a
//! maintenance window's capabilities are not judged, so neither is ever told.

use shared::duration::utc_minute;
use shared::model::HealthState;
use shared::registry::Mirror;
use std::collections::BTreeMap;
use store::{HealthEvent, OutboxMessage, Store};

/// The capabilities whose changes are told.
const TOLD: &[&str] = &["http", "https", "ipv4", "ipv6", "content", "sync"];

fn advice(capability: &str) -> &'static str {
    match capability {
        "http" | "https" => {
            "the checker could not fetch your repodata over it: the reason above says what failed"
        }
        "ipv4" | "ipv6" => "check the host's address of that family, its routing and firewall",
        "content" => "some directories are not served: the reason above says which and why",
        "sync" => "your TIME file is old: check that your sync job runs, and how often",
        _ => "see the mirror's page",
    }
}

/// One told change, as a line of a message.
fn line(e: &HealthEvent, mirror: &str, base: &str) -> String {
    let when = utc_minute(e.at);
    let page = format!("{base}/mirrors/{mirror}");
    if e.new_state == HealthState::Down {
        format!(
            "{mirror}: {} went down at {when}: {}\n  What to do: {}.\n  Its page: {page}\n",
            e.capability,
            e.reason,
            advice(&e.capability)
        )
    } else {
        format!(
            "{mirror}: {} is back up since {when} ({}).\n  Its page: {page}\n",
            e.capability, e.reason
        )
    }
}

/// Whether `e` is told (mail and webhooks alike): a change of a known state of a told
/// capability.
pub fn told(e: &HealthEvent) -> bool {
    TOLD.contains(&e.capability.as_str())
        && matches!(
            (e.old_state, e.new_state),
            (HealthState::Up, HealthState::Down) | (HealthState::Down, HealthState::Up)
        )
}

/// The contacts of a mirror: its `email`, split where several are listed.
fn contacts_of(m: &Mirror) -> Vec<String> {
    contacts_in(m.email.as_deref().unwrap_or(""))
}

/// The addresses in a contact field (several separated by commas, spaces or semicolons).
fn contacts_in(text: &str) -> Vec<String> {
    text.split([',', ' ', ';'])
        .map(str::trim)
        .filter(|a| a.contains('@'))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Whether `m` is one of those a notice for `country` (every mirror, with none) is for:
/// the registry places it there.
pub fn for_country(m: &Mirror, country: Option<&str>) -> bool {
    country.is_none_or(|c| {
        m.geo
            .country
            .as_deref()
            .is_some_and(|mc| mc.eq_ignore_ascii_case(c))
    })
}

/// The messages telling `mirrors`' contacts of `events`; `base` is the control plane's
/// public address, for the links to each mirror's page.
pub fn compose(
    mirrors: &[(i64, Mirror)],
    events: &[HealthEvent],
    base: &str,
) -> Vec<OutboxMessage> {
    // Contact → mirror → its told changes.
    let mut by_contact: BTreeMap<String, BTreeMap<&str, Vec<&HealthEvent>>> = BTreeMap::new();
    for e in events.iter().filter(|e| told(e)) {
        let Some((_, m)) = mirrors.iter().find(|(id, _)| *id == e.mirror_id) else {
            continue;
        };
        for to in contacts_of(m) {
            let mirrors = by_contact.entry(to).or_default();
            mirrors.entry(m.name.as_str()).or_default().push(e);
        }
    }
    by_contact
        .into_iter()
        .map(|(to, changed)| {
            let all: Vec<(&str, &HealthEvent)> = changed
                .iter()
                .flat_map(|(m, es)| es.iter().map(move |e| (*m, *e)))
                .collect();
            let downs = all
                .iter()
                .filter(|(_, e)| e.new_state == HealthState::Down)
                .count();
            let kind = match downs {
                0 => "recovered",
                n if n == all.len() => "down",
                _ => "changes",
            };
            let first = *changed
                .keys()
                .next()
                .expect("a contact is told of some change");
            let caps: Vec<&str> = all.iter().map(|(_, e)| e.capability.as_str()).collect();
            let subject = match (changed.len(), kind) {
                (1, "down") => format!("{first}: {} down", caps.join(", ")),
                (1, "recovered") => format!("{first}: {} back up", caps.join(", ")),
                (1, _) => format!("{first}: {} changes", all.len()),
                (n, _) => format!("{n} of your mirrors changed ({first}, ...)"),
            };
            let mut body = String::from("The mirror checker found:\n\n");
            for (m, e) in &all {
                body.push_str(&line(e, m, base));
                body.push('\n');
            }
            body.push_str(
                "You get this as a contact of these mirrors. Planned work? Declare a \
                 maintenance window on the mirror's page: nothing is sent while it holds.\n",
            );
            OutboxMessage {
                mirror: first.to_string(),
                kind: kind.into(),
                channel: "email".into(),
                recipient: to,
                subject,
                body,
            }
        })
        .collect()
}

/// The message telling `contacts` of an admin's decision on `name`: `kind` is `approved`,
/// `refused`, `held` or `released`, with the admin's reason.
pub fn decision(
    contacts: &str,
    name: &str,
    kind: &str,
    reason: Option<&str>,
    base: &str,
) -> Vec<OutboxMessage> {
    let (subject, what) = match kind {
        "approved" => (
            format!("{name}: approved"),
            "An admin approved it: it is checked and, when current, served from the next snapshot.",
        ),
        "refused" => (
            format!("{name}: refused"),
            "An admin refused the registration; the reason is below.",
        ),
        "held" => (
            format!("{name}: held out of the answers"),
            "An admin holds it out of the answers until they lift the hold; the reason is below.",
        ),
        _ => (
            format!("{name}: hold lifted"),
            "An admin lifted their hold: it is served again by the ordinary rule.",
        ),
    };
    let reason = reason.map_or(String::new(), |r| format!("Reason: {r}\n"));
    contacts_in(contacts)
        .into_iter()
        .map(|to| OutboxMessage {
            mirror: name.into(),
            kind: kind.into(),
            channel: "email".into(),
            recipient: to,
            subject: subject.clone(),
            body: format!("{what}\n{reason}\nIts page: {base}/mirrors/{name}\n"),
        })
        .collect()
}

/// One notice from the distribution's operators to every contact of `mirrors` (or of those
/// placed in `country` by the registry), each contact once.
pub fn notice(
    mirrors: &[Mirror],
    subject: &str,
    body: &str,
    country: Option<&str>,
) -> Vec<OutboxMessage> {
    let mut to: BTreeMap<String, &str> = BTreeMap::new();
    for m in mirrors {
        let here = for_country(m, country);
        if here {
            for address in contacts_of(m) {
                to.entry(address).or_insert(m.name.as_str());
            }
        }
    }
    to.into_iter()
        .map(|(recipient, mirror)| OutboxMessage {
            mirror: mirror.to_string(),
            kind: "notice".into(),
            channel: "email".into(),
            recipient,
            subject: subject.to_string(),
            body: format!("{body}\n\nYou get this as a contact of a mirror of this network.\n"),
        })
        .collect()
}

/// Reminders of what is still down: one per mirror and contact, for a mirror whose told
/// capabilities (those `went_down` says went from up to down, not a first finding such as
/// an IPv6 address it never had) have been down longer than `every` and whose contacts were last told of it
/// longer than `every` ago (`told`, by mirror); none for a mirror `resting` (a maintenance
/// window holds on it).
pub fn reminders(
    mirrors: &[(i64, Mirror)],
    health: &[store::HealthRecord],
    went_down: &std::collections::HashSet<(i64, String)>,
    told: &std::collections::HashMap<String, i64>,
    resting: &std::collections::HashSet<i64>,
    (every, now): (i64, i64),
    base: &str,
) -> Vec<OutboxMessage> {
    let mut out = Vec::new();
    for (id, m) in mirrors
        .iter()
        .filter(|(id, m)| m.enabled && !resting.contains(id))
    {
        let down: Vec<&store::HealthRecord> = health
            .iter()
            .filter(|h| h.mirror_id == *id && h.state == HealthState::Down)
            .filter(|h| TOLD.contains(&h.capability.as_str()) && h.since <= now - every)
            .filter(|h| went_down.contains(&(h.mirror_id, h.capability.clone())))
            .collect();
        let recently = told.get(&m.name).is_some_and(|at| *at > now - every);
        if down.is_empty() || recently {
            continue;
        }
        let mut body = String::from("Still down, as the mirror checker finds it:\n\n");
        for h in &down {
            body.push_str(&format!(
                "{}: {} down since {}: {}\n  What to do: {}.\n",
                m.name,
                h.capability,
                utc_minute(h.since),
                h.reason,
                advice(&h.capability)
            ));
        }
        body.push_str(&format!(
            "\nIts page: {base}/mirrors/{}\n\nYou are reminded at most once a day while it lasts; \
             a maintenance window on the mirror's page silences it, and disabling the mirror ends it.\n",
            m.name
        ));
        let caps: Vec<&str> = down.iter().map(|h| h.capability.as_str()).collect();
        for to in contacts_of(m) {
            out.push(OutboxMessage {
                mirror: m.name.clone(),
                kind: "reminder".into(),
                channel: "email".into(),
                recipient: to,
                subject: format!("{}: {} still down", m.name, caps.join(", ")),
                body: body.clone(),
            });
        }
    }
    out
}

/// Writes reminders of what is still down, by `control`'s `remind_every`; returns how many.
pub async fn remind(
    store: &Store,
    control: &crate::control::config::ControlConfig,
) -> store::Result<usize> {
    let every = control.remind_every.as_secs() as i64;
    if every == 0 {
        return Ok(0);
    }
    let now = shared::time::now();
    let resting: std::collections::HashSet<i64> = store
        .windows_by_mirror(now)
        .await?
        .into_iter()
        .filter(|(_, ws)| ws.iter().any(|w| !w.awaiting_check && w.holds_at(now)))
        .map(|(id, _)| id)
        .collect();
    // The last change of each capability in 30 days: reminded of only if it went down.
    let mut last: std::collections::HashMap<(i64, String), bool> = Default::default();
    for e in store.health_events_since(now - 30 * 86_400).await? {
        let went = e.old_state == HealthState::Up && e.new_state == HealthState::Down;
        last.insert((e.mirror_id, e.capability), went);
    }
    let went_down = last
        .into_iter()
        .filter(|(_, d)| *d)
        .map(|(k, _)| k)
        .collect();
    let base = control.public_url(control.listen);
    let reminders = reminders(
        &store.load_mirrors_with_ids().await?,
        &store.load_health().await?,
        &went_down,
        &store.last_told_down().await?,
        &resting,
        (every, now),
        &base,
    );
    store.enqueue(&reminders, now).await?;
    Ok(reminders.len())
}

#[cfg(test)]
mod tests;
