//! The last step of a request: the HTTP answer. Refusals (every client mistake, and no
//! snapshot yet) in the endpoint's own form, documents with their content types, redirects;
//! then what every answer leaves behind: the access log line and the metrics.

pub use crate::refusal::{Endpoint, Refusal};
use crate::render;
use crate::select::Tier;
use crate::state::AppState;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{header, StatusCode};
use std::time::Instant;

pub fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// A refusal as the endpoint answers it: a `#` comment for mirrorlists, the empty metalink
/// with the message in a comment (what dnf shows) for metalinks.
pub fn refusal(endpoint: Endpoint, r: &Refusal) -> Response {
    match endpoint {
        Endpoint::Mirrorlist => text(
            r.status,
            format!("# {}\n", r.message.trim_end().replace('\n', "\n# ")),
        ),
        Endpoint::Metalink => {
            let mut out = String::new();
            render::metalink_error(&r.message, shared::time::now(), &mut out);
            metalink(r.status, out)
        }
    }
}

pub fn metalink(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/metalink+xml")],
        Body::from(body),
    )
        .into_response()
}

pub fn redirect(to: String) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

/// What the access log says about an answer.
#[derive(Default)]
pub struct AccessEntry {
    pub directory: Option<String>,
    pub country: u16,
    pub asn: Option<u32>,
    pub tier: Option<Tier>,
    pub mirrors: usize,
}

/// Counts an answer and, when the access log is on, logs it (never the client's address:
/// where it was placed and what it got).
pub fn record(
    state: &AppState,
    endpoint: Endpoint,
    response: &Response,
    started: Instant,
    seen: &AccessEntry,
) {
    let elapsed = started.elapsed();
    if state.settings().access_log {
        tracing::info!(
            target: "access",
            endpoint = endpoint.as_str(),
            status = response.status().as_u16(),
            directory = seen.directory.as_deref().unwrap_or("-"),
            country = shared::geo::code_text(seen.country).unwrap_or("-".into()),
            asn = seen.asn.unwrap_or(0),
            tier = seen.tier.map_or("none", Tier::as_str),
            mirrors = seen.mirrors,
            micros = elapsed.as_micros() as u64,
        );
    }
    let m = state.metrics();
    let e = endpoint as usize;
    if response.status() == StatusCode::OK {
        m.hot.ok[e].inc();
    } else {
        m.requests
            .with_label_values(&[endpoint.as_str(), response.status().as_str()])
            .inc();
    }
    m.hot.latency[e].observe(elapsed.as_secs_f64());
}
