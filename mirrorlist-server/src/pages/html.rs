//! The status pages as HTML: landmarks, table headers and captions, text labels beside every
//! colour, readable on a phone's width. Every value from the snapshot is escaped. A few lines
//! of plain JavaScript sort and filter the mirrors' table and keep "ago" times current; the
//! pages work without it.

use shared::duration::{human_age, utc_minute};
use shared::status::{Coverage, MirrorDetail, MirrorState, MirrorSummary, NetworkStatus};
use std::fmt::Write as _;

/// Text as HTML (element content and quoted attribute values).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A path segment as it goes into a link.
fn seg(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// "3 h ago", kept current by the script, with the UTC time as its title.
fn ago(t: i64, now: i64) -> String {
    format!(
        "<time datetime=\"{}Z\" data-t=\"{t}\" title=\"{}\">{} ago</time>",
        utc_minute(t).trim_end_matches(" UTC").replace(' ', "T"),
        utc_minute(t),
        human_age((now - t).max(0) as u64)
    )
}

/// "3 h ago (2026-11-23 09:00 UTC)".
fn when(t: i64, now: i64) -> String {
    format!("{} ({})", ago(t, now), utc_minute(t))
}

/// The last 7 days as a strip: green up, red down, grey unknown, with a text alternative.
fn timeline_strip(spans: &[shared::snapshot::history::Span], availability: Option<f64>) -> String {
    let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
        return String::new();
    };
    let total = (last.to - first.from).max(1) as f64;
    let mut out = format!(
        "<svg width=\"100%\" height=\"16\" viewBox=\"0 0 700 16\" preserveAspectRatio=\"none\" role=\"img\" \
aria-label=\"The last 7 days: {}\">",
        availability.map_or("state not known".to_string(), |a| format!("up {}", percent(a)))
    );
    for s in spans {
        let x = (s.from - first.from) as f64 / total * 700.0;
        let w = (s.to - s.from) as f64 / total * 700.0;
        let fill = match s.up {
            Some(true) => "#1b5e20",
            Some(false) => "#b71c1c",
            None => "#d0d7de",
        };
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" width=\"{w:.1}\" height=\"16\" fill=\"{fill}\"/>"
        );
    }
    out.push_str("</svg>");
    out
}

