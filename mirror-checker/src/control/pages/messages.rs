//! What the mirror's contacts were told, on its page: each message, and whether it went,
//! waits (with the relay's last answer) or was given up.

use crate::control::who::Who;
use maud::{html, Markup};
use shared::duration::utc_minute;
use store::Delivery;

fn state(d: &Delivery) -> String {
    match (d.delivered_at, d.gave_up_at, &d.last_error) {
        (Some(at), _, _) => match d.last_status {
            Some(status) => format!("sent {}: HTTP {status}", utc_minute(at)),
            None => format!("sent {}", utc_minute(at)),
        },
        (None, Some(at), e) => format!(
            "given up {}: {}",
            utc_minute(at),
            e.as_deref().unwrap_or("no answer")
        ),
        (None, None, Some(e)) => format!("waiting, tried {} times: {e}", d.attempts),
        (None, None, None) => "waiting".into(),
    }
}

fn webhook(who: &Who, name: &str, w: &super::maintenance::Windows<'_>) -> Markup {
    html! {
        h2 #webhook { "Webhook" }
        p { "Its changes of state, POSTed as JSON to an https URL of yours, signed: " code { "X-Mirror-Signature: sha256=HMAC-SHA256(secret, TIMESTAMP.BODY)" } " with " code { "X-Mirror-Timestamp" } "." }
        @if let Some(secret) = w.new_secret {
            p.warning { "The webhook's secret is below. Copy it now: it is not shown again." }
            pre { (secret) }
        }
        @if let Some(h) = w.webhook {
            p { "Sends to " code { (h.url) } " (set by " (h.created_by) ")." }
            form method="post" action={ "/mirrors/" (name) "/webhook/remove" } {
                input type="hidden" name="csrf" value=(who.csrf());
                button type="submit" { "Remove the webhook" }
            }
        }
        form method="post" action={ "/mirrors/" (name) "/webhook" } {
            input type="hidden" name="csrf" value=(who.csrf());
            label for="webhook-url" { (if w.webhook.is_some() { "Another URL (a new secret)" } else { "URL (https)" }) }
            input #webhook-url type="url" name="url" required maxlength="500" placeholder="https://hooks.example.org/mirror";
            button type="submit" { "Set the webhook" }
        }
    }
}

/// The messages, who unsubscribed (`who` may subscribe again), and the webhook.
pub fn section(who: &Who, name: &str, w: &super::maintenance::Windows<'_>) -> Markup {
    let (list, optouts) = (w.told, w.optouts);
    html! {
        (webhook(who, name, w))
        h2 #messages { "Messages to its contacts" }
        @if !optouts.is_empty() {
            p { "Not mailed (unsubscribed): " (optouts.join(", ")) }
        }
        @if optouts.contains(&who.address) {
            form method="post" action={ "/mirrors/" (name) "/subscribe" } {
                input type="hidden" name="csrf" value=(who.csrf());
                button type="submit" { "Mail me about it again" }
            }
        }
        @if list.is_empty() {
            p { "Nothing sent yet. Its contacts are mailed when it goes down or comes back, and of an admin's decision." }
        } @else {
            table {
                tr { th { "Written" } th { "To" } th { "Subject" } th { "Delivery" } }
                @for d in list {
                    tr {
                        td { (utc_minute(d.created_at)) }
                        td.why { (d.recipient) }
                        td.why { (d.subject) }
                        td.why { (state(d)) }
                    }
                }
            }
        }
    }
}
