//! An admin's hold: any mirror, the registry's or the control plane's, kept out of the
//! answers with a reason its operator reads, whatever its file or its operator's switch
//! says, until an admin lifts it. Audited with the reason.

use super::request;
use super::web::{self, Refused, Who};
use super::Control;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use store::AuditEntry;

/// Holds `name` for `reason`, or with `None` lifts its hold.
pub async fn hold(
    c: &Control,
    who: &Who,
    name: &str,
    reason: Option<&str>,
    via: &str,
) -> Result<(), Refused> {
    if !who.admin {
        return Err(Refused::Forbidden(
            "only admins hold mirrors out of the answers or lift a hold".into(),
        ));
    }
    let hold = reason.is_some();
    let reason = reason.map(str::trim).map(|r| shared::text::bounded(r, 500));
    if hold && reason.as_deref().is_none_or(str::is_empty) {
        return Err(Refused::Field {
            field: "reason".into(),
            message: "say why: the operator reads it".into(),
        });
    }
    let before = c
        .store
        .load_mirrors()
        .await?
        .into_iter()
        .find(|m| m.name == name);
    let Some(before) = before else {
        return Err(Refused::NotFound(format!(
            "no mirror is named {}",
            shared::text::bounded(name, 100)
        )));
    };
    let now = shared::time::now();
    let kind = if hold { "held" } else { "released" };
    let contacts = before.email.clone().unwrap_or_default();
    // Lifting a hold there was not is no news.
    let tell = match hold || before.held.is_some() {
        true => {
            crate::notifications::decision(&contacts, name, kind, reason.as_deref(), &c.public_url)
        }
        false => Vec::new(),
    };
    let mut tell = tell;
    if let (false, Some(hook)) = (tell.is_empty(), c.store.webhooks(Some(name)).await?.pop()) {
        let base = &c.public_url;
        tell.push(crate::webhooks::decision(
            name,
            &hook.url,
            kind,
            reason.as_deref(),
            base,
        ));
    }
    c.store
        .set_hold(name, reason.as_deref(), &who.address, now, &tell)
        .await?;
    let entry = AuditEntry {
        at: now,
        actor: who.address.clone(),
        via: who.via(via),
        action: if hold { "hold" } else { "release" }.into(),
        subject: name.into(),
        before: before.held.map(|r| format!("held: {r}")),
        after: reason.map(|r| format!("held: {r}")),
    };
    Ok(c.store.audit(&entry).await?)
}

fn verb_of(verb: &str) -> Result<bool, Refused> {
    match verb {
        "hold" => Ok(true),
        "release" => Ok(false),
        _ => Err(Refused::NotFound(format!(
            "no action {}",
            shared::text::bounded(verb, 40)
        ))),
    }
}

/// `POST /mirrors/NAME/hold` (`reason`) and `/release`.
pub async fn form(
    State(c): State<Control>,
    Path((name, verb)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let holding = verb_of(&verb)?;
        let (who, fields) = request::signed_form(&c, &headers, body, &["csrf", "reason"]).await?;
        let reason = fields.get("reason").map(String::as_str).filter(|_| holding);
        hold(
            &c,
            &who,
            &name,
            if holding {
                Some(reason.unwrap_or(""))
            } else {
                None
            },
            "page",
        )
        .await
    };
    match result.await {
        Ok(()) => web::see_other(&format!("/mirrors/{name}")),
        Err(r) => r.into_response(false),
    }
}

/// `POST /api/v1/mirrors/NAME/hold` (`{"reason": …}`) and `/release`.
pub async fn api(
    State(c): State<Control>,
    Path((name, verb)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let holding = verb_of(&verb)?;
        let (who, map) = request::signed_json(&c, &headers, body, &["reason"]).await?;
        let reason = map.get("reason").and_then(|v| v.as_str()).unwrap_or("");
        hold(&c, &who, &name, holding.then_some(reason), "api").await?;
        Ok::<_, Refused>(holding)
    };
    match result.await {
        Ok(held) => web::json(
            StatusCode::OK,
            &serde_json::json!({ "name": name, "held": held }),
        ),
        Err(r) => r.into_response(true),
    }
}
