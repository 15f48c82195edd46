//! `/mirrors/{name}`: the operator's page: state and reason, audience, placement, last check
//! and sync, availability and lag, every capability's state since when and why, warnings,
//! what to do next, the last 7 days, recent errors, health history, and the directories
//! grouped by verdict.

use super::layout::{head, page, percent, seg, state_label, tag, when, when_or};
use super::mirrors::families;
use maud::{html, Markup};
use shared::duration::human_age;
use shared::model::HealthState;
use shared::snapshot::history::Span;
use shared::status::{MirrorDetail, MirrorSummary};
use std::collections::BTreeMap;

pub fn mirror(d: &MirrorDetail, distribution: &str, now: i64) -> String {
    let m = &d.summary;
    let groups = directory_groups(d);
    let todo = advice_for(d);
    let body = html! {
        h1 { (m.name) }
        p { (state_label(m.state)) @if let Some(r) = &m.reason { ": " (r) } }
        (facts(d, now))
        (capabilities(d, now))
        @if !m.warnings.is_empty() {
            h2 { "Warnings" }
            ul { @for w in &m.warnings { li { (w) } } }
        }
        @if !todo.is_empty() {
            h2 { "What to do next" }
            ul { @for t in &todo { li { (t) } } }
        }
        @if !d.timeline.is_empty() {
            h2 { "The last 7 days" }
            (timeline_strip(&d.timeline, m.availability_7d))
            p {
                "Green: up by the health rule over at least one web protocol; red: down; \
                 grey: not known yet."
            }
        }
        @if !d.errors.is_empty() {
            h2 { "Recent errors" }
            ul { @for e in &d.errors { li { (e.path) " (" (e.protocol) "): " (e.error) } } }
        }
        (history(d, now))
        (directories(&groups))
        p {
            a href={ "/api/v1/mirrors/" (seg(&m.name)) } { "This page as JSON" }
            " · "
            a href="/mirrors" { "All mirrors" }
        }
    };
    page(&m.name, distribution, body, (d.serial, d.generated_at), now)
}

/// Who it serves, where it is, how it stands, its URLs.
fn facts(d: &MirrorDetail, now: i64) -> Markup {
    let m = &d.summary;
    let up = |a: Option<f64>| a.map_or("unknown".to_string(), percent);
    html! {
        dl {
            dt { "Served to" } dd { (m.audience) }
            dt { "Placed in" } dd { (d.placement) }
            dt { "Reached over" } dd { (families(m)) }
            dt { "Directories" }
            dd {
                (m.current) " current, " (m.behind) " behind (still listed), " (m.not_served)
                " not served, of " (m.checked_pairs) " it should carry (" (percent(m.completion)) ")"
            }
            dt { "Sponsor" } dd { (m.sponsor) }
            dt { "Last check" } dd { (when_or(m.checked_at, now, "never")) }
            dt { "Last sync" } dd { (when_or(m.synced_at, now, "unknown (no TIME file read)")) }
            dt { "Up" }
            dd { (up(m.availability_24h)) " over 24 hours, " (up(m.availability_7d)) " over 7 days" }
            dt { "Lag" } dd { (lag_words(m)) }
            @for u in &m.urls {
                dt { (u.protocol.to_uppercase()) }
                dd { a href=(u.url) rel="nofollow" { (u.url) } }
            }
        }
    }
}

