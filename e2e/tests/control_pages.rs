//! The control plane's pages in a real browser (headless Chromium through chromedriver):
//! signing in by the mailed link with the form, the session cookie out of script's reach, a
//! mirror's page, the registration form's problems beside their fields, a forged CSRF token
//! refused; every page readable (contrast) and without sideways scrolling on a phone.
//! Screenshots, desktop and phone, are kept in `target/e2e-artifacts/control/`.

use e2e::browser::Browser;
use e2e::*;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

/// The lowest contrast ratio of text against its background (WCAG's formula).
const LOWEST_CONTRAST: &str = r#"
function rgb(c) { return c.match(/[\d.]+/g).map(Number); }
function lum(c) { const [r, g, b] = rgb(c).slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; }
function bg(e) { while (e) { const c = getComputedStyle(e).backgroundColor; if (rgb(c).length < 4 || rgb(c)[3] > 0) return c; e = e.parentElement; } return 'rgb(255,255,255)'; }
let lowest = 21, what = '';
document.querySelectorAll('a, td, th, p, li, label, small, button, h1, h2, pre').forEach(e => {
  if (!e.textContent.trim() || e.offsetParent === null) return;
  const a = lum(getComputedStyle(e).color), b = lum(bg(e));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  if (ratio < lowest) { lowest = ratio; what = e.tagName + ' ' + e.textContent.trim().slice(0, 40); }
});
return [lowest, what];
"#;

fn text(browser: &Browser) -> String {
    browser
        .script("return document.body.innerText")
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// The page's text once it holds `want`: a click's navigation may still be under way.
fn text_with(browser: &Browser, want: &str) -> String {
    wait_for(want, LIMIT, || {
        let t = text(browser);
        t.contains(want).then_some(t)
    })
}

/// Desktop and phone: readable, no sideways scrolling, a screenshot of each.
fn look(browser: &Browser, shots: &Path, name: &str) {
    for (label, width, height) in [("desktop", 1280, 900), ("phone", 390, 844)] {
        browser.window(width, height);
        let contrast = browser.script(LOWEST_CONTRAST);
        assert!(
            contrast[0].as_f64().unwrap() >= 4.5,
            "{name}: contrast {contrast} under 4.5:1"
        );
        let sideways =
            browser.script("return document.documentElement.scrollWidth - window.innerWidth");
        // What sticks out, to say where to look.
        let widest = browser.script(
            "let w = ''; document.querySelectorAll('main *').forEach(e => { const r = e.getBoundingClientRect(); if (r.right > window.innerWidth + 1) w = e.tagName + ' ' + (e.textContent || '').trim().slice(0, 60); }); return w",
        );
        assert!(
            sideways.as_i64().unwrap() <= 0,
            "{name} scrolls sideways on a {label}: {sideways} ({widest})"
        );
        browser.screenshot(&shots.join(format!("{name}-{label}.png")));
    }
    browser.window(1280, 900);
}

#[test]
fn control_pages_in_a_real_browser() {
    if !tools_present(&["chromium", "chromedriver"], false) {
        return;
    }
    let dir = test_dir();
    let d = dir.path();
    let config = d.join("checker.toml");
    let mail = d.join("mail");
    fs::write(
        &config,
        format!(
            "database = \"sqlite://{d}/mirrors.db\"\nsnapshot_path = \"{d}/snapshot.bin\"\n\n\
             [control]\nadmins = [\"root@e2e.test\"]\nmail_folder = \"{m}\"\n",
            d = d.display(),
            m = mail.display()
        ),
    )
    .unwrap();
    let checker = |args: &[&str]| {
        let mut c = Command::new(workspace_bin("mirror-checker"));
        c.arg("--config")
            .arg(&config)
            .args(["--log", "info"])
            .args(args);
        c
    };
    let examples = project_root().join("deploy/examples");
    let catalog = examples.join("catalog.toml").display().to_string();
    run_ok(checker(&["catalog", "load", &catalog]), LIMIT);
    let registry = examples.join("mirrors.d").display().to_string();
    run_ok(checker(&["import-registry", &registry, "--sync"]), LIMIT);
    let mut control = Proc::spawn(
        "control",
        checker(&["serve", "--listen", "127.0.0.1:0"]),
        &d.join("control.log"),
    );
    let line = control.wait_for_log("control plane serving", LIMIT);
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("listen="))
        .unwrap()
        .to_string();
    let base = format!("http://{addr}");
    let shots = project_root().join("target/e2e-artifacts/control");
    fs::create_dir_all(&shots).unwrap();
    let browser = Browser::start(d);

    // The registration form: problems beside their fields, what was typed kept.
    browser.goto(&format!("{base}/register"));
    look(&browser, &shots, "register");
    browser.type_into("#name", "not a host");
    browser.type_into("#https", "https://user:pw@new.example.com/");
    browser.click("form[action='/register'] button[type=submit]");
    text_with(&browser, "problem(s) stopped the registration");
    let beside = browser.script("return document.querySelector('#https-help').innerText");
    assert!(beside.as_str().unwrap().contains("Refused:"), "{beside}");
    let kept = browser.script("return document.querySelector('#name').value");
    assert_eq!(kept, "not a host");
    look(&browser, &shots, "register-refused");

    // Signing in: the form, the mailed link, its button.
    browser.goto(&format!("{base}/"));
    look(&browser, &shots, "signin");
    browser.type_into("#address", "noc@example.com");
    browser.click("form[action='/signin'] button[type=submit]");
    let notice = text_with(&browser, "a sign-in link is on its way");
    assert!(notice.contains("noc@example.com"), "{notice}");
    let message = wait_for("the sign-in mail", LIMIT, || {
        let files: Vec<_> = fs::read_dir(&mail).ok()?.filter_map(Result::ok).collect();
        let file = files
            .iter()
            .find(|f| f.path().extension().is_some_and(|e| e == "eml"))?;
        fs::read_to_string(file.path()).ok()
    });
    let link = message
        .split_whitespace()
        .find(|w| w.starts_with("http") && w.contains("/signin/"))
        .unwrap();
    browser.goto(link);
    browser.click("form button[type=submit]");
    let home = text_with(&browser, "mirror3.example.com");
    assert!(home.contains("mirror3.example.com"), "{home}");
    // The session cookie is HttpOnly: no script of the page reads it.
    let cookies = browser.script("return document.cookie");
    assert!(
        !cookies.as_str().unwrap().contains("mc_session"),
        "{cookies}"
    );
    look(&browser, &shots, "home");

    browser.goto(&format!("{base}/mirrors/mirror3.example.com"));
    assert!(text(&browser).contains("noc@example.com"));
    look(&browser, &shots, "mirror");
    // A forged CSRF token is refused, with a page that says why.
    browser.script(
        "document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'forged'); return 1",
    );
    browser.type_into("#token-name", "deploy");
    browser.click("form[action$='/tokens'] button[type=submit]");
    let refused = text_with(&browser, "Forbidden");
    assert!(
        refused.contains("CSRF token is missing or wrong"),
        "{refused}"
    );
    look(&browser, &shots, "csrf-refused");
    control.kill();
}
