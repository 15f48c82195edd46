//! `/mirrors`: every mirror in one table, sortable and filterable (with the script; a phone
//! shows each row as a card), each linking to its own page.

use super::layout::{ago, head, mirror_link, page, percent, state_label};
use maud::{html, Markup};
use shared::duration::human_age;
use shared::status::{MirrorSummary, NetworkStatus};

pub fn mirrors(n: &NetworkStatus, now: i64) -> String {
    let body = html! {
        h1 { "Mirrors" }
        p {
            (n.mirrors_served) " of " (n.mirrors_total) " mirrors are served. Select a mirror \
             for its directories and the reasons behind its state."
        }
        p {
            label for="filter" hidden { "Filter the mirrors" }
            " "
            input #filter type="search" hidden placeholder="name, country, state";
        }
        div.scroll {
            table #mirrors {
                caption { "Registered mirrors" }
                (head(&[("Mirror", false), ("Country", false), ("Protocols, reached over", false),
                    ("State", false), ("Directories served", true), ("Lag", true),
                    ("Up (24 h)", true), ("Last check", false), ("Served to", false),
                    ("Sponsor", false)]))
                tbody {
                    @for m in &n.mirrors { (row(m, now)) }
                }
            }
        }
    };
    page(
        "Mirrors",
        &n.distribution,
        body,
        (n.serial, n.generated_at),
        now,
    )
}

/// One mirror's row; `data-v` is what the script sorts by.
fn row(m: &MirrorSummary, now: i64) -> Markup {
    html! {
        tr {
            th scope="row" { (mirror_link(&m.name)) }
            td data-label="Country" { (m.country.as_deref().unwrap_or("unknown")) }
            td data-label="Protocols" { (protocols(m)) small { (families(m)) } }
            td data-label="State" data-v=(m.state as u8) {
                (state_label(m.state))
                @if let Some(r) = &m.reason { small { (r) } }
            }
            td.num data-label="Served" data-v=(format!("{:.4}", m.completion)) {
                (percent(m.completion)) " (" (m.current + m.behind) " of " (m.checked_pairs) ")"
            }
            td.num data-label="Lag" data-v=(m.lag_seconds.unwrap_or(-1)) { (lag(m.lag_seconds)) }
            td.num data-label="Up (24 h)" data-v=(m.availability_24h.unwrap_or(-1.0)) {
                (m.availability_24h.map_or("unknown".to_string(), percent))
            }
            td data-label="Last check" data-v=(m.checked_at.unwrap_or(0)) {
                @match m.checked_at {
                    Some(t) => (ago(t, now)),
                    None => "never",
                }
            }
            td data-label="Served to" { (m.audience) }
            td data-label="Sponsor" { (m.sponsor) }
        }
    }
}

pub fn protocols(m: &MirrorSummary) -> String {
    m.urls
        .iter()
        .map(|u| u.protocol.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn families(m: &MirrorSummary) -> &'static str {
    match (m.ipv4, m.ipv6) {
        (true, true) => "IPv4, IPv6",
        (true, false) => "IPv4",
        (false, true) => "IPv6",
        (false, false) => "none reached",
    }
}

/// A lag in words: "current", "3 h", or "unknown".
fn lag(secs: Option<i64>) -> String {
    match secs {
        Some(0) => "current".to_string(),
        Some(s) => human_age(s.max(0) as u64),
        None => "unknown".to_string(),
    }
}
