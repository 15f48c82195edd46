//! One-click unsubscribe (RFC 8058): every message to an operator carries a link; a mail
//! client POSTs to it (no cookie, no CSRF token: the link's token is the proof), a person
//! opening it gets a page with the button. The opt-out is per address and mirror; the
//! operator subscribes again on the mirror's page. Audited.

use super::request;
use super::web::{self, Refused};
use super::{pages, secret, Control};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use maud::html;
use store::AuditEntry;

async fn named(c: &Control, token: &str) -> Result<(String, String), Refused> {
    c.store
        .unsubscribe_link(&secret::hash(token))
        .await?
        .ok_or_else(|| Refused::NotFound("this unsubscribe link is not one of ours".into()))
}

/// `GET /unsubscribe/TOKEN`: what the link does, and its button.
pub async fn page(State(c): State<Control>, Path(token): Path<String>) -> Response {
    match named(&c, &token).await {
        Ok((address, mirror)) => {
            let body = html! {
                p { "Stop mailing " (address) " about " strong { (mirror) } "?" }
                form method="post" action={ "/unsubscribe/" (token) } {
                    button type="submit" { "Unsubscribe" }
                }
                p { "Sign-in links still come when you ask for one; subscribe again on the mirror's page." }
            };
            web::html(StatusCode::OK, pages::plain("Unsubscribe", body))
        }
        Err(r) => r.into_response(false),
    }
}

/// `POST /unsubscribe/TOKEN`: the one-click unsubscribe (the body, if any, is
/// `List-Unsubscribe=One-Click`).
pub async fn one_click(State(c): State<Control>, Path(token): Path<String>) -> Response {
    let result = async {
        let (address, mirror) = named(&c, &token).await?;
        let now = shared::time::now();
        c.store.set_optout(&address, &mirror, true, now).await?;
        let entry = AuditEntry {
            at: now,
            actor: address.clone(),
            via: "unsubscribe link".into(),
            action: "unsubscribe".into(),
            subject: mirror.clone(),
            before: None,
            after: None,
        };
        c.store.audit(&entry).await?;
        Ok::<_, Refused>((address, mirror))
    };
    match result.await {
        Ok((address, mirror)) => web::html(
            StatusCode::OK,
            pages::message(
                "Unsubscribed",
                &format!(
                    "{address} is no longer mailed about {mirror}. Subscribe again on its page."
                ),
            ),
        ),
        Err(r) => r.into_response(false),
    }
}

/// `POST /mirrors/NAME/subscribe`: the signed-in operator is mailed about it again.
pub async fn subscribe(
    State(c): State<Control>,
    Path(mirror): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (who, _) = request::signed_form(&c, &headers, body, &["csrf"]).await?;
        super::mirrors::own(&c, &who, &mirror).await?;
        let now = shared::time::now();
        c.store
            .set_optout(&who.address, &mirror, false, now)
            .await?;
        let entry = AuditEntry {
            at: now,
            actor: who.address.clone(),
            via: who.via("page"),
            action: "subscribe".into(),
            subject: mirror.clone(),
            before: None,
            after: None,
        };
        Ok::<_, Refused>(c.store.audit(&entry).await?)
    };
    match result.await {
        Ok(()) => web::see_other(&format!("/mirrors/{mirror}")),
        Err(r) => r.into_response(false),
    }
}
