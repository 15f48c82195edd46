//! What the mirror's contacts were told, on its page: each message, and whether it went,
//! waits (with the relay's last answer) or was given up.

use maud::{html, Markup};
use shared::duration::utc_minute;
use store::Delivery;

fn state(d: &Delivery) -> String {
    match (d.delivered_at, d.gave_up_at, &d.last_error) {
        (Some(at), _, _) => format!("sent {}", utc_minute(at)),
        (None, Some(at), e) => format!(
            "given up {}: {}",
            utc_minute(at),
            e.as_deref().unwrap_or("no answer")
        ),
        (None, None, Some(e)) => format!("waiting, tried {} times: {e}", d.attempts),
        (None, None, None) => "waiting".into(),
    }
}

/// The messages, and who unsubscribed (`who` may subscribe again).
pub fn section(
    who: &crate::control::who::Who,
    name: &str,
    list: &[Delivery],
    optouts: &[String],
) -> Markup {
    html! {
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
                        td { (d.recipient) }
                        td.why { (d.subject) }
                        td.why { (state(d)) }
                    }
                }
            }
        }
    }
}
