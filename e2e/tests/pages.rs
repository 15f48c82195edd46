//! The status pages in a real browser: the simulated example network (a realistic mix of
//! behaviours) crawled once by the checker, the server on its snapshot, headless Chromium
//! through chromedriver (Debian's `chromium` and `chromium-driver`; `./scripts/test`
//! installs them). Every page loads with its landmarks, links that work, readable contrast
//! and no sideways scrolling on a phone; the mirrors' table filters and sorts. Screenshots
//! of each page, desktop and phone, are kept in `target/e2e-artifacts/pages/`.

use e2e::browser::Browser;
use e2e::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

/// The simulated network crawled once; returns the server's address.
fn network(dir: &Path) -> (String, Vec<Proc>) {
    let net = SimNetwork::start(dir, "", LIMIT);
    net.load_examples(LIMIT);
    run_ok(net.checker(&["crawl", "--once"]), LIMIT);
    // A second crawl a little later: the mirrors' state has then been known for a while (their
    // availability is the share of known time they were up).
    std::thread::sleep(Duration::from_millis(1500));
    run_ok(net.checker(&["crawl", "--once"]), LIMIT);
    let mut server = Command::new(workspace_bin("mirrorlist-server"));
    server
        .arg("--snapshot")
        .arg(dir.join("snapshot.bin"))
        .args(["--listen", "127.0.0.1:0"]);
    let mut server = Proc::spawn("mirrorlist-server", server, &dir.join("server.log"));
    let addr = server.server_address(LIMIT);
    (addr, vec![net.sim, server])
}

/// Checks every page holds: the language, one `main`, a `nav` with a label, table headers
/// with a scope, SVG charts with a text alternative, and a title.
const ACCESSIBLE: &str = r#"
const problems = [];
if (!document.documentElement.lang) problems.push('no lang');
if (document.querySelectorAll('main').length !== 1) problems.push('not one main');
if (!document.querySelector('nav[aria-label]')) problems.push('no labelled nav');
if (!document.title) problems.push('no title');
document.querySelectorAll('thead th').forEach(th => { if (!th.getAttribute('scope')) problems.push('th without scope: ' + th.textContent); });
document.querySelectorAll('table').forEach(t => { if (!t.caption) problems.push('table without caption'); });
document.querySelectorAll('svg').forEach(s => { if (!s.getAttribute('aria-label')) problems.push('svg without label'); });
return problems;
"#;

/// The lowest contrast ratio of text against its background over the page's text elements
/// (WCAG's formula; the background is the nearest ancestor's that is not transparent).
const LOWEST_CONTRAST: &str = r#"
function rgb(c) { const m = c.match(/[\d.]+/g).map(Number); return m; }
function lum(c) { const [r, g, b] = rgb(c).slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; }
function bg(e) { while (e) { const c = getComputedStyle(e).backgroundColor; if (rgb(c).length < 4 || rgb(c)[3] > 0) return c; e = e.parentElement; } return 'rgb(255,255,255)'; }
let lowest = 21, what = '';
document.querySelectorAll('a, td, th, p, dt, dd, li, summary, span, h1, h2, label').forEach(e => {
  if (!e.textContent.trim() || e.offsetParent === null) return;
  const a = lum(getComputedStyle(e).color), b = lum(bg(e));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  if (ratio < lowest) { lowest = ratio; what = e.tagName + ' ' + e.textContent.trim().slice(0, 40); }
});
return [lowest, what];
"#;

