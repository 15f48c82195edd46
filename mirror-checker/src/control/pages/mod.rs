//! The control plane's pages: server-rendered, no script, one inline stylesheet allowed by
//! its hash; every form posts back here with its CSRF token.

pub mod admin;
pub mod edit;
pub mod maintenance;
pub mod messages;
pub mod mirror;
pub mod registration;

use super::who::Who;
use maud::{html, Markup, PreEscaped, DOCTYPE};

const STYLE: &str = "
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fff}
header,main{max-width:60rem;margin:0 auto;padding:.5rem 1rem}
header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;border-bottom:1px solid #ccc}
h1{font-size:1.5rem}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}td{overflow-wrap:anywhere}
pre{white-space:pre-wrap;background:#f4f4f4;padding:.5rem;overflow-x:auto}
label{display:block;margin:.5rem 0 .2rem}input[type=email],input[type=text],textarea{box-sizing:border-box;width:100%;max-width:32rem;padding:.4rem;font:inherit}
.field small{color:#444}.warning{color:#6b4a00}td.why{overflow-wrap:anywhere}code{overflow-wrap:anywhere}
button{font:inherit;padding:.4rem .9rem;margin:.5rem .5rem 0 0;cursor:pointer;color:#fff;background:#0b5cad;border:0;border-radius:3px}
.error{color:#a00000}a{color:#0b5cad}form.inline{display:inline}
";

/// The pages' Content-Security-Policy: nothing but the stylesheet, forms back here.
pub fn policy() -> &'static str {
    static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    POLICY.get_or_init(|| {
        use base64::Engine;
        use sha2::Digest;
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; \
             base-uri 'none'; frame-ancestors 'none'"
        )
    })
}

pub(super) fn layout(title: &str, who: Option<&Who>, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · mirror control" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    p { a href="/" { "Mirror control" } }
                    @if let Some(who) = who {
                        form.inline method="post" action="/signout" {
                            (who.address) @if who.admin { " (admin)" } " "
                            input type="hidden" name="csrf" value=(who.csrf());
                            button type="submit" { "Sign out" }
                            button type="submit" name="everywhere" value="1" { "Sign out everywhere" }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
    .into_string()
}

/// A page with no one signed in (an unsubscribe link's, say).
pub fn plain(title: &str, body: Markup) -> String {
    layout(title, None, body)
}

/// A page saying why there is nothing to show.
pub fn message(title: &str, text: &str) -> String {
    layout(
        title,
        None,
        html! { p { (text) } p { a href="/" { "Back to the start" } } },
    )
}

/// The sign-in form, with `notice` above it when there is one.
pub fn signin(csrf: &str, notice: Option<&str>) -> String {
    let body = html! {
        @if let Some(n) = notice { p { (n) } }
        p { "Mirror operators sign in with the contact address of a mirror they run; we mail a link that works once, within 15 minutes." }
        p { "New here? " a href="/register" { "Register a mirror" } "." }
        form method="post" action="/signin" {
            input type="hidden" name="csrf" value=(csrf);
            label for="address" { "Contact address" }
            input #address type="email" name="address" required autocomplete="email";
            button type="submit" { "Mail me a sign-in link" }
        }
    };
    layout("Sign in", None, body)
}

/// The page a sign-in link opens: a button, so that a mail scanner fetching the link does
/// not use it up.
pub fn confirm(token: &str, csrf: &str) -> String {
    let body = html! {
        form method="post" action={ "/signin/" (token) } {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { "Sign in" }
        }
    };
    layout("Sign in", None, body)
}

/// Home for someone signed in: the mirrors they may see.
pub fn mirrors(who: &Who, names: &[String], registrations: &[store::Registration]) -> String {
    let body = html! {
        @if names.is_empty() {
            p { "No mirror names " (who.address) " as its contact." }
        } @else {
            p { @if who.admin { "Every registered mirror:" } @else { "The mirrors whose contact is " (who.address) ":" } }
            ul { @for n in names { li { a href={ "/mirrors/" (n) } { (n) } } } }
        }
        @if !registrations.is_empty() {
            h2 { "Registrations" }
            ul { @for r in registrations { li { a href={ "/registrations/" (r.name) } { (r.name) } " (" (r.state.as_str()) ")" } } }
        }
        p { a href="/register" { "Register a mirror" } @if who.admin { " · " a href="/admin" { "Registrations to decide" } " · " a href="/admin/audit" { "Audit log" } } }
    };
    layout("Your mirrors", Some(who), body)
}
