//! What every page shares: the layout (landmarks, navigation, the footer saying which
//! snapshot it is from), the style, a few lines of plain JavaScript that sort and filter the
//! mirrors' table and keep "ago" times current (the pages work without it), and the small
//! pieces pages are made of. Templates are maud's: checked when compiled, every value
//! escaped unless marked otherwise.

use maud::{html, Markup, PreEscaped, DOCTYPE};
use shared::duration::{human_age, utc_minute};
use shared::status::MirrorState;

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

/// The Content-Security-Policy of every page: nothing but the layout's own style and script
/// (by their hashes), forms back to this server, no framing.
pub fn page_policy() -> &'static str {
    static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    POLICY.get_or_init(|| {
        let hash = |text: &str| {
            use base64::Engine;
            use sha2::Digest;
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text))
        };
        format!(
            "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; img-src 'self'; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            hash(SCRIPT),
            hash(STYLE)
        )
    })
}

/// A whole page: `body` inside the layout.
pub fn page(title: &str, distribution: &str, body: Markup, from: (u64, i64), now: i64) -> String {
    let (serial, generated_at) = from;
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (distribution) " mirrors" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    p { (distribution) " mirror network" }
                    nav aria-label="Sections" {
                        ul {
                            li { a href="/" { "Overview" } }
                            li { a href="/mirrors" { "Mirrors" } }
                            li { a href="/explain" { "Explain an answer" } }
                            li { a href="/api/v1/status" { "JSON API" } }
                        }
                    }
                }
                main { (body) }
                footer {
                    p {
                        "From snapshot " (serial) ", built " (when(generated_at, now))
                        ". Pages are rebuilt with each snapshot."
                    }
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
    .into_string()
}

/// A page saying why there is nothing to show, `title` its heading ("Not found", "Not
/// served"): in the pages' style, with no script and no snapshot needed.
pub fn message(title: &str, message: &str) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main {
                    h1 { (title) }
                    p { (message) }
                    p { a href="/" { "Overview" } " · " a href="/mirrors" { "Mirrors" } }
                }
            }
        }
    }
    .into_string()
}

/// A path segment as it goes into a link.
pub fn seg(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// A link to a mirror's page.
pub fn mirror_link(name: &str) -> Markup {
    html! { a href={ "/mirrors/" (seg(name)) } { (name) } }
}

/// "3 h ago", kept current by the script, with the UTC time as its title.
pub fn ago(t: i64, now: i64) -> Markup {
    let utc = utc_minute(t);
    html! {
        time datetime={ (utc.trim_end_matches(" UTC").replace(' ', "T")) "Z" } data-t=(t) title=(utc) {
            (human_age((now - t).max(0) as u64)) " ago"
        }
    }
}

/// "3 h ago (2026-11-23 09:00 UTC)".
pub fn when(t: i64, now: i64) -> Markup {
    html! { (ago(t, now)) " (" (utc_minute(t)) ")" }
}

/// `when`, or `otherwise` for a time not known.
pub fn when_or(t: Option<i64>, now: i64, otherwise: &str) -> Markup {
    match t {
        Some(t) => when(t, now),
        None => html! { (otherwise) },
    }
}

pub fn state_label(s: MirrorState) -> Markup {
    let class = match s {
        MirrorState::Served => "served",
        MirrorState::Partly => "partly",
        MirrorState::NotServed => "not_served",
    };
    tag(class, s.as_str())
}

/// A coloured word: `served`, `partly` or `not_served`, with the text saying it too.
pub fn tag(class: &str, text: &str) -> Markup {
    html! { span class={ "tag " (class) } { (text) } }
}

pub fn percent(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// A table's column headers; `num` ones are right-aligned.
pub fn head(columns: &[(&str, bool)]) -> Markup {
    html! {
        thead {
            tr {
                @for (name, num) in columns {
                    th scope="col" class=[num.then_some("num")] { (name) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_escaped_and_names_are_encoded_in_links() {
        assert_eq!(
            super::mirror_link("a b/<c>\"&").into_string(),
            "<a href=\"/mirrors/a%20b%2F%3Cc%3E%22%26\">a b/&lt;c&gt;&quot;&amp;</a>"
        );
        assert_eq!(
            super::message("Not found", "<script>")
                .matches("&lt;script&gt;")
                .count(),
            1
        );
    }
}
