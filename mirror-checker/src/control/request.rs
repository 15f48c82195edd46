//! What a request says: who is asking (the session cookie), the forms' and the API's bodies,
//! and the CSRF tokens that show a form came from our page.

use super::web::{cookie, cookie_name, set_cookie, Refused, Who, MAX_BODY};
use super::who::Scope;
use super::{secret, Control};
use axum::body::Body;
use http::{header, HeaderMap, HeaderValue};
use std::collections::HashMap;

/// A signed-in person's form: who, and its `allowed` fields with the CSRF token checked.
pub async fn signed_form(
    c: &Control,
    headers: &HeaderMap,
    body: Body,
    allowed: &[&str],
) -> Result<(Who, HashMap<String, String>), Refused> {
    let who = signed_in(c, headers).await?;
    let fields = form(body, allowed).await?;
    check_csrf(&who, &fields)?;
    Ok((who, fields))
}

/// A signed-in person's API body: who, and its `allowed` keys.
pub async fn signed_json(
    c: &Control,
    headers: &HeaderMap,
    body: Body,
    allowed: &[&str],
) -> Result<(Who, serde_json::Map<String, serde_json::Value>), Refused> {
    let who = signed_in(c, headers).await?;
    let map = json_body(headers, body, allowed).await?;
    Ok((who, map))
}

/// The prefix of every API token: what makes one recognisable (in a leaked log, to a
/// secret scanner).
pub const TOKEN_PREFIX: &str = "mct_";

/// Who is asking, if anyone: an API token (`Authorization: Bearer`), or the session cookie
/// (using it keeps it alive). A token that is not good is refused, not taken as no one.
pub async fn who(control: &Control, headers: &HeaderMap) -> Result<Option<Who>, Refused> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        return token(control, auth).await.map(Some);
    }
    let Some(id) = cookie(headers, &cookie_name(control, "mc_session")) else {
        return Ok(None);
    };
    let now = shared::time::now();
    let idle_since = now - control.config.session_idle.as_secs() as i64;
    let Some(address) = control
        .store
        .touch_session(&secret::hash(&id), now, idle_since)
        .await?
    else {
        return Ok(None);
    };
    let admin = control.is_admin(&address).await?;
    Ok(Some(Who {
        address,
        session_id: id,
        admin,
        token: None,
    }))
}

async fn token(control: &Control, auth: &HeaderValue) -> Result<Who, Refused> {
    let secret = auth
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| t.starts_with(TOKEN_PREFIX) && t.len() == TOKEN_PREFIX.len() + 43)
        .ok_or(Refused::BadToken)?;
    let now = shared::time::now();
    let used = control
        .store
        .use_api_token(&secret::hash(secret), now)
        .await?
        .ok_or(Refused::BadToken)?;
    Ok(Who {
        address: used.created_by,
        session_id: String::new(),
        admin: false,
        token: Some(Scope {
            mirror: used.mirror,
            name: used.name,
        }),
    })
}

/// [`who`], refusing when no one is signed in.
pub async fn signed_in(control: &Control, headers: &HeaderMap) -> Result<Who, Refused> {
    who(control, headers).await?.ok_or(Refused::SignedOut)
}

/// A form's fields: at most [`MAX_BODY`], only the `allowed` names, each once.
pub async fn form(body: Body, allowed: &[&str]) -> Result<HashMap<String, String>, Refused> {
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| Refused::TooLarge)?;
    let mut fields = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(&bytes) {
        if !allowed.contains(&k.as_ref()) {
            let shown = shared::text::bounded(&k, 40);
            return Err(Refused::Field {
                field: shown.clone(),
                message: format!("unknown field; this form takes {}", allowed.join(", ")),
            });
        }
        if fields.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(Refused::Field {
                field: k.to_string(),
                message: "given twice".into(),
            });
        }
    }
    Ok(fields)
}

/// A JSON API body: an object of at most [`MAX_BODY`] with only the `allowed` keys.
/// `Content-Type: application/json` is required: a browser cannot send it across sites
/// without asking first, which is what keeps the API's cookie from being used by another
/// site's page.
pub async fn json_body(
    headers: &HeaderMap,
    body: Body,
    allowed: &[&str],
) -> Result<serde_json::Map<String, serde_json::Value>, Refused> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next() == Some("application/json"));
    if !json {
        return Err(Refused::Field {
            field: "Content-Type".into(),
            message: "the API takes application/json".into(),
        });
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| Refused::TooLarge)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| Refused::Field {
        field: "body".into(),
        message: format!("not JSON: {e}"),
    })?;
    let serde_json::Value::Object(map) = value else {
        return Err(Refused::Field {
            field: "body".into(),
            message: "expected a JSON object".into(),
        });
    };
    if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(Refused::Field {
            field: shared::text::bounded(k, 40),
            message: format!("unknown field; this takes {}", allowed.join(", ")),
        });
    }
    Ok(map)
}

/// Checks a signed-in form's CSRF token (derived from the session).
pub fn check_csrf(who: &Who, fields: &HashMap<String, String>) -> Result<(), Refused> {
    if who.token.is_some() {
        return Err(Refused::Forbidden(
            "API tokens are for the API (/api/v1/), not the pages' forms".into(),
        ));
    }
    match fields.get("csrf") {
        Some(t) if secret::same(t, &who.csrf()) => Ok(()),
        _ => Err(Refused::Csrf),
    }
}

/// Checks an anonymous form's CSRF token: the one its page set as a cookie.
pub fn check_anonymous_csrf(
    control: &Control,
    headers: &HeaderMap,
    fields: &HashMap<String, String>,
) -> Result<(), Refused> {
    let cookie = cookie(headers, &cookie_name(control, "mc_csrf")).unwrap_or_default();
    match fields.get("csrf") {
        Some(t) if !cookie.is_empty() && secret::same(t, &cookie) => Ok(()),
        _ => Err(Refused::Csrf),
    }
}

/// The anonymous CSRF token for a form on this page: the cookie's, or a new one to set.
pub fn anonymous_csrf(control: &Control, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let name = cookie_name(control, "mc_csrf");
    match cookie(headers, &name).filter(|c| c.len() == 43) {
        Some(token) => (token, None),
        None => {
            let token = secret::new_token();
            let set = set_cookie(control, &name, &token, None);
            (token, Some(set))
        }
    }
}

/// The network a client is counted in (its /24 or /48): the peer's, or behind a trusted
/// proxy the client's that proxy names.
pub fn client_network(c: &Control, peer: std::net::SocketAddr, headers: &HeaderMap) -> String {
    let ip = shared::proxy::client_ip(peer, headers, &c.trusted).unwrap_or(peer.ip());
    network_of(ip)
}

/// The network a client is counted in: its /24, or its /48.
pub fn network_of(ip: std::net::IpAddr) -> String {
    let net = match shared::net::unmapped(ip) {
        std::net::IpAddr::V4(a) => ipnet::IpNet::V4(ipnet::Ipv4Net::new(a, 24).expect("24 fits")),
        std::net::IpAddr::V6(a) => ipnet::IpNet::V6(ipnet::Ipv6Net::new(a, 48).expect("48 fits")),
    };
    net.trunc().to_string()
}
