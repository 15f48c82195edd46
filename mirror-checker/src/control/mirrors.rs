//! What a signed-in operator sees of their mirrors (and an admin of every mirror): the
//! registry's fields the public never sees, and the same verdicts and reasons as the public
//! status page. Anyone else's mirror is a 403, whether it exists or not.

use super::request;
use super::web::{self, Refused, Who};
use super::{pages, Control};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use shared::registry::Mirror;

/// The names of the mirrors `who` may see.
pub async fn visible(c: &Control, who: &Who) -> Result<Vec<String>, Refused> {
    if let Some(t) = &who.token {
        return Ok(vec![t.mirror.clone()]);
    }
    if who.admin {
        let mut names: Vec<String> = c
            .store
            .load_mirrors()
            .await?
            .into_iter()
            .map(|m| m.name)
            .collect();
        names.sort();
        return Ok(names);
    }
    Ok(c.store.mirrors_of_contact(&who.address).await?)
}

/// The mirror `name` when `who` may see it.
pub async fn own(c: &Control, who: &Who, name: &str) -> Result<Mirror, Refused> {
    if who.scoped_away_from(name) {
        return Err(Refused::Forbidden(format!(
            "this API token acts for {} only",
            who.token.as_ref().map_or("", |t| t.mirror.as_str())
        )));
    }
    let mirror = c
        .store
        .load_mirrors()
        .await?
        .into_iter()
        .find(|m| m.name == name);
    let theirs = |m: &Mirror| {
        m.email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(&who.address))
    };
    match mirror {
        Some(m) if who.admin || theirs(&m) => Ok(m),
        None if who.admin => Err(Refused::NotFound(format!(
            "no mirror is named {}",
            shared::text::bounded(name, 100)
        ))),
        _ => Err(Refused::Forbidden(format!(
            "{} is not a mirror whose contact is {}: only its operators and the admins see it",
            shared::text::bounded(name, 100),
            who.address
        ))),
    }
}

/// The mirror's page, with `new` (a token just made) shown once.
pub async fn mirror_page(
    c: &Control,
    who: &Who,
    name: &str,
    new: Option<(&str, &str)>,
) -> Result<String, Refused> {
    mirror_page_with(c, who, name, new, None, None).await
}

/// [`mirror_page`], with a maintenance window's refusal (field, message) beside its form,
/// or a webhook's secret just made shown once.
pub async fn mirror_page_with(
    c: &Control,
    who: &Who,
    name: &str,
    new: Option<(&str, &str)>,
    problem: Option<(&str, &str)>,
    new_secret: Option<&str>,
) -> Result<String, Refused> {
    let mirror = own(c, who, name).await?;
    let now = shared::time::now();
    let windows = c.store.windows(Some(name), now).await?;
    let told = c.store.deliveries(Some(name), 10).await?;
    let optouts = c.store.optouts(name).await?;
    let webhook = c.store.webhooks(Some(name)).await?.pop();
    let maintenance = pages::maintenance::Windows {
        list: &windows,
        told: &told,
        optouts: &optouts,
        webhook: webhook.as_ref(),
        new_secret,
        problem,
        now,
    };
    let status = crate::report::render(&c.store, name)
        .await
        .unwrap_or_else(|e| format!("no verdict yet: {e}"));
    let managed = c.store.control_managed().await?.contains(name);
    let list = c.store.api_tokens(name).await?;
    let tokens = pages::mirror::Tokens { list: &list, new };
    let pending = c.store.pending_changes(Some(name)).await?.pop();
    Ok(pages::mirror::page(
        who,
        &mirror,
        managed,
        &status,
        pending.as_ref(),
        &tokens,
        &maintenance,
    ))
}

/// `GET /mirrors/NAME`.
pub async fn page(
    State(c): State<Control>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let who = request::signed_in(&c, &headers).await?;
        mirror_page(&c, &who, &name, None).await
    };
    match result.await {
        Ok(page) => web::html(StatusCode::OK, page),
        Err(r) => r.into_response(false),
    }
}

fn json(value: serde_json::Value) -> Response {
    web::json(StatusCode::OK, &value)
}

/// `GET /api/v1/me`: who is signed in and the mirrors they may see.
pub async fn api_me(State(c): State<Control>, headers: HeaderMap) -> Response {
    let result = async {
        let who = request::signed_in(&c, &headers).await?;
        let mirrors = visible(&c, &who).await?;
        Ok::<_, Refused>(
            serde_json::json!({ "address": who.address, "admin": who.admin, "mirrors": mirrors }),
        )
    };
    match result.await {
        Ok(v) => json(v),
        Err(r) => r.into_response(true),
    }
}

