//! A registration's page and API: its state, its token and where to publish it, the last
//! proof's findings; the operator asks for a proof, an admin approves or refuses it.
//! Only its contact and the admins see it; anyone else gets the same 403 for every name.

use super::proof::{self, Finding};
use super::register::{self, Registered};
use super::request;
use super::web::{self, Refused, Who};
use super::{pages, Control};
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use shared::registry::Rules;
use std::net::SocketAddr;
use store::{AuditEntry, Registration, RegistrationState};

/// The registration `name` when `who` may see it.
pub async fn own(c: &Control, who: &Who, name: &str) -> Result<Registration, Refused> {
    if who.scoped_away_from(name) {
        return Err(Refused::Forbidden(
            "this API token acts for its own mirror only".into(),
        ));
    }
    let r = c.store.registration(name).await?;
    match r {
        Some(r) if who.admin || r.contact.eq_ignore_ascii_case(&who.address) => Ok(r),
        None if who.admin => Err(Refused::NotFound(format!(
            "no registration is named {}",
            shared::text::bounded(name, 100)
        ))),
        _ => Err(Refused::Forbidden(format!(
            "{} is not a registration whose contact is {}: only its contact and the admins see it",
            shared::text::bounded(name, 100),
            who.address
        ))),
    }
}

/// The last proof's findings.
pub fn findings(r: &Registration) -> Vec<Finding> {
    r.proof
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_default()
}

/// The registration as the API shows it.
pub fn view(r: &Registration, rules: &Rules) -> serde_json::Value {
    let urls: Vec<String> = judged(r, rules)
        .map(|m| {
            m.urls
                .iter()
                .filter(|(p, _)| p.is_web())
                .map(|(_, base)| format!("{base}{}", proof::PATH))
                .collect()
        })
        .unwrap_or_default();
    serde_json::json!({
        "name": r.name,
        "contact": r.contact,
        "state": r.state.as_str(),
        "token": r.token,
        "publish_at": urls,
        "proof": findings(r),
        "proven_at": r.proven_at,
        "proof_missing_since": r.proof_missing_since,
        "ownership_flagged_at": r.ownership_flagged_at,
        "created_at": r.created_at,
        "decided_by": r.decided_by,
        "reason": r.reason,
        "registry_file": r.yaml,
    })
}

/// The mirror a registration's fields make (as they were judged when it was made).
pub fn judged(r: &Registration, rules: &Rules) -> Option<shared::registry::Mirror> {
    let (_, mirror) = shared::registry::judge_with(&r.yaml, &r.name, rules);
    mirror
}

/// `GET /registrations/NAME`.
pub async fn page(
    State(c): State<Control>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let who = request::signed_in(&c, &headers).await?;
        let r = own(&c, &who, &name).await?;
        Ok::<_, Refused>(pages::registration::page(&who, &r, &findings(&r)))
    };
    match result.await {
        Ok(page) => web::html(StatusCode::OK, page),
        Err(r) => r.into_response(false),
    }
}

/// Looks for the token now, records what was found and says it.
pub async fn prove_now(c: &Control, who: &Who, name: &str) -> Result<Registration, Refused> {
    let r = own(c, who, name).await?;
    if !matches!(
        r.state,
        RegistrationState::Proving | RegistrationState::Waiting
    ) {
        return Err(Refused::Forbidden(format!(
            "{name} is {}: only a confirmed registration not yet decided is proven",
            r.state.as_str()
        )));
    }
    let now = shared::time::now();
    let every = c.config.proof_every.as_secs() as i64;
    if r.proof.is_some() && now - r.updated_at < every {
        return Err(Refused::TooMany(format!(
            "{name} was looked at moments ago; ask again in {every} seconds"
        )));
    }
    let mirror = judged(&r, &c.rules)
        .ok_or_else(|| Refused::Store("the registration no longer reads".into()))?;
    let found = proof::prove(&c.client, &mirror, &r.token).await;
    let proven = proof::proven(&found);
    let json = serde_json::to_string(&found).expect("serializable");
    c.store.record_proof(name, &json, proven, now).await?;
    Ok(c.store.registration(name).await?.unwrap_or(r))
}

fn see(name: &str) -> Response {
    web::see_other(&format!("/registrations/{name}"))
}

/// `POST /registrations/NAME/prove`.
pub async fn prove_form(
    State(c): State<Control>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (who, _) = request::signed_form(&c, &headers, body, &["csrf"]).await?;
        prove_now(&c, &who, &name).await
    };
    match result.await {
        Ok(_) => see(&name),
        Err(r) => r.into_response(false),
    }
}

/// `POST /api/v1/registrations/NAME/prove`.
pub async fn prove_api(
    State(c): State<Control>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (who, _) = request::signed_json(&c, &headers, body, &[]).await?;
        prove_now(&c, &who, &name).await
    };
    match result.await {
        Ok(r) => web::json(StatusCode::OK, &view(&r, &c.rules)),
        Err(r) => r.into_response(true),
    }
}