const STYLE: &str = "
:root{color-scheme:light;--ok:#1b5e20;--warn:#8a4b00;--bad:#b71c1c;--line:#d0d7de}
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1f2328;background:#fff}
header,main,footer{max-width:84rem;margin:0 auto;padding:0 1rem}
header{display:flex;flex-wrap:wrap;gap:1rem;align-items:baseline;border-bottom:1px solid var(--line)}
header p{margin:.75rem 0;font-weight:600}
nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:.25rem 1rem;margin:0;padding:0}
nav li{overflow-wrap:normal;white-space:nowrap}
a{color:#0550ae}
h1{font-size:1.6rem}
table{border-collapse:collapse;width:100%}
.scroll{overflow-x:auto}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f6f8fa}
th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;color:inherit}
td.num,th.num{text-align:right}
.served{color:var(--ok)}.partly{color:var(--warn)}.not_served{color:var(--bad)}
.tag{font-weight:600}#mirrors .tag{white-space:nowrap}
small{display:block;color:#57606a;max-width:18rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
dt{font-weight:600}dd{margin:0}
dd,li,summary,p{overflow-wrap:anywhere}
footer{color:#57606a;font-size:.9rem;border-top:1px solid var(--line);margin-top:2rem;padding-top:.5rem}
input{font:inherit;padding:.25rem .5rem;max-width:100%}
svg{display:block}
@media (max-width:40rem){
dl{grid-template-columns:1fr;gap:0}dd{margin-bottom:.4rem}
#mirrors thead{position:absolute;left:-9999px}
#mirrors tr{display:block;border-bottom:1px solid var(--line);padding:.4rem 0}
#mirrors th,#mirrors td{display:block;border:0;padding:.05rem .25rem;text-align:left}
#mirrors td::before{content:attr(data-label) ': ';font-weight:600}
}
";

const SCRIPT: &str = "
(function(){
function ago(s){return s<120?s+' s':s<7200?Math.floor(s/60)+' min':s<172800?Math.floor(s/3600)+' h':Math.floor(s/86400)+' d '+Math.floor(s%86400/3600)+' h'}
document.querySelectorAll('time[data-t]').forEach(function(t){t.textContent=ago(Math.max(0,Math.floor(Date.now()/1000)-t.dataset.t))+' ago'});
var table=document.getElementById('mirrors');if(!table)return;
var body=table.tBodies[0],filter=document.getElementById('filter');
if(filter){filter.hidden=false;filter.previousElementSibling.hidden=false;filter.addEventListener('input',function(){var q=filter.value.toLowerCase();Array.from(body.rows).forEach(function(r){r.hidden=q&&r.textContent.toLowerCase().indexOf(q)<0})})}
Array.from(table.tHead.rows[0].cells).forEach(function(th,i){var b=document.createElement('button');b.textContent=th.textContent;th.textContent='';th.appendChild(b);
b.addEventListener('click',function(){var asc=th.getAttribute('aria-sort')!=='ascending';Array.from(table.tHead.rows[0].cells).forEach(function(c){c.removeAttribute('aria-sort')});th.setAttribute('aria-sort',asc?'ascending':'descending');
var rows=Array.from(body.rows);rows.sort(function(x,y){var a=x.cells[i].dataset.v||x.cells[i].textContent,c=y.cells[i].dataset.v||y.cells[i].textContent;var n=parseFloat(a)-parseFloat(c);var r=isNaN(n)?a.localeCompare(c):n;return asc?r:-r});rows.forEach(function(r){body.appendChild(r)})})});
})();
";

fn page(
    title: &str,
    distribution: &str,
    body: &str,
    serial: u64,
    generated_at: i64,
    now: i64,
) -> String {
    let d = esc(distribution);
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · {d} mirrors</title><style>{STYLE}</style></head><body>\
<header><p>{d} mirror network</p><nav aria-label=\"Sections\"><ul>\
<li><a href=\"/\">Overview</a></li><li><a href=\"/mirrors\">Mirrors</a></li><li><a href=\"/explain\">Explain an answer</a></li>\
<li><a href=\"/api/v1/status\">JSON API</a></li></ul></nav></header>\
<main>{body}</main>\
<footer><p>From snapshot {serial}, built {}. Pages are rebuilt with each snapshot.</p></footer>\
<script>{SCRIPT}</script></body></html>\n",
        when(generated_at, now),
        title = esc(title),
    )
}

fn state_label(s: MirrorState) -> String {
    let class = match s {
        MirrorState::Served => "served",
        MirrorState::Partly => "partly",
        MirrorState::NotServed => "not_served",
    };
    format!("<span class=\"tag {class}\">{}</span>", s.as_str())
}

/// A lag in words: "current", "3 h", or "unknown".
fn lag(secs: Option<i64>) -> String {
    match secs {
        Some(0) => "current".to_string(),
        Some(s) => human_age(s.max(0) as u64),
        None => "unknown".to_string(),
    }
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

fn percent(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// A stacked bar: current, behind, not served, with a text alternative.
fn coverage_bar(c: &Coverage) -> String {
    let total = (c.current + c.behind + c.not_served).max(1) as f64;
    let (w1, w2) = (
        c.current as f64 / total * 200.0,
        c.behind as f64 / total * 200.0,
    );
    format!(
        "<svg width=\"200\" height=\"14\" role=\"img\" aria-label=\"{} current, {} behind, {} not served\">\
<rect width=\"200\" height=\"14\" fill=\"#b71c1c\"/>\
<rect width=\"{:.1}\" height=\"14\" fill=\"#8a4b00\"/>\
<rect width=\"{w1:.1}\" height=\"14\" fill=\"#1b5e20\"/></svg>",
        c.current,
        c.behind,
        c.not_served,
        w1 + w2
    )
}

/// `/`: the network at a glance.
pub fn overview(n: &NetworkStatus, now: i64) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>{} mirror network</h1><dl>\
<dt>Mirrors served</dt><dd>{} of {} registered</dd>\
<dt>Master last published</dt><dd>{}</dd>\
<dt>Snapshot</dt><dd>{} (serial {})</dd></dl>",
        esc(&n.distribution),
        n.mirrors_served,
        n.mirrors_total,
        n.master_published_at
            .map_or("not yet scanned".to_string(), |t| when(t, now)),
        when(n.generated_at, now),
        n.serial
    );
    b.push_str(
        "<h2 id=\"coverage\">Coverage</h2><p>Per release and repository, how many mirrors \
serve it at the master's current version, on an older version still listed, or not at all \
(missing, stale, failing). <a href=\"/mirrors\">Every mirror and its state</a>.</p>\
<div class=\"scroll\"><table><caption>Mirrors per release and repository</caption><thead><tr>\
<th scope=\"col\">Release</th><th scope=\"col\">Repository</th>\
<th scope=\"col\" class=\"num\">Directories</th><th scope=\"col\" class=\"num\">Current</th>\
<th scope=\"col\" class=\"num\">Behind</th><th scope=\"col\" class=\"num\">Not served</th>\
<th scope=\"col\">Share</th></tr></thead><tbody>",
    );
    for c in &n.coverage {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
<td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&c.release),
            esc(&c.repo),
            c.directories,
            c.current,
            c.behind,
            c.not_served,
            coverage_bar(c)
        );
    }
    b.push_str("</tbody></table></div>");
    propagation_table(&mut b, n, now);
    page(
        "Overview",
        &n.distribution,
        &b,
        n.serial,
        n.generated_at,
        now,
    )
}

