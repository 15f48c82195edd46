//! The last step of a request: the HTTP answer. Refusals (every client mistake, and no
//! snapshot yet) in the endpoint's own form, documents with their content types, redirects;
//! then what every answer leaves behind: the access log line and the metrics.

use crate::render;
use crate::select::Tier;
use crate::state::AppState;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{header, StatusCode};
use std::time::Instant;

/// The two documents dnf asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Metalink,
    Mirrorlist,
}

impl Endpoint {
    pub const ALL: [Endpoint; 2] = [Endpoint::Metalink, Endpoint::Mirrorlist];

    /// Its name in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Metalink => "metalink",
            Endpoint::Mirrorlist => "mirrorlist",
        }
    }
}

/// Why a request is not answered with mirrors: the one type for every client mistake, turned
/// into an answer in one place ([`refusal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    /// What the client did wrong and what to do instead; may span lines.
    pub message: String,
}

impl Refusal {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::NOT_FOUND, message)
    }
}

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
pub struct Seen {
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
    seen: &Seen,
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