/// `GET /api/v1/mirrors`: the registry's fields of every mirror `who` may see.
pub async fn api_list(State(c): State<Control>, headers: HeaderMap) -> Response {
    let result = async {
        let who = request::signed_in(&c, &headers).await?;
        let names = visible(&c, &who).await?;
        let mirrors: Vec<Mirror> = c
            .store
            .load_mirrors()
            .await?
            .into_iter()
            .filter(|m| names.contains(&m.name))
            .collect();
        Ok::<_, Refused>(serde_json::json!({ "mirrors": mirrors }))
    };
    match result.await {
        Ok(v) => json(v),
        Err(r) => r.into_response(true),
    }
}

/// `GET /api/v1/mirrors/NAME`: its registry fields and its status (the public API's).
pub async fn api_one(
    State(c): State<Control>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let who = request::signed_in(&c, &headers).await?;
        let mirror = own(&c, &who, &name).await?;
        let status = match crate::report::snapshot_now(&c.store).await {
            Ok(snap) => {
                serde_json::to_value(shared::status::mirror(&snap, &name)).expect("serializable")
            }
            Err(_) => serde_json::Value::Null,
        };
        Ok::<_, Refused>(serde_json::json!({ "mirror": mirror, "status": status }))
    };
    match result.await {
        Ok(v) => json(v),
        Err(r) => r.into_response(true),
    }
}

/// Turns `name` on or off: only a mirror the control plane manages (the registry's are
/// changed in their files), by its operators or an admin; audited.
async fn switch(
    c: &Control,
    who: &Who,
    name: &str,
    enable: bool,
    reason: Option<&str>,
    via: &str,
) -> Result<(), Refused> {
    let mirror = own(c, who, name).await?;
    if !c.store.control_managed().await?.contains(name) {
        let file = shared::registry::file_name(&mirror);
        return Err(Refused::Forbidden(format!(
            "{name} is managed by the registry: set `enabled: {enable}` in its file {file} there; \
             the next import applies it"
        )));
    }
    if mirror.enabled == enable {
        return Ok(());
    }
    let now = shared::time::now();
    c.store.set_enabled(name, enable, now).await?;
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    c.store
        .audit(&store::AuditEntry {
            at: now,
            actor: who.address.clone(),
            via: who.via(via),
            action: if enable { "enable" } else { "disable" }.into(),
            subject: name.into(),
            before: Some(format!("enabled: {}", mirror.enabled)),
            after: Some(match reason {
                Some(r) => format!("enabled: {enable} ({})", shared::text::bounded(r, 500)),
                None => format!("enabled: {enable}"),
            }),
        })
        .await?;
    Ok(())
}

fn verb_of(verb: &str) -> Result<bool, Refused> {
    match verb {
        "enable" => Ok(true),
        "disable" => Ok(false),
        _ => Err(Refused::NotFound(format!(
            "no action {}",
            shared::text::bounded(verb, 40)
        ))),
    }
}

/// `POST /mirrors/NAME/disable` and `/enable`.
pub async fn switch_form(
    State(c): State<Control>,
    Path((name, verb)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let result = async {
        let (who, fields) = request::signed_form(&c, &headers, body, &["csrf", "reason"]).await?;
        let reason = fields.get("reason").map(String::as_str);
        switch(&c, &who, &name, verb_of(&verb)?, reason, "page").await
    };
    match result.await {
        Ok(()) => web::see_other(&format!("/mirrors/{name}")),
        Err(r) => r.into_response(false),
    }
}

/// `POST /api/v1/mirrors/NAME/disable` and `/enable` (`{"reason": …}`).
pub async fn switch_api(
    State(c): State<Control>,
    Path((name, verb)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let result = async {
        let enable = verb_of(&verb)?;
        let (who, map) = request::signed_json(&c, &headers, body, &["reason"]).await?;
        let reason = map.get("reason").and_then(|v| v.as_str());
        switch(&c, &who, &name, enable, reason, "api").await?;
        Ok::<_, Refused>(serde_json::json!({ "name": name, "enabled": enable }))
    };
    match result.await {
        Ok(v) => json(v),
        Err(r) => r.into_response(true),
    }
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi() -> Response {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}