/// Publications shown on the overview.
const PROPAGATION_SHOWN: usize = 12;

/// The latest publications and how they reached the mirrors.
fn propagation_table(b: &mut String, n: &NetworkStatus, now: i64) {
    let timed: Vec<_> = n
        .propagation
        .iter()
        .filter(|p| p.carriers > 0)
        .take(PROPAGATION_SHOWN)
        .collect();
    b.push_str(
        "<h2 id=\"propagation\">Propagation</h2><p>How the latest publications reached the \
mirrors: of those the checker watched since before the publication, how many serve it (or a \
newer one), and how long after the publication half, 90% and 99% of them did.</p>",
    );
    if timed.is_empty() {
        b.push_str(
            "<p>No publication timed yet: a version is timed once the checker has watched \
mirrors since before it was published.</p>",
        );
        return;
    }
    b.push_str(
        "<div class=\"scroll\"><table><caption>The latest publications</caption><thead><tr>\
<th scope=\"col\">Directory</th><th scope=\"col\">Published</th>\
<th scope=\"col\" class=\"num\">Serving it</th><th scope=\"col\" class=\"num\">50%</th>\
<th scope=\"col\" class=\"num\">90%</th><th scope=\"col\" class=\"num\">99%</th>\
<th scope=\"col\">Still behind</th></tr></thead><tbody>",
    );
    let within = |t: Option<i64>| t.map_or("not yet".to_string(), |s| human_age(s.max(0) as u64));
    for p in timed {
        let mut names: Vec<String> = p
            .behind
            .iter()
            .map(|m| format!("<a href=\"/mirrors/{}\">{}</a>", seg(m), esc(m)))
            .collect();
        let more = p.behind_count as usize - p.behind.len();
        if more > 0 {
            names.push(format!("and {more} more"));
        }
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{} of {}</td><td class=\"num\">{}</td>\
<td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&p.path),
            ago(p.published_at, now),
            p.arrived,
            p.carriers,
            within(p.p50),
            within(p.p90),
            within(p.p99),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
    }
    b.push_str("</tbody></table></div>");
}

fn protocols(m: &MirrorSummary) -> String {
    m.urls
        .iter()
        .map(|u| esc(&u.protocol))
        .collect::<Vec<_>>()
        .join(", ")
}

fn families(m: &MirrorSummary) -> String {
    match (m.ipv4, m.ipv6) {
        (true, true) => "IPv4, IPv6",
        (true, false) => "IPv4",
        (false, true) => "IPv6",
        (false, false) => "none reached",
    }
    .to_string()
}