/// Every capability after the health rule.
fn capabilities(d: &MirrorDetail, now: i64) -> Markup {
    html! {
        @if !d.capabilities.is_empty() {
            h2 { "Capabilities" }
            div.scroll {
                table {
                    caption {
                        "After the health rule (a state changes only after several checks agree)"
                    }
                    (head(&[("Capability", false), ("State", false), ("Since", false), ("Why", false)]))
                    tbody {
                        @for c in &d.capabilities {
                            tr {
                                th scope="row" { (c.capability) }
                                td { (tag(health_class(c.state), &c.state.to_string())) }
                                td {
                                    @if c.since > 0 { (when(c.since, now)) } @else { "unknown" }
                                }
                                td { (c.reason) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn health_class(state: HealthState) -> &'static str {
    match state {
        HealthState::Up => "served",
        HealthState::Down => "not_served",
        HealthState::Unknown => "partly",
    }
}

/// State changes of the last 7 days.
fn history(d: &MirrorDetail, now: i64) -> Markup {
    html! {
        @if !d.changes.is_empty() {
            h2 { "Health history" }
            div.scroll {
                table {
                    caption { "State changes of the last 7 days, newest first" }
                    (head(&[("When", false), ("Capability", false), ("Change", false), ("Why", false)]))
                    tbody {
                        @for c in &d.changes {
                            tr {
                                td { (when(c.at, now)) }
                                td { (c.capability) }
                                td { (c.from) " → " (c.to) }
                                td { (c.reason) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Directories by (rank, label): not served by reason first, then behind, then current.
type Groups = BTreeMap<(u8, String), Vec<String>>;

fn directory_groups(d: &MirrorDetail) -> Groups {
    let mut groups = Groups::new();
    for dir in &d.directories {
        let (rank, label) = match dir.verdict.as_str() {
            "not_served" => (0, dir.detail.clone()),
            "behind" => (1, dir.detail.clone()),
            _ => (2, "current".to_string()),
        };
        groups
            .entry((rank, label))
            .or_default()
            .push(format!("{} ({})", dir.path, dir.protocol));
    }
    groups
}

fn directories(groups: &Groups) -> Markup {
    html! {
        h2 { "Directories" }
        @if groups.is_empty() {
            p { "None of the catalog's directories is at this mirror's URLs." }
        }
        @for ((rank, label), dirs) in groups {
            details open[*rank != 2] {
                summary {
                    (tag(["not_served", "partly", "served"][*rank as usize], label))
                    ": " (dirs.len()) " director" (if dirs.len() == 1 { "y" } else { "ies" })
                }
                ul { @for dir in dirs { li { (dir) } } }
            }
        }
    }
}

/// The advice for the mirror's reason, its capabilities down and its directories not
/// served, each once.
fn advice_for(d: &MirrorDetail) -> Vec<&'static str> {
    let m = &d.summary;
    let reasons = m
        .reason
        .iter()
        .chain(m.down.iter().map(|c| &c.reason))
        .chain(
            d.directories
                .iter()
                .filter(|dir| dir.verdict == "not_served")
                .map(|dir| &dir.detail),
        );
    let mut todo = Vec::new();
    for a in reasons.filter_map(|r| advice(r)) {
        if !todo.contains(&a) {
            todo.push(a);
        }
    }
    todo
}

/// What an operator can do about a reason.
fn advice(reason: &str) -> Option<&'static str> {
    let r = reason.to_ascii_lowercase();
    Some(if r.contains("enabled: false") {
        "Set enabled: true in the mirror's registry file when it should be served again."
    } else if r.contains("approved: false") {
        "The distribution's mirror team approves new mirrors; nothing to do but wait."
    } else if r.contains("half-synced") {
        "Your sync replaced repomd.xml before the files it names arrived: copy repodata/ \
         last (rsync --delay-updates, or a second pass for repomd.xml), so dnf never sees a \
         repomd.xml whose files are not there yet."
    } else if r.contains("missing") {
        "Check that your sync copies every directory (rsync without --exclude for these paths)."
    } else if r.contains("behind") || r.contains("time file") {
        "Your copy is older than the master's: check that your sync runs, and how often."
    } else if r.contains("certificate") || r.contains("tls") {
        "Renew or fix the HTTPS certificate: it must be valid for the mirror's host name."
    } else if r.contains("timed out") || r.contains("refused") || r.contains("down") {
        "The checker could not reach the mirror: check the server, its firewall and DNS."
    } else if r.contains("matches no version") {
        "repomd.xml differs from every version the master published: resync from the master."
    } else {
        return None;
    })
}

/// A mirror's lag now and on average, in words.
fn lag_words(m: &MirrorSummary) -> String {
    let now = match m.lag_seconds {
        Some(0) => "current now".to_string(),
        Some(s) => format!(
            "{} behind the master now (its worst directory)",
            human_age(s.max(0) as u64)
        ),
        None => "not known now".to_string(),
    };
    let mean = |secs: Option<i64>| secs.map_or("unknown".to_string(), |s| human_age(s as u64));
    match (m.mean_lag_24h, m.mean_lag_7d) {
        (None, None) => format!(
            "{now}; no version the master published in the last 7 days was seen arriving here"
        ),
        (day, week) => format!(
            "{now}; from the master publishing a version to this mirror serving it, {} on \
             average over 24 hours, {} over 7 days",
            mean(day),
            mean(week)
        ),
    }
}

/// The last 7 days as a strip: green up, red down, grey unknown, with a text alternative.
fn timeline_strip(spans: &[Span], availability: Option<f64>) -> Markup {
    let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
        return html! {};
    };
    let total = (last.to - first.from).max(1) as f64;
    let label = format!(
        "The last 7 days: {}",
        availability.map_or("state not known".to_string(), |a| format!(
            "up {}",
            percent(a)
        ))
    );
    html! {
        svg width="100%" height="16" viewBox="0 0 700 16" preserveAspectRatio="none" role="img"
            aria-label=(label) {
            @for s in spans {
                rect x=(format!("{:.1}", (s.from - first.from) as f64 / total * 700.0))
                    width=(format!("{:.1}", (s.to - s.from) as f64 / total * 700.0))
                    height="16"
                    fill=(match s.up { Some(true) => "#1b5e20", Some(false) => "#b71c1c", None => "#d0d7de" }) {}
            }
        }
    }
}
