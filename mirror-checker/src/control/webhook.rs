//! A mirror's webhook, set by its operator (page or API, signed in: the secret is shown
//! once, so never by an API token) or an admin: an https URL, never an internal address;
//! setting another makes a new secret; removed at will. Audited.

use super::mirrors::{mirror_page_with, own};
use super::request;
use super::web::{self, Refused, Who};
use super::{secret, Control};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use store::{AuditEntry, Webhook};

fn url_of(c: &Control, raw: Option<&str>) -> Result<String, Refused> {
    let bad = |message: String| Refused::Field {
        field: "url".into(),
        message,
    };
    let raw = raw.unwrap_or("").trim();
    if raw.is_empty() || raw.len() > 500 {
        return Err(bad(
            "missing or longer than 500 characters: an https URL".into()
        ));
    }
    let url = url::Url::parse(raw).map_err(|e| bad(format!("not a URL: {e}")))?;
    if url.scheme() != "https" {
        return Err(bad(
            "must be https: deliveries carry what your mirror's state is".into(),
        ));
    }
    // The crawl's rule, with its configured exceptions ([http] allow_internal); a name that
    // resolves to an internal address is refused when it is connected to.
    let allowed = |ip: std::net::IpAddr| {
        c.client
            .config()
            .allow_internal
            .iter()
            .any(|n| n.contains(&ip))
    };
    let internal = |ip: std::net::IpAddr| shared::net::is_internal(ip) && !allowed(ip);
    let internal = match url.host() {
        Some(url::Host::Ipv4(ip)) => internal(ip.into()),
        Some(url::Host::Ipv6(ip)) => internal(ip.into()),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => true,
    };
    if internal {
        return Err(bad(
            "an internal address: the checker sends only to public ones".into(),
        ));
    }
    Ok(url.to_string())
}

async fn audited(
    c: &Control,
    who: &Who,
    via: &str,
    action: &str,
    mirror: &str,
    url: Option<&str>,
) -> Result<(), Refused> {
    let entry = AuditEntry {
        at: shared::time::now(),
        actor: who.address.clone(),
        via: who.via(via),
        action: action.into(),
        subject: mirror.into(),
        before: None,
        after: url.map(str::to_string),
    };
    Ok(c.store.audit(&entry).await?)
}

/// Sets `mirror`'s webhook to `url`: the URL as stored, and its new secret.
async fn set(
    c: &Control,
    who: &Who,
    mirror: &str,
    url: Option<&str>,
    via: &str,
) -> Result<(String, String), Refused> {
    if who.token.is_some() {
        return Err(Refused::Forbidden(
            "an API token cannot set a webhook (its secret is shown once): sign in on the mirror's page".into(),
        ));
    }
    own(c, who, mirror).await?;
    let url = url_of(c, url)?;
    let secret = format!("whsec_{}", secret::new_token());
    let hook = Webhook {
        mirror: mirror.into(),
        url: url.clone(),
        secret: secret.clone(),
        created_by: who.address.clone(),
        created_at: shared::time::now(),
    };
    c.store.set_webhook(&hook).await?;
    audited(c, who, via, "set webhook", mirror, Some(&url)).await?;
    Ok((url, secret))
}

async fn remove(c: &Control, who: &Who, mirror: &str, via: &str) -> Result<(), Refused> {
    own(c, who, mirror).await?;
    if !c.store.remove_webhook(mirror).await? {
        return Err(Refused::NotFound(format!("{mirror} has no webhook")));
    }
    audited(c, who, via, "remove webhook", mirror, None).await
}

/// `POST /mirrors/NAME/webhook` (`url`): the page again, the secret shown on it this once.
pub async fn set_form(
    State(c): State<Control>,
    Path(mirror): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (who, fields) = request::signed_form(&c, &headers, body, &["csrf", "url"]).await?;
        let (_, secret) = set(
            &c,
            &who,
            &mirror,
            fields.get("url").map(String::as_str),
            "page",
        )
        .await?;
        mirror_page_with(&c, &who, &mirror, None, None, Some(&secret)).await
    };
    match result.await {
        Ok(page) => web::html(StatusCode::OK, page),
        Err(r) => r.into_response(false),
    }
}

/// `POST /mirrors/NAME/webhook/remove`.
pub async fn remove_form(
    State(c): State<Control>,
    Path(mirror): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (who, _) = request::signed_form(&c, &headers, body, &["csrf"]).await?;
        remove(&c, &who, &mirror, "page").await
    };
    match result.await {
        Ok(()) => web::see_other(&format!("/mirrors/{mirror}")),
        Err(r) => r.into_response(false),
    }
}

/// `GET /api/v1/mirrors/NAME/webhook`: its URL (never its secret), `null` with none.
pub async fn api_get(
    State(c): State<Control>,
    Path(mirror): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let who = request::signed_in(&c, &headers).await?;
        own(&c, &who, &mirror).await?;
        let hook = c.store.webhooks(Some(&mirror)).await?.pop();
        Ok::<_, Refused>(serde_json::json!({
            "mirror": mirror,
            "url": hook.as_ref().map(|h| h.url.clone()),
            "created_at": hook.as_ref().map(|h| h.created_at),
        }))
    };
    match result.await {
        Ok(v) => web::json(StatusCode::OK, &v),
        Err(r) => r.into_response(true),
    }
}

/// `POST /api/v1/mirrors/NAME/webhook` (`{"url": …}`): 201 with the secret, this once.
pub async fn api_set(
    State(c): State<Control>,
    Path(mirror): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (who, map) = request::signed_json(&c, &headers, body, &["url"]).await?;
        set(
            &c,
            &who,
            &mirror,
            map.get("url").and_then(|v| v.as_str()),
            "api",
        )
        .await
    };
    match result.await {
        Ok((url, secret)) => web::json(
            StatusCode::CREATED,
            &serde_json::json!({ "mirror": mirror, "url": url, "secret": secret }),
        ),
        Err(r) => r.into_response(true),
    }
}

/// `POST /api/v1/mirrors/NAME/webhook/remove`.
pub async fn api_remove(
    State(c): State<Control>,
    Path(mirror): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (who, _) = request::signed_json(&c, &headers, body, &[]).await?;
        remove(&c, &who, &mirror, "api").await
    };
    match result.await {
        Ok(()) => web::json(
            StatusCode::OK,
            &serde_json::json!({ "mirror": mirror, "removed": true }),
        ),
        Err(r) => r.into_response(true),
    }
}
