//! What every answer uses: refusals as pages or JSON, the headers pages and documents get,
//! and the cookies read and set. What a request says (who, its body) is `request`'s.

use super::{pages, Control};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};

pub use super::who::Who;

/// A body larger than this is refused (413): every form here is a few fields.
pub const MAX_BODY: usize = 16 << 10;

/// Why a request is refused; each is said once in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No session, or one that ended.
    SignedOut,
    /// An `Authorization` header with no good API token.
    BadToken,
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
            Refused::SignedOut | Refused::BadToken => StatusCode::UNAUTHORIZED,
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
            Refused::BadToken => {
                "the API token is unknown or revoked (send `Authorization: Bearer mct_...`): make another on the mirror's page".into()
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
/// A 303 to `path` (a form's answer: the page it changed), or to the start when `path`
/// is no header value.
pub fn see_other(path: &str) -> Response {
    let to = HeaderValue::from_str(path).unwrap_or(HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

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

pub async fn not_found(uri: http::Uri) -> Response {
    let json = uri.path().starts_with("/api/");
    let path = shared::text::bounded(uri.path(), 200);
    Refused::NotFound(format!("nothing is at {path}")).into_response(json)
}
