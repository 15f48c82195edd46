//! The admins' pages: the queue of registrations, and the audit log.

use super::layout;
use crate::control::who::Who;
use maud::html;
use store::{AuditEntry, PendingChange, Registration};

/// Registrations not yet decided, the ones waiting for an admin first.
pub fn queue(
    who: &Who,
    open: &[Registration],
    changes: &[PendingChange],
    failing: &[store::Delivery],
) -> String {
    let body = html! {
        p { a href="/admin/audit" { "The audit log" } }
        @if !failing.is_empty() {
            h2 { "Messages not delivered" }
            table {
                tr { th { "Mirror" } th { "To" } th { "Subject" } th { "Why" } }
                @for d in failing {
                    tr {
                        td { a href={ "/mirrors/" (d.mirror) } { (d.mirror) } }
                        td.why { (d.recipient) }
                        td.why { (d.subject) }
                        td.why { (if d.gave_up_at.is_some() { "given up: " } else { "retrying: " }) (d.last_error.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        @if !changes.is_empty() {
            h2 { "Changes to served mirrors" }
            table {
                tr { th { "Mirror" } th { "Why it waits" } th { "By" } th { "Since" } }
                @for ch in changes {
                    tr {
                        td { a href={ "/mirrors/" (ch.name) } { (ch.name) } }
                        td.why { (ch.reasons) }
                        td { (ch.proposed_by) }
                        td { (shared::duration::utc_minute(ch.proposed_at)) }
                    }
                }
            }
            h2 { "Registrations" }
        }
        @if open.is_empty() {
            p { "Nothing is waiting." }
        } @else {
            table {
                tr { th { "Mirror" } th { "State" } th { "Contact" } th { "Since" } }
                @for r in open {
                    tr {
                        td { a href={ "/registrations/" (r.name) } { (r.name) } }
                        td { (r.state.as_str()) @if r.ownership_flagged_at.is_some() { " (token gone: ownership flagged)" } }
                        td { (r.contact) }
                        td { (shared::duration::utc_minute(r.updated_at)) }
                    }
                }
            }
        }
    };
    layout("Registrations to decide", Some(who), body)
}

/// The newest entries of the audit log.
pub fn audit(who: &Who, entries: &[AuditEntry]) -> String {
    let body = html! {
        table {
            tr { th { "When (UTC)" } th { "Who" } th { "Through" } th { "What" } th { "On" } th { "Details" } }
            @for e in entries {
                tr {
                    td { (shared::duration::utc_minute(e.at)) }
                    td { (e.actor) }
                    td { (e.via) }
                    td { (e.action) }
                    td { (e.subject) }
                    td { @if let Some(a) = &e.after { details { summary { "after" } pre { (a) } } } }
                }
            }
        }
    };
    layout("Audit log", Some(who), body)
}