#[test]
fn status_pages_in_a_real_browser() {
    if !tools_present(&["chromium", "chromedriver"], false) {
        return;
    }
    let dir = test_dir();
    let (addr, _procs) = network(dir.path());
    let base = format!("http://{addr}");
    let shots = project_root().join("target/e2e-artifacts/pages");
    fs::create_dir_all(&shots).unwrap();

    // Which mirrors to look at: one of each state the crawl produced.
    let (status, body) = http_get(&addr, "/api/v1/status").unwrap();
    assert_eq!(status, 200, "{body}");
    let network: Value = serde_json::from_str(&body).unwrap();
    let mut pages = vec!["/".to_string(), "/mirrors".to_string()];
    let mut states = BTreeSet::new();
    for m in network["mirrors"].as_array().unwrap() {
        if states.insert(m["state"].as_str().unwrap().to_string()) {
            pages.push(format!("/mirrors/{}", m["name"].as_str().unwrap()));
        }
    }
    assert!(
        states.len() >= 2,
        "a realistic network has mirrors in more than one state: {states:?}"
    );
    let mirror_pages = pages[2..].to_vec();
    pages.push("/explain?repo=baseos-9&arch=x86_64".to_string());

    let browser = Browser::start(dir.path());
    let mut links = BTreeSet::new();
    for (width, height, label) in [(1280, 1000, "desktop"), (390, 844, "phone")] {
        browser.window(width, height);
        for page in &pages {
            browser.goto(&format!("{base}{page}"));
            let problems = browser.script(ACCESSIBLE);
            assert_eq!(problems, Value::Array(vec![]), "{page}");
            let contrast = browser.script(LOWEST_CONTRAST);
            assert!(
                contrast[0].as_f64().unwrap() >= 4.5,
                "{page}: contrast {contrast} under 4.5:1"
            );
            let overflow = browser
                .script("return document.documentElement.scrollWidth - window.innerWidth")
                .as_i64()
                .unwrap();
            assert!(
                overflow <= 0,
                "{page} scrolls sideways by {overflow} px at {width} px"
            );
            for l in browser
                .script("return Array.from(document.querySelectorAll('a[href^=\"/\"]')).map(a => a.getAttribute('href'))")
                .as_array()
                .unwrap()
            {
                links.insert(l.as_str().unwrap().to_string());
            }
            let name = if page == "/" {
                "overview".to_string()
            } else {
                page.trim_start_matches('/')
                    .replace(['/', '?', '&', '='], "_")
            };
            browser.screenshot(&shots.join(format!("{name}-{label}.png")));
        }
    }
    // Every page's links lead somewhere.
    for link in &links {
        let (status, _) = http_get(&addr, link).unwrap();
        assert_eq!(status, 200, "{link}");
    }
    for page in &mirror_pages {
        assert!(links.contains(page), "{page} is linked from the list");
    }
    // A served mirror's page says when it was checked and how it stood over the days.
    let served = network["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["state"] == "served")
        .expect("a served mirror");
    assert!(served["checked_at"].is_i64(), "{served}");
    assert_eq!(served["availability_24h"], 1.0, "{served}");
    browser.window(1280, 1000);
    browser.goto(&format!(
        "{base}/mirrors/{}",
        served["name"].as_str().unwrap()
    ));
    let text = browser.script("return document.querySelector('main').innerText");
    let text = text.as_str().unwrap();
    assert!(text.contains("Last check"), "{text}");
    assert!(text.contains("100% over 24 hours"), "{text}");
    assert!(text.contains("Health history"), "{text}");
    assert!(text.contains("Capabilities"), "{text}");
    let strip = browser.script(
        "return Array.from(document.querySelectorAll('svg[role=img]')).map(s => s.getAttribute('aria-label'))",
    );
    assert_eq!(strip, serde_json::json!(["The last 7 days: up 100%"]));
    // The explanation names where the client was placed and lists the answer.
    browser.goto(&format!("{base}/explain?repo=baseos-9&arch=x86_64"));
    let text = browser.script("return document.querySelector('main').innerText");
    let text = text.as_str().unwrap();
    assert!(text.contains("Mirrors listed, in order"), "{text}");
    assert!(text.contains("Not listed, and why"), "{text}");

    // The overview says what the JSON says.
    browser.goto(&format!("{base}/"));
    let text = browser.script("return document.querySelector('main').innerText");
    let served = format!(
        "{} of {} registered",
        network["mirrors_served"], network["mirrors_total"]
    );
    assert!(text.as_str().unwrap().contains(&served), "{text}");

    // The list filters as one types, and sorts by a column.
    browser.goto(&format!("{base}/mirrors"));
    let rows = "return Array.from(document.querySelectorAll('#mirrors tbody tr')).filter(r => !r.hidden).map(r => r.cells[3].querySelector('.tag').textContent)";
    let all = browser.script(rows).as_array().unwrap().len();
    assert_eq!(all, network["mirrors"].as_array().unwrap().len());
    browser.type_into("#filter", "not served");
    let shown = browser.script(rows);
    let shown = shown.as_array().unwrap();
    assert!(!shown.is_empty() && shown.len() < all, "{shown:?}");
    assert!(
        shown.iter().all(|s| s == "not served"),
        "only not-served rows remain: {shown:?}"
    );
    browser.goto(&format!("{base}/mirrors"));
    browser.click("#mirrors thead th:nth-child(5) button");
    let shares: Vec<f64> = browser
        .script("return Array.from(document.querySelectorAll('#mirrors tbody tr')).map(r => r.cells[4].dataset.v)")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        shares.windows(2).all(|w| w[0] <= w[1]),
        "sorted by share served: {shares:?}"
    );
}
