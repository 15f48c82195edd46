//! Telling operators what changed: a crawl's health changes composed into messages to each
//! mirror's contact (one per contact per crawl, however many of their mirrors changed),
//! written to the outbox in the crawl's transaction, and delivered from there by every
//! checker under a lease, retried with backoff for a day.
//!
//! Only a change of a known state is told (up to down, down to up): a new mirror's first
//! findings are on its page. A run the 70% rule sets aside changes no state, and a
//! maintenance window's capabilities are not judged, so neither is ever told.

use crate::control::mail::{Mailer, Message};
use shared::duration::utc_minute;
use shared::model::HealthState;
use shared::registry::Mirror;
use std::collections::BTreeMap;
use store::{HealthEvent, OutboxMessage, Store};

/// The capabilities whose changes are told.
const TOLD: &[&str] = &["http", "https", "ipv4", "ipv6", "content", "sync"];

/// A message is given up this long after it was written.
const GIVE_UP_SECS: i64 = 86_400;

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

fn told(e: &HealthEvent) -> bool {
    TOLD.contains(&e.capability.as_str())
        && matches!(
            (e.old_state, e.new_state),
            (HealthState::Up, HealthState::Down) | (HealthState::Down, HealthState::Up)
        )
}

/// The contacts of a mirror: its `email`, split where several are listed.
fn contacts_of(m: &Mirror) -> Vec<String> {
    m.email
        .as_deref()
        .unwrap_or("")
        .split([',', ' ', ';'])
        .map(str::trim)
        .filter(|a| a.contains('@'))
        .map(str::to_ascii_lowercase)
        .collect()
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
    let probe = Mirror {
        email: Some(contacts.to_string()),
        ..Mirror::new(name, "")
    };
    contacts_of(&probe)
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
        let here = country.is_none_or(|c| {
            m.geo
                .country
                .as_deref()
                .is_some_and(|mc| mc.eq_ignore_ascii_case(c))
        });
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

/// Delivers the messages due now that `holder` claims, each through `mailer`; returns how
/// many were sent, retried and given up.
pub async fn deliver(
    store: &Store,
    mailer: &Mailer,
    holder: &str,
    (retry_secs, lease_secs): (i64, i64),
    now: i64,
) -> store::Result<(usize, usize, usize)> {
    let claimed = store.claim_outbox(holder, now, lease_secs, 20).await?;
    let (mut sent, mut retried, mut gave_up) = (0, 0, 0);
    for m in claimed {
        let message = Message {
            to: m.recipient.clone(),
            subject: m.subject.clone(),
            body: m.body.clone(),
        };
        let result =
            match tokio::time::timeout(std::time::Duration::from_secs(60), mailer.send(&message))
                .await
            {
                Ok(r) => r,
                Err(_) => Err("the mail relay did not answer within 60 s".into()),
            };
        let at = shared::time::now();
        match result {
            Ok(()) => {
                store.outbox_delivered(m.id, holder, at).await?;
                sent += 1;
            }
            Err(e) => {
                let backoff = (retry_secs.max(1) << m.attempts.clamp(0, 12)).min(3600);
                let retry = (at + backoff < m.created_at + GIVE_UP_SECS).then_some(at + backoff);
                tracing::warn!(to = %m.recipient, error = %e, retry = retry.is_some(), "notification not sent");
                store.outbox_failed(m.id, holder, at, &e, retry).await?;
                if retry.is_some() {
                    retried += 1;
                } else {
                    gave_up += 1;
                }
            }
        }
    }
    Ok((sent, retried, gave_up))
}

#[cfg(test)]
mod tests;