/// An admin's decision: approve (the mirror is stored, to be checked and then served) or
/// refuse with a reason the operator reads.
pub async fn decide(
    c: &Control,
    who: &Who,
    name: &str,
    approve: bool,
    reason: Option<&str>,
    via: &str,
) -> Result<Registration, Refused> {
    if !who.admin {
        return Err(Refused::Forbidden(
            "only admins approve or refuse registrations".into(),
        ));
    }
    let r = own(c, who, name).await?;
    let reason = reason.map(str::trim).filter(|t| !t.is_empty());
    if !approve && reason.is_none() {
        return Err(Refused::Field {
            field: "reason".into(),
            message: "say why: the operator reads it".into(),
        });
    }
    let mirror = judged(&r, &c.rules);
    let stored = if approve { mirror.as_ref() } else { None };
    let now = shared::time::now();
    let reason = reason.map(|t| shared::text::bounded(t, 500));
    let kind = if approve { "approved" } else { "refused" };
    let tell =
        crate::notifications::decision(&r.contact, name, kind, reason.as_deref(), &c.public_url);
    let done = c
        .store
        .decide_registration_telling(name, stored, &who.address, reason.as_deref(), now, &tell)
        .await?;
    if !done {
        return Err(Refused::Forbidden(format!(
            "{name} is {}: only a proven registration waiting for an admin is decided",
            r.state.as_str()
        )));
    }
    let action = if approve { "approve" } else { "refuse" };
    c.store
        .audit(&AuditEntry {
            at: now,
            actor: who.address.clone(),
            via: who.via(via),
            action: action.into(),
            subject: name.into(),
            before: Some(r.state.as_str().into()),
            after: reason.or(Some(r.yaml.clone())),
        })
        .await?;
    Ok(c.store.registration(name).await?.unwrap_or(r))
}

/// `POST /registrations/NAME/approve` and `/refuse`.
pub async fn decide_form(
    State(c): State<Control>,
    Path((name, verb)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (who, fields) = request::signed_form(&c, &headers, body, &["csrf", "reason"]).await?;
        let approve = verb_of(&verb)?;
        let reason = fields.get("reason").map(String::as_str);
        decide(&c, &who, &name, approve, reason, "page").await
    };
    match result.await {
        Ok(_) => see(&name),
        Err(r) => r.into_response(false),
    }
}

fn verb_of(verb: &str) -> Result<bool, Refused> {
    match verb {
        "approve" => Ok(true),
        "refuse" => Ok(false),
        _ => Err(Refused::NotFound(format!(
            "no action {}",
            shared::text::bounded(verb, 40)
        ))),
    }
}

/// `POST /api/v1/registrations/NAME/approve` and `/refuse` (`{"reason": …}`).
pub async fn decide_api(
    State(c): State<Control>,
    Path((name, verb)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let approve = verb_of(&verb)?;
        let (who, map) = request::signed_json(&c, &headers, body, &["reason"]).await?;
        let reason = map.get("reason").and_then(|v| v.as_str());
        decide(&c, &who, &name, approve, reason, "api").await
    };
    match result.await {
        Ok(r) => web::json(StatusCode::OK, &view(&r, &c.rules)),
        Err(r) => r.into_response(true),
    }
}

/// `GET /api/v1/registrations`: the registrations `who` may see.
pub async fn api_list(State(c): State<Control>, headers: HeaderMap) -> Response {
    let result = async {
        let who = request::signed_in(&c, &headers).await?;
        let contact = (!who.admin).then_some(who.address.as_str());
        let list = c.store.registrations(contact).await?;
        let views: Vec<_> = list.iter().map(|r| view(r, &c.rules)).collect();
        Ok::<_, Refused>(serde_json::json!({ "registrations": views }))
    };
    match result.await {
        Ok(v) => web::json(StatusCode::OK, &v),
        Err(r) => r.into_response(true),
    }
}

/// `GET /api/v1/registrations/NAME`.
pub async fn api_one(
    State(c): State<Control>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let who = request::signed_in(&c, &headers).await?;
        own(&c, &who, &name).await
    };
    match result.await {
        Ok(r) => web::json(StatusCode::OK, &view(&r, &c.rules)),
        Err(r) => r.into_response(true),
    }
}

/// `POST /api/v1/registrations`: 201 with the registration (and the judge's warnings), or
/// 400 with every problem by field.
pub async fn api_create(
    State(c): State<Control>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let who = request::who(&c, &headers).await?;
        let fields = register::api_fields(&headers, body).await?;
        let network = request::client_network(&c, peer, &headers);
        register::register(&c, who.as_ref(), &fields, &network, "api").await
    };
    let problems = |list: &[(String, String)]| -> Vec<serde_json::Value> {
        list.iter()
            .map(|(f, m)| serde_json::json!({ "field": f, "message": m }))
            .collect()
    };
    match result.await {
        Ok(Registered::Created(r, warnings)) => web::json(
            StatusCode::CREATED,
            &serde_json::json!({ "registration": view(&r, &c.rules), "warnings": problems(&warnings) }),
        ),
        Ok(Registered::Rejected(errors, warnings)) => {
            let first = errors.first().cloned().unwrap_or_default();
            let body = serde_json::json!({
                "error": format!("the registration was refused: {}: {}", first.0, first.1),
                "field": first.0,
                "errors": problems(&errors),
                "warnings": problems(&warnings),
            });
            web::json(StatusCode::BAD_REQUEST, &body)
        }
        Err(r) => r.into_response(true),
    }
}
