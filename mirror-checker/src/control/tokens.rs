//! A mirror's API tokens: made on its page or through the API by a signed-in operator (never
//! by another token), shown once, stored as a hash, named, revocable; each use is recorded.

use super::mirrors::{mirror_page, own};
use super::request::{self, TOKEN_PREFIX};
use super::web::{self, Refused, Who};
use super::{secret, Control};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use store::AuditEntry;

/// A token's name: what its maker calls it.
fn name_of(raw: Option<&str>) -> Result<String, Refused> {
    let name = raw.unwrap_or("").trim();
    let bad = |message: &str| Refused::Field {
        field: "name".into(),
        message: message.into(),
    };
    if name.is_empty() {
        return Err(bad("missing: say what the token is for"));
    }
    if name.len() > 64 {
        return Err(bad("longer than 64 characters"));
    }
    if !name
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || " ._-".contains(ch))
    {
        return Err(bad(
            "letters, digits, spaces, dots, dashes and underscores only",
        ));
    }
    Ok(name.to_string())
}

fn by_person(who: &Who) -> Result<(), Refused> {
    match who.token {
        Some(_) => Err(Refused::Forbidden(
            "an API token cannot make or revoke tokens: sign in on the mirror's page".into(),
        )),
        None => Ok(()),
    }
}

async fn audited(
    c: &Control,
    who: &Who,
    via: &str,
    action: &str,
    mirror: &str,
    name: &str,
) -> Result<(), Refused> {
    c.store
        .audit(&AuditEntry {
            at: shared::time::now(),
            actor: who.address.clone(),
            via: who.via(via),
            action: action.into(),
            subject: mirror.into(),
            before: None,
            after: Some(format!("token {name}")),
        })
        .await?;
    Ok(())
}

/// Makes a token for `mirror`: its name and secret.
async fn create(
    c: &Control,
    who: &Who,
    mirror: &str,
    name: Option<&str>,
    via: &str,
) -> Result<(String, String), Refused> {
    by_person(who)?;
    own(c, who, mirror).await?;
    let name = name_of(name)?;
    let secret = format!("{TOKEN_PREFIX}{}", secret::new_token());
    let now = shared::time::now();
    let made = c
        .store
        .create_api_token(&secret::hash(&secret), mirror, &name, &who.address, now)
        .await?;
    if !made {
        return Err(Refused::Field {
            field: "name".into(),
            message: format!(
                "{mirror} has a live token named {name}: revoke it or choose another name"
            ),
        });
    }
    audited(c, who, via, "create token", mirror, &name).await?;
    Ok((name, secret))
}

async fn revoke(c: &Control, who: &Who, mirror: &str, id: &str, via: &str) -> Result<(), Refused> {
    by_person(who)?;
    own(c, who, mirror).await?;
    let now = shared::time::now();
    match c.store.revoke_api_token(mirror, id, now).await? {
        Some(name) => audited(c, who, via, "revoke token", mirror, &name).await,
        None => Err(Refused::NotFound(format!(
            "{mirror} has no live token {}",
            shared::text::bounded(id, 20)
        ))),
    }
}

/// `POST /mirrors/NAME/tokens`: the page again, the new token shown on it this once.
pub async fn create_form(
    State(c): State<Control>,
    Path(mirror): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (who, fields) = request::signed_form(&c, &headers, body, &["csrf", "name"]).await?;
        let (name, secret) = create(
            &c,
            &who,
            &mirror,
            fields.get("name").map(String::as_str),
            "page",
        )
        .await?;
        mirror_page(&c, &who, &mirror, Some((&name, &secret))).await
    };
    match result.await {
        Ok(page) => web::html(StatusCode::OK, page),
        Err(r) => r.into_response(false),
    }
}

/// `POST /mirrors/NAME/tokens/ID/revoke`.
pub async fn revoke_form(
    State(c): State<Control>,
    Path((mirror, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (who, _) = request::signed_form(&c, &headers, body, &["csrf"]).await?;
        revoke(&c, &who, &mirror, &id, "page").await
    };
    match result.await {
        Ok(()) => web::see_other(&format!("/mirrors/{mirror}")),
        Err(r) => r.into_response(false),
    }
}

fn listed(list: &[store::ApiToken]) -> serde_json::Value {
    let tokens: Vec<_> = list
        .iter()
        .map(|t| {
            serde_json::json!({
                "id": t.id, "name": t.name, "created_by": t.created_by, "created_at": t.created_at,
                "last_used_at": t.last_used_at, "revoked_at": t.revoked_at,
            })
        })
        .collect();
    serde_json::json!({ "tokens": tokens })
}

/// `GET /api/v1/mirrors/NAME/tokens`: every token, revoked ones too (never a secret).
pub async fn api_list(
    State(c): State<Control>,
    Path(mirror): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let who = request::signed_in(&c, &headers).await?;
        own(&c, &who, &mirror).await?;
        Ok::<_, Refused>(listed(&c.store.api_tokens(&mirror).await?))
    };
    match result.await {
        Ok(v) => web::json(StatusCode::OK, &v),
        Err(r) => r.into_response(true),
    }
}

/// `POST /api/v1/mirrors/NAME/tokens` (`{"name": …}`): 201 with the secret, this once.
pub async fn api_create(
    State(c): State<Control>,
    Path(mirror): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (who, map) = request::signed_json(&c, &headers, body, &["name"]).await?;
        create(
            &c,
            &who,
            &mirror,
            map.get("name").and_then(|v| v.as_str()),
            "api",
        )
        .await
    };
    match result.await {
        Ok((name, secret)) => web::json(
            StatusCode::CREATED,
            &serde_json::json!({ "mirror": mirror, "name": name, "token": secret }),
        ),
        Err(r) => r.into_response(true),
    }
}

/// `POST /api/v1/mirrors/NAME/tokens/ID/revoke`.
pub async fn api_revoke(
    State(c): State<Control>,
    Path((mirror, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (who, _) = request::signed_json(&c, &headers, body, &[]).await?;
        revoke(&c, &who, &mirror, &id, "api").await
    };
    match result.await {
        Ok(()) => web::json(
            StatusCode::OK,
            &serde_json::json!({ "mirror": mirror, "id": id, "revoked": true }),
        ),
        Err(r) => r.into_response(true),
    }
}