/// `/mirrors`: every mirror, sortable and filterable.
pub fn mirrors(n: &NetworkStatus, now: i64) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Mirrors</h1><p>{} of {} mirrors are served. Select a mirror for its \
directories and the reasons behind its state.</p>\
<p><label for=\"filter\" hidden>Filter the mirrors</label> <input id=\"filter\" type=\"search\" \
hidden placeholder=\"name, country, state\"></p>\
<div class=\"scroll\"><table id=\"mirrors\"><caption>Registered mirrors</caption><thead><tr>\
<th scope=\"col\">Mirror</th><th scope=\"col\">Country</th><th scope=\"col\">Protocols, reached over</th>\
<th scope=\"col\">State</th>\
<th scope=\"col\" class=\"num\">Directories served</th><th scope=\"col\" class=\"num\">Lag</th>\
<th scope=\"col\" class=\"num\">Up (24 h)</th>\
<th scope=\"col\">Last check</th><th scope=\"col\">Served to</th><th scope=\"col\">Sponsor</th>\
</tr></thead><tbody>",
        n.mirrors_served, n.mirrors_total
    );
    for m in &n.mirrors {
        let _ = write!(
            b,
            "<tr><th scope=\"row\"><a href=\"/mirrors/{}\">{}</a></th><td data-label=\"Country\">{}</td>\
<td data-label=\"Protocols\">{}<small>{}</small></td>\
<td data-label=\"State\" data-v=\"{}\">{}{}</td><td class=\"num\" data-label=\"Served\" data-v=\"{:.4}\">{} ({} of {})</td>\
<td class=\"num\" data-label=\"Lag\" data-v=\"{}\">{}</td><td class=\"num\" data-label=\"Up (24 h)\" data-v=\"{}\">{}</td><td data-label=\"Last check\" data-v=\"{}\">{}</td>\
<td data-label=\"Served to\">{}</td><td data-label=\"Sponsor\">{}</td></tr>",
            seg(&m.name),
            esc(&m.name),
            esc(m.country.as_deref().unwrap_or("unknown")),
            protocols(m),
            families(m),
            m.state as u8,
            state_label(m.state),
            m.reason
                .as_deref()
                .map_or(String::new(), |r| format!("<small>{}</small>", esc(r))),
            m.completion,
            percent(m.completion),
            m.current + m.behind,
            m.checked_pairs,
            m.lag_seconds.unwrap_or(-1),
            lag(m.lag_seconds),
            m.availability_24h.map_or(-1.0, |a| a),
            m.availability_24h.map_or("unknown".to_string(), percent),
            m.checked_at.unwrap_or(0),
            m.checked_at
                .map_or("never".to_string(), |t| ago(t, now)),
            esc(&m.audience),
            esc(&m.sponsor)
        );
    }
    b.push_str("</tbody></table></div>");
    page(
        "Mirrors",
        &n.distribution,
        &b,
        n.serial,
        n.generated_at,
        now,
    )
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

