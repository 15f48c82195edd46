//! One mirror's page: its registry fields (what only its operators and the admins see), the
//! switch that takes it out of the answers, its API tokens, and its verdicts.

use super::layout;
use crate::control::who::Who;
use maud::{html, Markup};
use shared::registry::Mirror;
use store::{ApiToken, PendingChange};

/// The mirror's tokens, and the secret of one just made (shown this once).
pub struct Tokens<'a> {
    pub list: &'a [ApiToken],
    pub new: Option<(&'a str, &'a str)>,
}

/// One mirror, with what only its operators and the admins see.
pub fn page(
    who: &Who,
    m: &Mirror,
    managed: bool,
    status: &str,
    pending: Option<&PendingChange>,
    tokens: &Tokens<'_>,
    maintenance: &super::maintenance::Windows<'_>,
) -> String {
    let join = |items: Vec<String>| {
        if items.is_empty() {
            "none".to_string()
        } else {
            items.join(", ")
        }
    };
    let body = html! {
        table {
            tr { th { "Sponsor" } td { (m.sponsor) } }
            tr { th { "Contact" } td { (m.email.as_deref().unwrap_or("none")) } }
            tr { th { "URLs" } td { (join(m.urls.values().cloned().collect())) } }
            tr { th { "Bandwidth" } td { (m.bandwidth_mbps.map_or("not given".into(), |b| format!("{b} Mbit/s"))) } }
            tr { th { "Private" } td { (if m.private { "yes" } else { "no" }) } }
            tr { th { "Netblocks" } td { (join(m.subnets.iter().map(ToString::to_string).collect())) } }
            tr { th { "ASNs" } td { (join(m.asns.iter().map(|a| format!("AS{a}")).collect())) } }
            tr { th { "Countries allowed" } td { (if m.countries_allowed.is_empty() { "all".into() } else { m.countries_allowed.join(", ") }) } }
            tr { th { "Managed by" } td { (if managed { "the control plane".to_string() } else { format!("the registry ({}): change it there", shared::registry::file_name(m)) }) } }
            tr { th { "Enabled" } td { (if m.enabled { "yes" } else { "no: not checked, not served" }) } }
            @if let Some(r) = &m.held { tr { th { "Held by an admin" } td.why { "not served: " (r) } } }
        }
        @if let Some(p) = pending {
            h2 { "A change waits for an admin" }
            p { "Proposed by " (p.proposed_by) "; the mirror serves as above meanwhile, because:" }
            ul { @for why in p.reasons.lines() { li { (why) } } }
            details { summary { "The mirror as it would be" } pre { (p.yaml) } }
            @if who.admin {
                form.inline method="post" action={ "/mirrors/" (m.name) "/change/approve" } {
                    input type="hidden" name="csrf" value=(who.csrf());
                    button type="submit" { "Approve the change" }
                }
                form method="post" action={ "/mirrors/" (m.name) "/change/refuse" } {
                    input type="hidden" name="csrf" value=(who.csrf());
                    label for="change-reason" { "Reason (the operator reads it)" }
                    input #change-reason type="text" name="reason" required;
                    button type="submit" { "Refuse the change" }
                }
            }
        }
        @if managed {
            p { a href={ "/mirrors/" (m.name) "/edit" } { "Edit this mirror" } }
            form method="post" action={ "/mirrors/" (m.name) (if m.enabled { "/disable" } else { "/enable" }) } {
                input type="hidden" name="csrf" value=(who.csrf());
                label for="reason" { "Reason (kept in the audit log)" }
                input #reason type="text" name="reason";
                button type="submit" { (if m.enabled { "Disable this mirror" } else { "Enable this mirror" }) }
            }
        }
        @if who.admin {
            h2 { "Admin" }
            @if m.held.is_some() {
                form method="post" action={ "/mirrors/" (m.name) "/admin/release" } {
                    input type="hidden" name="csrf" value=(who.csrf());
                    button type="submit" { "Lift the hold" }
                }
            } @else {
                form method="post" action={ "/mirrors/" (m.name) "/admin/hold" } {
                    input type="hidden" name="csrf" value=(who.csrf());
                    label for="hold-reason" { "Reason (the operator reads it)" }
                    input #hold-reason type="text" name="reason" required;
                    button type="submit" { "Hold out of the answers" }
                }
            }
        }
        (super::maintenance::section(who, &m.name, maintenance))
        (super::messages::section(who, &m.name, maintenance))
        (tokens_section(who, &m.name, tokens))
        @if managed {
            h2 { "Delete" }
            form method="post" action={ "/mirrors/" (m.name) "/delete" } {
                input type="hidden" name="csrf" value=(who.csrf());
                label for="confirm" { "Type " (m.name) " to delete it, its history and its tokens" }
                input #confirm type="text" name="confirm" required;
                button type="submit" { "Delete this mirror" }
            }
        }
        h2 { "Served or not, and why" }
        pre { (status) }
    };
    layout(&m.name, Some(who), body)
}

fn when(t: Option<i64>) -> String {
    t.map_or("never".into(), shared::duration::http_date)
}

fn tokens_section(who: &Who, name: &str, tokens: &Tokens<'_>) -> Markup {
    let live: Vec<&ApiToken> = tokens
        .list
        .iter()
        .filter(|t| t.revoked_at.is_none())
        .collect();
    html! {
        h2 { "API tokens" }
        p { "For automation: send " code { "Authorization: Bearer TOKEN" } " to " code { "/api/v1/" } ". A token acts for this mirror only." }
        @if let Some((token_name, secret)) = tokens.new {
            p.warning { "The token " strong { (token_name) } " is below. Copy it now: it is stored only as a hash and is not shown again." }
            pre { (secret) }
        }
        @if live.is_empty() {
            p { "No live token." }
        } @else {
            table {
                tr { th { "Name" } th { "Made by" } th { "Made" } th { "Last used" } th {} }
                @for t in &live {
                    tr {
                        td { (t.name) } td { (t.created_by) } td { (when(Some(t.created_at))) } td { (when(t.last_used_at)) }
                        td {
                            form.inline method="post" action={ "/mirrors/" (name) "/tokens/" (t.id) "/revoke" } {
                                input type="hidden" name="csrf" value=(who.csrf());
                                button type="submit" { "Revoke" }
                            }
                        }
                    }
                }
            }
        }
        form method="post" action={ "/mirrors/" (name) "/tokens" } {
            input type="hidden" name="csrf" value=(who.csrf());
            label for="token-name" { "New token's name" }
            input #token-name type="text" name="name" required maxlength="64" pattern="[A-Za-z0-9._ -]+";
            button type="submit" { "Make a token" }
        }
    }
}
