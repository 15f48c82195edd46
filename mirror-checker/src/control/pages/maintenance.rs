//! A mirror's maintenance windows on its page: those holding and to come, each with its
//! change and end buttons, and the form that declares one (its refusal shown beside it).

use crate::control::who::Who;
use maud::{html, Markup};
use shared::duration::utc_minute;
use store::MaintenanceWindow;

/// The windows to show, and a refusal to show beside the form: (field, message).
pub struct Windows<'a> {
    pub list: &'a [MaintenanceWindow],
    /// The messages its contacts were told, shown after the windows.
    pub told: &'a [store::Delivery],
    /// The contacts who unsubscribed from its mail.
    pub optouts: &'a [String],
    /// Its webhook, and the secret of one just set (shown this once).
    pub webhook: Option<&'a store::Webhook>,
    pub new_secret: Option<&'a str>,
    pub problem: Option<(&'a str, &'a str)>,
    pub now: i64,
}

fn scope_words(w: &MaintenanceWindow) -> &'static str {
    match w.scope {
        shared::model::Scope::Mirror => "the whole mirror",
        shared::model::Scope::Http => "HTTP",
        shared::model::Scope::Https => "HTTPS",
        shared::model::Scope::V4 => "IPv4",
        shared::model::Scope::V6 => "IPv6",
    }
}

fn problem_for<'a>(w: &Windows<'a>, field: &str) -> Option<&'a str> {
    w.problem.filter(|(f, _)| *f == field).map(|(_, m)| m)
}

pub fn section(who: &Who, name: &str, w: &Windows<'_>) -> Markup {
    let base = format!("/mirrors/{name}/maintenance");
    html! {
        h2 #maintenance { "Maintenance" }
        p { "During a window the mirror (or the part you name) is not served, its failed checks do not count against it, and its status page says why. After the window it is served again once a check finds it current." }
        @if let Some((_, message)) = w.problem {
            p.error role="alert" #maintenance-problem { "Not declared: " (message) }
        }
        @if w.list.is_empty() {
            p { "No window holds or is planned." }
        } @else {
            table {
                tr { th { "What" } th { "From" } th { "Until" } th { "Note" } th {} }
                @for win in w.list {
                    tr {
                        td { (scope_words(win)) @if win.from <= w.now { " (now)" } }
                        td { (utc_minute(win.from)) }
                        td { (utc_minute(win.until)) }
                        td.why { (win.note) }
                        td {
                            form.inline method="post" action={ (base) "/" (win.id) "/end" } {
                                input type="hidden" name="csrf" value=(who.csrf());
                                button type="submit" { (if win.from <= w.now { "End now" } else { "Cancel" }) }
                            }
                            form.inline method="post" action={ (base) "/" (win.id) } {
                                input type="hidden" name="csrf" value=(who.csrf());
                                label for={ "until-" (win.id) } { "New end" }
                                input id={ "until-" (win.id) } type="text" name="until" size="18" placeholder="2026-12-03T18:00Z or 2h";
                                button type="submit" { "Change" }
                            }
                        }
                    }
                }
            }
        }
        form method="post" action=(base) {
            input type="hidden" name="csrf" value=(who.csrf());
            div.field {
                label for="window-scope" { "What goes into maintenance" }
                select #window-scope name="scope" {
                    option value="mirror" { "the whole mirror" }
                    option value="http" { "HTTP only" }
                    option value="https" { "HTTPS only" }
                    option value="ipv4" { "IPv4 only" }
                    option value="ipv6" { "IPv6 only" }
                }
            }
            div.field {
                label for="window-from" { "From (UTC, or now)" }
                input #window-from type="text" name="from" value="now" aria-describedby="window-from-help"
                    aria-invalid=(if problem_for(w, "from").is_some() { "true" } else { "false" });
                div #window-from-help { small { "2026-12-03T18:00Z, 2026-12-03T19:00+01:00, or now" } }
            }
            div.field {
                label for="window-until" { "Until (UTC), or for how long" }
                input #window-until type="text" name="until" required aria-describedby="window-until-help"
                    aria-invalid=(if problem_for(w, "until").is_some() { "true" } else { "false" });
                div #window-until-help { small { "2026-12-04T06:00Z, or a length such as 6h or 2d" } }
            }
            div.field {
                label for="window-note" { "Note (shown on the public status page)" }
                input #window-note type="text" name="note" maxlength="500";
            }
            button type="submit" { "Declare the window" }
        }
    }
}
