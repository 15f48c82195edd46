//! `/`: the network at a glance: how many mirrors are served, the master's last publication,
//! coverage per release and repository, and how the latest publications propagated.

use super::layout::{ago, head, mirror_link, page, when, when_or};
use maud::{html, Markup};
use shared::duration::human_age;
use shared::status::{Coverage, NetworkStatus, PropagationSummary};

/// Publications shown on the overview.
const PROPAGATION_SHOWN: usize = 12;

pub fn overview(n: &NetworkStatus, now: i64) -> String {
    let body = html! {
        h1 { (n.distribution) " mirror network" }
        dl {
            dt { "Mirrors served" }
            dd { (n.mirrors_served) " of " (n.mirrors_total) " registered" }
            dt { "Master last published" }
            dd { (when_or(n.master_published_at, now, "not yet scanned")) }
            dt { "Snapshot" }
            dd { (when(n.generated_at, now)) " (serial " (n.serial) ")" }
        }
        h2 #coverage { "Coverage" }
        p {
            "Per release and repository, how many mirrors serve it at the master's current \
             version, on an older version still listed, or not at all (missing, stale, \
             failing). "
            a href="/mirrors" { "Every mirror and its state" } "."
        }
        div.scroll {
            table {
                caption { "Mirrors per release and repository" }
                (head(&[("Release", false), ("Repository", false), ("Directories", true),
                    ("Current", true), ("Behind", true), ("Not served", true), ("Share", false)]))
                tbody {
                    @for c in &n.coverage {
                        tr {
                            td { (c.release) }
                            td { (c.repo) }
                            td.num { (c.directories) }
                            td.num { (c.current) }
                            td.num { (c.behind) }
                            td.num { (c.not_served) }
                            td { (coverage_bar(c)) }
                        }
                    }
                }
            }
        }
        (propagation(n, now))
    };
    page(
        "Overview",
        &n.distribution,
        body,
        (n.serial, n.generated_at),
        now,
    )
}

/// A stacked bar: current, behind, not served, with a text alternative.
fn coverage_bar(c: &Coverage) -> Markup {
    let total = (c.current + c.behind + c.not_served).max(1) as f64;
    let current = c.current as f64 / total * 200.0;
    let behind = c.behind as f64 / total * 200.0;
    let label = format!(
        "{} current, {} behind, {} not served",
        c.current, c.behind, c.not_served
    );
    html! {
        svg width="200" height="14" role="img" aria-label=(label) {
            rect width="200" height="14" fill="#b71c1c" {}
            rect width=(format!("{:.1}", current + behind)) height="14" fill="#8a4b00" {}
            rect width=(format!("{current:.1}")) height="14" fill="#1b5e20" {}
        }
    }
}

/// The latest publications and how they reached the mirrors.
fn propagation(n: &NetworkStatus, now: i64) -> Markup {
    let timed: Vec<&PropagationSummary> = n
        .propagation
        .iter()
        .filter(|p| p.carriers > 0)
        .take(PROPAGATION_SHOWN)
        .collect();
    let within = |t: Option<i64>| t.map_or("not yet".to_string(), |s| human_age(s.max(0) as u64));
    html! {
        h2 #propagation { "Propagation" }
        p {
            "How the latest publications reached the mirrors: of those the checker watched \
             since before the publication, how many serve it (or a newer one), and how long \
             after the publication half, 90% and 99% of them did."
        }
        @if timed.is_empty() {
            p {
                "No publication timed yet: a version is timed once the checker has watched \
                 mirrors since before it was published."
            }
        } @else {
            div.scroll {
                table {
                    caption { "The latest publications" }
                    (head(&[("Directory", false), ("Published", false), ("Serving it", true),
                        ("50%", true), ("90%", true), ("99%", true), ("Still behind", false)]))
                    tbody {
                        @for p in timed {
                            tr {
                                td { (p.path) }
                                td { (ago(p.published_at, now)) }
                                td.num { (p.arrived) " of " (p.carriers) }
                                td.num { (within(p.p50)) }
                                td.num { (within(p.p90)) }
                                td.num { (within(p.p99)) }
                                td { (still_behind(p)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The mirrors still behind a publication, linked, a few of them.
fn still_behind(p: &PropagationSummary) -> Markup {
    let more = p.behind_count as usize - p.behind.len();
    html! {
        @if p.behind.is_empty() && more == 0 {
            "none"
        }
        @for (i, m) in p.behind.iter().enumerate() {
            @if i > 0 { ", " }
            (mirror_link(m))
        }
        @if more > 0 {
            @if !p.behind.is_empty() { ", " }
            "and " (more) " more"
        }
    }
}
