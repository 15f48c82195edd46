//! `/explain`: the form, and how the answer was built when one was asked for: where the
//! client was placed, the mirrors listed in order with their tiers, and every other mirror
//! grouped by the reason it was left out.

use super::layout::{head, mirror_link, page};
use crate::explain::{Explanation, Placement};
use maud::{html, Markup};
use std::collections::BTreeMap;

/// What the form was filled with.
pub struct ExplainForm<'a> {
    pub repo: &'a str,
    pub arch: &'a str,
    pub ip: &'a str,
    /// Whether this server takes `ip=`.
    pub ip_allowed: bool,
}

/// The page; `result` is the explanation, or why there is none, when one was asked for.
pub fn explain(
    result: Option<Result<&Explanation, &str>>,
    distribution: &str,
    asked: &ExplainForm,
    from: (u64, i64),
    now: i64,
) -> String {
    let body = html! {
        h1 { "How an answer is built" }
        p {
            "For a repository and architecture, the mirrors a client gets and, for every other \
             mirror, why not. The client is "
            @if asked.ip_allowed { "you, or the address you give" }
            @else { "you (this server does not take other addresses)" }
            "."
        }
        (form(asked))
        @match result {
            None => {}
            Some(Err(message)) => p.not_served role="alert" { (message) },
            Some(Ok(e)) => {
                (client(&e.client))
                (listed(e))
                (not_listed(e))
            }
        }
    };
    page("Explain", distribution, body, from, now)
}

fn form(asked: &ExplainForm) -> Markup {
    html! {
        form action="/explain" method="get" {
            p {
                label for="repo" { "Repository" } " "
                input #repo name="repo" value=(asked.repo) placeholder="baseos-9" required;
                " "
                label for="arch" { "Architecture" } " "
                input #arch name="arch" value=(asked.arch) placeholder="x86_64" required;
                " "
                @if asked.ip_allowed {
                    label for="ip" { "Client address" } " "
                    input #ip name="ip" value=(asked.ip) placeholder="203.0.113.7";
                    " "
                }
                button type="submit" { "Explain" }
            }
        }
    }
}

fn client(c: &Placement) -> Markup {
    let unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    html! {
        h2 { "The client" }
        dl {
            dt { "Address" } dd { (unknown(&c.address)) }
            dt { "Placed" } dd { (c.how) }
            dt { "Country" } dd { (unknown(&c.country)) }
            dt { "Continent" } dd { (unknown(&c.continent)) }
            dt { "ASN" } dd { (c.asn.map_or("unknown".to_string(), |a| format!("AS{a}"))) }
            dt { "Cloud" } dd { (c.cloud.as_deref().unwrap_or("none")) }
            dt { "Netblock matches" }
            dd {
                @if c.netblock_matches.is_empty() { "none" }
                @else { (c.netblock_matches.join(", ")) }
            }
        }
    }
}

fn listed(e: &Explanation) -> Markup {
    html! {
        h2 { "The answer for " (e.directory) }
        p {
            "At most " (e.cap) " mirrors; the rest of the world is drawn from only while fewer \
             than " (e.minimum) " were found nearer. "
            @if e.deterministic {
                "This server's draw is seeded: the same request gets the same answer."
            } @else {
                "Every request draws afresh (weighted by bandwidth): this is one such draw."
            }
        }
        div.scroll {
            table {
                caption { "Mirrors listed, in order" }
                (head(&[("#", true), ("Mirror", false), ("Tier", false), ("Protocol", false)]))
                tbody {
                    @for (i, l) in e.listed.iter().enumerate() {
                        tr {
                            td.num { (i + 1) }
                            th scope="row" { (mirror_link(&l.mirror)) }
                            td { (l.tier) }
                            td { (l.protocol) }
                        }
                    }
                    @if e.listed.is_empty() {
                        tr { td colspan="4" { "No mirror: the answer is empty." } }
                    }
                }
            }
        }
    }
}

/// The others, grouped by reason, the largest group first.
fn not_listed(e: &Explanation) -> Markup {
    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for n in &e.not_listed {
        groups.entry(&n.reason).or_default().push(&n.mirror);
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by_key(|(_, ms)| std::cmp::Reverse(ms.len()));
    html! {
        h2 { "Not listed, and why" }
        @for (reason, ms) in groups {
            details {
                summary {
                    (reason) ": " (ms.len()) " mirror" (if ms.len() == 1 { "" } else { "s" })
                }
                ul { @for m in ms { li { (mirror_link(m)) } } }
            }
        }
    }
}
