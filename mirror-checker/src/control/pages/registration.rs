//! The registration form (each problem beside its field, what was typed kept) and a
//! registration's page (its state, the token and where it goes, the last proof).

use super::layout;
use crate::control::proof::{Finding, PATH};
use crate::control::who::Who;
use maud::{html, Markup};
use std::collections::BTreeMap;
use store::{Registration, RegistrationState};

/// (field, label, hint, multi-line).
pub(super) const FORM: &[(&str, &str, &str, bool)] = &[
    (
        "name",
        "Mirror name",
        "its host name, e.g. mirror.example.org",
        false,
    ),
    ("sponsor", "Sponsor", "who provides it", false),
    ("sponsor_url", "Sponsor's web site", "https://…", false),
    (
        "email",
        "Contact address",
        "sign-in links and notices go here",
        false,
    ),
    (
        "https",
        "https base URL",
        "the URL of the tree's top, ending in /",
        false,
    ),
    ("http", "http base URL", "", false),
    ("rsync", "rsync URL", "", false),
    ("country", "Country", "ISO code, e.g. DE", false),
    ("state_province", "State or province", "", false),
    ("city", "City", "", false),
    ("bandwidth_mbps", "Bandwidth (Mbit/s)", "", false),
    ("update_frequency", "Syncs every", "e.g. 3h", false),
    (
        "subnets",
        "Netblocks served first",
        "one per line; for a private mirror, who it serves",
        true,
    ),
    ("asn", "ASNs served first", "one per line", true),
    (
        "countries_allowed",
        "Only for clients in",
        "country codes; empty for everyone",
        true,
    ),
    (
        "private",
        "Private",
        "true: only the netblocks and ASNs above get it",
        false,
    ),
];

fn problems_of<'a>(list: &'a [(String, String)], field: &str) -> Vec<&'a str> {
    list.iter()
        .filter(|(f, _)| f == field)
        .map(|(_, m)| m.as_str())
        .collect()
}

pub(super) fn field(
    (name, label, hint, multi): (&str, &str, &str, bool),
    values: &BTreeMap<String, String>,
    errors: &[(String, String)],
    warnings: &[(String, String)],
) -> Markup {
    let value = values.get(name).map_or("", String::as_str);
    let errs = problems_of(errors, name);
    let warns = problems_of(warnings, name);
    let described = format!("{name}-help");
    html! {
        div.field {
            label for=(name) { (label) }
            @if multi {
                textarea #(name) name=(name) rows="3" aria-describedby=(described) { (value) }
            } @else {
                input #(name) type="text" name=(name) value=(value) aria-describedby=(described)
                    aria-invalid=(if errs.is_empty() { "false" } else { "true" });
            }
            div id=(described) {
                @if !hint.is_empty() { small { (hint) } }
                @for e in &errs { p.error { "Refused: " (e) } }
                @for w in &warns { p.warning { "Note: " (w) } }
            }
        }
    }
}

/// The registration form.
pub fn form(
    who: Option<&Who>,
    csrf: &str,
    values: &BTreeMap<String, String>,
    errors: &[(String, String)],
    warnings: &[(String, String)],
) -> String {
    let general: Vec<&str> = problems_of(errors, "");
    let body = html! {
        p { "The same fields as a registry file. Nothing is served until the mirror is proven yours and an admin approved it." }
        @if !errors.is_empty() {
            p.error role="alert" { (errors.len()) " problem(s) stopped the registration; each is shown beside its field." }
        }
        @for e in &general { p.error { (e) } }
        form method="post" action="/register" {
            input type="hidden" name="csrf" value=(csrf);
            @for f in FORM { (field(*f, values, errors, warnings)) }
            button type="submit" { "Register" }
        }
    };
    layout("Register a mirror", who, body)
}

fn state_words(r: &Registration) -> String {
    match r.state {
        RegistrationState::Unconfirmed => {
            format!("Waiting for {} to follow the link mailed to it.", r.contact)
        }
        RegistrationState::Proving => {
            "Waiting for the proof: publish the token below, then ask for a check.".into()
        }
        RegistrationState::Waiting => "Proven yours; waiting for an admin's approval.".into(),
        RegistrationState::Approved => format!(
            "Approved by {}: the checker checks it and serves it once it is current.",
            r.decided_by.as_deref().unwrap_or("an admin")
        ),
        RegistrationState::Refused => format!(
            "Refused by {}: {}",
            r.decided_by.as_deref().unwrap_or("an admin"),
            r.reason.as_deref().unwrap_or("no reason given")
        ),
    }
}

/// A registration's page: what happens next, and the forms that move it on.
pub fn page(who: &Who, r: &Registration, proof: &[Finding]) -> String {
    let open = matches!(
        r.state,
        RegistrationState::Proving | RegistrationState::Waiting
    );
    let body = html! {
        p.state { (state_words(r)) }
        @if let Some(since) = r.proof_missing_since {
            p.warning {
                "The token is no longer found under the mirror's base URLs (since "
                (shared::duration::utc_minute(since)) " UTC)"
                @if r.ownership_flagged_at.is_some() { "; the admins have been told" }
                ". Publish it again; the checker looks at each sweep."
            }
        }
        h2 { "Prove the mirror is yours" }
        p { "Publish this token as the only line of the file " code { (PATH) } " under each http and https base URL, then ask for a check:" }
        pre { (r.token) }
        @if open {
            form method="post" action={ "/registrations/" (r.name) "/prove" } {
                input type="hidden" name="csrf" value=(who.csrf());
                button type="submit" { "Check now" }
            }
        }
        @if !proof.is_empty() {
            table {
                tr { th { "Protocol" } th { "Found" } th { "Why" } }
                @for f in proof {
                    tr { td { (f.protocol) } td { (if f.found { "yes" } else { "no" }) } td.why { (f.reason) } }
                }
            }
        }
        @if who.admin && r.state == RegistrationState::Waiting {
            h2 { "Decide" }
            form method="post" action={ "/registrations/" (r.name) "/approve" } {
                input type="hidden" name="csrf" value=(who.csrf());
                button type="submit" { "Approve" }
            }
            form method="post" action={ "/registrations/" (r.name) "/refuse" } {
                input type="hidden" name="csrf" value=(who.csrf());
                label for="reason" { "Reason (the operator reads it)" }
                input #reason type="text" name="reason" required;
                button type="submit" { "Refuse" }
            }
        }
        h2 { "As a registry file" }
        pre { (r.yaml) }
    };
    layout(&r.name, Some(who), body)
}
