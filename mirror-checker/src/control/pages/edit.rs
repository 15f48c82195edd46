//! Editing a control-plane mirror: the registration's fields (all but its name), each
//! problem beside its field; and what an edit came to.

use super::layout;
use super::registration::{field, FORM};
use crate::control::who::Who;
use maud::html;
use std::collections::BTreeMap;

/// The edit form for `name`, with `values` (the mirror's, or what was typed).
pub fn form(
    who: &Who,
    name: &str,
    values: &BTreeMap<String, String>,
    errors: &[(String, String)],
    warnings: &[(String, String)],
) -> String {
    let body = html! {
        p { "Contacts, sponsor, bandwidth and narrower audiences change at the next snapshot. A new URL or a wider audience waits for an admin (a new URL must hold the ownership token first); the mirror keeps serving as it is meanwhile." }
        @if !errors.is_empty() {
            p.error role="alert" { (errors.len()) " problem(s) stopped the change; each is shown beside its field." }
        }
        @for (f, e) in errors.iter().filter(|(f, _)| f.is_empty() || f == "name") { p.error { (f) " " (e) } }
        form method="post" action={ "/mirrors/" (name) "/edit" } {
            input type="hidden" name="csrf" value=(who.csrf());
            @for f in FORM.iter().filter(|f| f.0 != "name") { (field(*f, values, errors, warnings)) }
            button type="submit" { "Save" }
        }
    };
    layout(&format!("Edit {name}"), Some(who), body)
}

/// What the edit came to: applied, or waiting for an admin and why.
pub fn done(who: &Who, name: &str, waiting: &[String]) -> String {
    let body = html! {
        @if waiting.is_empty() {
            p { "Saved: the change is in the next snapshot." }
        } @else {
            p { "The change waits for an admin; the mirror serves as it was meanwhile:" }
            ul { @for w in waiting { li { (w) } } }
        }
        p { a href={ "/mirrors/" (name) } { "Back to " (name) } }
    };
    layout(&format!("Edit {name}"), Some(who), body)
}