/// `/mirrors/{name}`: the operator's page.
pub fn mirror(d: &MirrorDetail, distribution: &str, now: i64) -> String {
    let m = &d.summary;
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>{}</h1><p>{}{}</p><dl>\
<dt>Served to</dt><dd>{}</dd><dt>Placed in</dt><dd>{}</dd>\
<dt>Reached over</dt><dd>{}</dd><dt>Directories</dt><dd>{} current, {} behind (still listed), \
{} not served, of {} it should carry ({})</dd><dt>Sponsor</dt><dd>{}</dd>\
<dt>Last check</dt><dd>{}</dd><dt>Last sync</dt><dd>{}</dd>\
<dt>Up</dt><dd>{} over 24 hours, {} over 7 days</dd>\
<dt>Lag</dt><dd>{}</dd>",
        esc(&m.name),
        state_label(m.state),
        m.reason
            .as_deref()
            .map_or(String::new(), |r| format!(": {}", esc(r))),
        esc(&m.audience),
        esc(&d.placement),
        families(m),
        m.current,
        m.behind,
        m.not_served,
        m.checked_pairs,
        percent(m.completion),
        esc(&m.sponsor),
        m.checked_at.map_or("never".to_string(), |t| when(t, now)),
        m.synced_at
            .map_or("unknown (no TIME file read)".to_string(), |t| when(t, now)),
        m.availability_24h.map_or("unknown".to_string(), percent),
        m.availability_7d.map_or("unknown".to_string(), percent),
        lag_words(m)
    );
    for u in &m.urls {
        let _ = write!(
            b,
            "<dt>{}</dt><dd><a href=\"{}\" rel=\"nofollow\">{}</a></dd>",
            esc(&u.protocol.to_uppercase()),
            esc(&u.url),
            esc(&u.url)
        );
    }
    b.push_str("</dl>");
    let mut todo: Vec<&'static str> = Vec::new();
    let mut note = |reason: &str| {
        if let Some(a) = advice(reason) {
            if !todo.contains(&a) {
                todo.push(a);
            }
        }
    };
    if let Some(r) = &m.reason {
        note(r);
    }
    for c in &m.down {
        note(&c.reason);
    }
    if !d.capabilities.is_empty() {
        b.push_str(
            "<h2>Capabilities</h2><div class=\"scroll\"><table><caption>After the health rule \
(a state changes only after several checks agree)</caption><thead><tr><th scope=\"col\">Capability</th>\
<th scope=\"col\">State</th><th scope=\"col\">Since</th><th scope=\"col\">Why</th></tr></thead><tbody>",
        );
        for c in &d.capabilities {
            let class = match c.state {
                shared::model::HealthState::Up => "served",
                shared::model::HealthState::Down => "not_served",
                shared::model::HealthState::Unknown => "partly",
            };
            let _ = write!(
                b,
                "<tr><th scope=\"row\">{}</th><td><span class=\"tag {class}\">{}</span></td><td>{}</td><td>{}</td></tr>",
                esc(&c.capability),
                c.state,
                if c.since > 0 {
                    when(c.since, now)
                } else {
                    "unknown".to_string()
                },
                esc(&c.reason)
            );
        }
        b.push_str("</tbody></table></div>");
    }
    if !m.warnings.is_empty() {
        b.push_str("<h2>Warnings</h2><ul>");
        for w in &m.warnings {
            let _ = write!(b, "<li>{}</li>", esc(w));
        }
        b.push_str("</ul>");
    }
    // Directories grouped by verdict; the not served ones by reason.
    let mut groups: std::collections::BTreeMap<(u8, String), Vec<String>> = Default::default();
    for dir in &d.directories {
        let (rank, label) = match dir.verdict.as_str() {
            "not_served" => (0, dir.detail.clone()),
            "behind" => (1, dir.detail.clone()),
            _ => (2, "current".to_string()),
        };
        if rank == 0 {
            note(&dir.detail);
        }
        groups
            .entry((rank, label))
            .or_default()
            .push(format!("{} ({})", dir.path, dir.protocol));
    }
    if !todo.is_empty() {
        b.push_str("<h2>What to do next</h2><ul>");
        for t in &todo {
            let _ = write!(b, "<li>{t}</li>");
        }
        b.push_str("</ul>");
    }
    if !d.timeline.is_empty() {
        let _ = write!(
            b,
            "<h2>The last 7 days</h2>{}<p>Green: up by the health rule over at least one web \
protocol; red: down; grey: not known yet.</p>",
            timeline_strip(&d.timeline, m.availability_7d)
        );
    }
    if !d.errors.is_empty() {
        b.push_str("<h2>Recent errors</h2><ul>");
        for e in &d.errors {
            let _ = write!(
                b,
                "<li>{} ({}): {}</li>",
                esc(&e.path),
                esc(&e.protocol),
                esc(&e.error)
            );
        }
        b.push_str("</ul>");
    }
    if !d.changes.is_empty() {
        b.push_str(
            "<h2>Health history</h2><div class=\"scroll\"><table><caption>State changes of the last \
7 days, newest first</caption><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Capability</th>\
<th scope=\"col\">Change</th><th scope=\"col\">Why</th></tr></thead><tbody>",
        );
        for c in &d.changes {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td></tr>",
                when(c.at, now),
                esc(&c.capability),
                c.from,
                c.to,
                esc(&c.reason)
            );
        }
        b.push_str("</tbody></table></div>");
    }
    b.push_str("<h2>Directories</h2>");
    if groups.is_empty() {
        b.push_str("<p>None of the catalog's directories is at this mirror's URLs.</p>");
    }
    for ((rank, label), dirs) in &groups {
        let class = ["not_served", "partly", "served"][*rank as usize];
        let _ = write!(
            b,
            "<details{}><summary><span class=\"tag {class}\">{}</span>: {} director{}</summary><ul>",
            if *rank == 2 { "" } else { " open" },
            esc(label),
            dirs.len(),
            if dirs.len() == 1 { "y" } else { "ies" }
        );
        for dir in dirs {
            let _ = write!(b, "<li>{}</li>", esc(dir));
        }
        b.push_str("</ul></details>");
    }
    let _ = write!(
        b,
        "<p><a href=\"/api/v1/mirrors/{}\">This page as JSON</a> · <a href=\"/mirrors\">All mirrors</a></p>",
        seg(&m.name)
    );
    page(&m.name, distribution, &b, d.serial, d.generated_at, now)
}

