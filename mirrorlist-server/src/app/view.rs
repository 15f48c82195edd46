//! Pages and JSON documents as responses: compressed when the client takes gzip, with the
//! pages' security headers, or a refusal in the same form saying why.

use axum::response::{IntoResponse, Response};
use http::{header, StatusCode};

/// Whether the request says it takes gzip (`gzip` or `*` with a weight above 0).
fn accepts_gzip(headers: &http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut star = false;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let weight = parts
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        match name.as_str() {
            "gzip" | "x-gzip" => return weight > 0.0,
            "*" => star = weight > 0.0,
            _ => {}
        }
    }
    star
}

/// A rendered view: compressed when the client takes gzip.
pub(super) fn doc(doc: &crate::pages::Doc, json: bool, headers: &http::HeaderMap) -> Response {
    let gzip = accepts_gzip(headers);
    let body = if gzip { &doc.gzip } else { &doc.plain };
    let mut response = view(Some(body.clone()), json, "");
    let h = response.headers_mut();
    h.insert(
        header::VARY,
        http::HeaderValue::from_static("accept-encoding"),
    );
    if gzip {
        h.insert(
            header::CONTENT_ENCODING,
            http::HeaderValue::from_static("gzip"),
        );
    }
    response
}

/// A page or JSON document: `bytes`, or else a 404 saying `missing`.
pub(super) fn view(bytes: Option<axum::body::Bytes>, json: bool, missing: &str) -> Response {
    match bytes {
        Some(b) => viewed(StatusCode::OK, b, json),
        None => failed(StatusCode::NOT_FOUND, json, missing),
    }
}

/// `status` with `why`: as JSON, or as a page titled by the status.
fn failed(status: StatusCode, json: bool, why: &str) -> Response {
    let body = if json {
        serde_json::to_vec(&serde_json::json!({ "error": why }))
            .expect("serializable")
            .into()
    } else {
        let title = match status {
            StatusCode::SERVICE_UNAVAILABLE => "Not served",
            _ => "Not found",
        };
        crate::pages::message(title, why).into()
    };
    viewed(status, body, json)
}

fn viewed(status: StatusCode, body: axum::body::Bytes, json: bool) -> Response {
    // A cache in front must not go on saying "not served" once a snapshot is.
    let cache = if status == StatusCode::SERVICE_UNAVAILABLE {
        "no-store"
    } else {
        "public, max-age=60"
    };
    let kind = if json {
        "application/json"
    } else {
        "text/html; charset=utf-8"
    };
    let policy = if json {
        "default-src 'none'; frame-ancestors 'none'"
    } else {
        crate::pages::page_policy()
    };
    (
        status,
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, cache),
            (header::CONTENT_SECURITY_POLICY, policy),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

/// Pages need a snapshot that is served: without one, a 503 in the page's form saying why.
pub(super) fn unavailable(json: bool, why: &str) -> Response {
    failed(StatusCode::SERVICE_UNAVAILABLE, json, why)
}
