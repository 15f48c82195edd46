//! What every handler uses: who is asking (the session cookie), the forms' bodies and CSRF
//! tokens, the cookies set, and refusals as pages or JSON.

use super::{pages, secret, Control};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use std::collections::HashMap;

pub use super::who::Who;

/// A body larger than this is refused (413): every form here is a few fields.
pub const MAX_BODY: usize = 16 << 10;

/// Why a request is refused; each is said once in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No session, or one that ended.
    SignedOut,
    /// Signed in, but this is not theirs.
    Forbidden(String),
    /// A field is missing, unknown or wrong.
    Field {
        field: String,
        message: String,
    },
    TooLarge,
    Csrf,
    TooMany(String),
    NotFound(String),
    /// The store failed: nothing the client did.
    Store(String),
}

impl Refused {
    fn status(&self) -> StatusCode {
        match self {
            Refused::SignedOut => StatusCode::UNAUTHORIZED,
            Refused::Forbidden(_) | Refused::Csrf => StatusCode::FORBIDDEN,
            Refused::Field { .. } => StatusCode::BAD_REQUEST,
            Refused::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refused::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            Refused::NotFound(_) => StatusCode::NOT_FOUND,
            Refused::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Refused::SignedOut => {
                "you are not signed in (or your session ended): sign in again".into()
            }
            Refused::Forbidden(why) | Refused::TooMany(why) | Refused::NotFound(why) => why.clone(),
            Refused::Field { field, message } => format!("{field}: {message}"),
            Refused::TooLarge => format!("the request is larger than {} KiB", MAX_BODY >> 10),
            Refused::Csrf => {
                "the form's CSRF token is missing or wrong: reload the page and send it again"
                    .into()
            }
            Refused::Store(e) => format!("the store cannot be reached: {e}; try again shortly"),
        }
    }

    /// The refusal as JSON (`{"error", "field"}`) or as a page saying why.
    pub fn into_response(self, json: bool) -> Response {
        let status = self.status();
        match &self {
            Refused::Store(e) => tracing::error!("control plane: {e}"),
            other => tracing::warn!(status = status.as_u16(), "refused: {}", other.message()),
        }
        if json {
            let field = match &self {
                Refused::Field { field, .. } => Some(field.as_str()),
                _ => None,
            };
            let body = serde_json::json!({ "error": self.message(), "field": field });
            return self::json(status, &body);
        }
        let title = status.canonical_reason().unwrap_or("Refused");
        html(status, pages::message(title, &self.message()))
    }
}

impl From<store::StoreError> for Refused {
    fn from(e: store::StoreError) -> Refused {
        Refused::Store(e.to_string())
    }
}

/// A JSON document, never cached.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        serde_json::to_vec(value).expect("serializable"),
    )
        .into_response()
}

/// A 303 to the start page, setting `cookie`.
pub fn home_setting(cookie: HeaderValue) -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, HeaderValue::from_static("/")),
            (header::SET_COOKIE, cookie),
        ],
    )
        .into_response()
}

/// A page, with the headers every page gets.
pub fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, pages::policy()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// The session and anonymous-CSRF cookies' names: `__Host-` prefixed over https.
pub fn cookie_name(control: &Control, base: &str) -> String {
    if control.secure() {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// `Set-Cookie` for `name=value`: `HttpOnly`, `SameSite=Lax`, `Secure` over https;
/// `max_age` 0 removes it.
pub fn set_cookie(control: &Control, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if control.secure() {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&c).expect("cookie values are URL-safe base64")
}

/// Who the session cookie signs in, if anyone; using it keeps it alive.
pub async fn who(control: &Control, headers: &HeaderMap) -> Result<Option<Who>, Refused> {
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
    }))
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

pub async fn not_found(uri: http::Uri) -> Response {
    let json = uri.path().starts_with("/api/");
    let path = shared::text::bounded(uri.path(), 200);
    Refused::NotFound(format!("nothing is at {path}")).into_response(json)
}