/// `/explain`: the form, and how the answer was built when one was asked for.
pub fn explain(
    result: Option<Result<&crate::explain::Explanation, &str>>,
    distribution: &str,
    (repo, arch, ip): (&str, &str, &str),
    ip_allowed: bool,
    serial: u64,
    generated_at: i64,
    now: i64,
) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>How an answer is built</h1><p>For a repository and architecture, the mirrors a \
client gets and, for every other mirror, why not. The client is {}.</p>\
<form action=\"/explain\" method=\"get\"><p>\
<label for=\"repo\">Repository</label> <input id=\"repo\" name=\"repo\" value=\"{}\" placeholder=\"baseos-9\" required> \
<label for=\"arch\">Architecture</label> <input id=\"arch\" name=\"arch\" value=\"{}\" placeholder=\"x86_64\" required> {}\
<button type=\"submit\">Explain</button></p></form>",
        if ip_allowed {
            "you, or the address you give"
        } else {
            "you (this server does not take other addresses)"
        },
        esc(repo),
        esc(arch),
        if ip_allowed {
            format!(
                "<label for=\"ip\">Client address</label> <input id=\"ip\" name=\"ip\" value=\"{}\" placeholder=\"203.0.113.7\"> ",
                esc(ip)
            )
        } else {
            String::new()
        }
    );
    match result {
        None => {}
        Some(Err(message)) => {
            let _ = write!(
                b,
                "<p class=\"not_served\" role=\"alert\">{}</p>",
                esc(message)
            );
        }
        Some(Ok(e)) => {
            let c = &e.client;
            let _ = write!(
                b,
                "<h2>The client</h2><dl><dt>Address</dt><dd>{}</dd><dt>Placed</dt><dd>{}</dd>\
<dt>Country</dt><dd>{}</dd><dt>Continent</dt><dd>{}</dd><dt>ASN</dt><dd>{}</dd>\
<dt>Cloud</dt><dd>{}</dd><dt>Netblock matches</dt><dd>{}</dd></dl>",
                esc(c.address.as_deref().unwrap_or("unknown")),
                esc(&c.how),
                esc(c.country.as_deref().unwrap_or("unknown")),
                esc(c.continent.as_deref().unwrap_or("unknown")),
                c.asn.map_or("unknown".to_string(), |a| format!("AS{a}")),
                esc(c.cloud.as_deref().unwrap_or("none")),
                if c.netblock_matches.is_empty() {
                    "none".to_string()
                } else {
                    esc(&c.netblock_matches.join(", "))
                }
            );
            let _ = write!(
                b,
                "<h2>The answer for {}</h2><p>At most {} mirrors; the rest of the world is drawn \
from only while fewer than {} were found nearer. {}</p>",
                esc(&e.directory),
                e.cap,
                e.minimum,
                if e.deterministic {
                    "This server's draw is seeded: the same request gets the same answer."
                } else {
                    "Every request draws afresh (weighted by bandwidth): this is one such draw."
                }
            );
            b.push_str(
                "<div class=\"scroll\"><table><caption>Mirrors listed, in order</caption><thead><tr>\
<th scope=\"col\" class=\"num\">#</th><th scope=\"col\">Mirror</th><th scope=\"col\">Tier</th>\
<th scope=\"col\">Protocol</th></tr></thead><tbody>",
            );
            for (i, l) in e.listed.iter().enumerate() {
                let _ = write!(
                    b,
                    "<tr><td class=\"num\">{}</td><th scope=\"row\"><a href=\"/mirrors/{}\">{}</a></th><td>{}</td><td>{}</td></tr>",
                    i + 1,
                    seg(&l.mirror),
                    esc(&l.mirror),
                    esc(&l.tier),
                    esc(&l.protocol)
                );
            }
            if e.listed.is_empty() {
                b.push_str("<tr><td colspan=\"4\">No mirror: the answer is empty.</td></tr>");
            }
            b.push_str("</tbody></table></div><h2>Not listed, and why</h2>");
            let mut groups: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
            for n in &e.not_listed {
                groups.entry(&n.reason).or_default().push(&n.mirror);
            }
            let mut groups: Vec<_> = groups.into_iter().collect();
            groups.sort_by_key(|(_, ms)| std::cmp::Reverse(ms.len()));
            for (reason, ms) in groups {
                let _ = write!(
                    b,
                    "<details><summary>{}: {} mirror{}</summary><ul>",
                    esc(reason),
                    ms.len(),
                    if ms.len() == 1 { "" } else { "s" }
                );
                for m in ms {
                    let _ = write!(b, "<li><a href=\"/mirrors/{}\">{}</a></li>", seg(m), esc(m));
                }
                b.push_str("</ul></details>");
            }
        }
    }
    page("Explain", distribution, &b, serial, generated_at, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_elements_and_attributes() {
        assert_eq!(
            esc("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(seg("a b/c?d"), "a%20b%2Fc%3Fd");
    }
}
