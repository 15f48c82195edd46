//! The HTTP routes: metalinks and mirrorlists (MirrorManager's query form and AlmaLinux's
//! path form), health, readiness and metrics. The query forms, nearly all of the traffic, are
//! answered by [`direct`] without the router; every request for a document goes the way
//! [`crate::answer`] sets out.

use crate::answer::answer;
use crate::decide::{self, decide, Way};
use crate::explain::Explanation;
use crate::refusal::{Endpoint, Refusal};
use crate::resolve::Form;
use crate::respond::text;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, StatusCode};
use std::net::SocketAddr;
use view::{doc, unavailable, view};

mod view;

pub fn router(state: AppState) -> Router {
    router_with(state, true)
}

/// The routes, with `/metrics` among them or not (when it has a listener of its own).
pub fn router_with(state: AppState, with_metrics: bool) -> Router {
    let r = Router::new()
        .route("/metalink", get(metalink_query))
        .route("/mirrorlist", get(mirrorlist_query))
        .route("/metalink/{release}/{repo}", get(metalink_path))
        .route("/mirrorlist/{release}/{repo}", get(mirrorlist_path))
        .route("/", get(overview))
        .route("/mirrors", get(mirrors))
        .route("/mirrors/{name}", get(mirror_page))
        .route("/api/v1/status", get(api_status))
        .route("/api/v1/mirrors/{name}", get(api_mirror))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/explain", get(explain_page))
        .route("/api/v1/explain", get(api_explain))
        .fallback(not_found)
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz));
    let r = if with_metrics {
        r.route("/metrics", get(metrics))
    } else {
        r
    };
    r.with_state(state)
}

/// `/metrics` alone, for `--metrics-listen`.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// The connection's remote address (loopback when a test calls the router directly).
fn peer<B>(req: &http::Request<B>) -> SocketAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)), |c| c.0)
}

/// The query forms of the two endpoints, answered without the router (the connection loop
/// sends every request here first). `None` for other paths and methods.
pub fn direct<B>(state: &AppState, req: &http::Request<B>) -> Option<Response> {
    let endpoint = match req.uri().path() {
        "/metalink" => Endpoint::Metalink,
        "/mirrorlist" => Endpoint::Mirrorlist,
        _ => return None,
    };
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        return None;
    }
    Some(answer(state, endpoint, Form::Query, req, peer(req)))
}

async fn metalink_query(State(state): State<AppState>, req: Request) -> Response {
    answer(&state, Endpoint::Metalink, Form::Query, &req, peer(&req))
}

async fn mirrorlist_query(State(state): State<AppState>, req: Request) -> Response {
    answer(&state, Endpoint::Mirrorlist, Form::Query, &req, peer(&req))
}

async fn metalink_path(
    State(state): State<AppState>,
    Path((release, repo)): Path<(String, String)>,
    req: Request,
) -> Response {
    let form = Form::Path {
        release: &release,
        repo: &repo,
    };
    answer(&state, Endpoint::Metalink, form, &req, peer(&req))
}

async fn mirrorlist_path(
    State(state): State<AppState>,
    Path((release, repo)): Path<(String, String)>,
    req: Request,
) -> Response {
    let form = Form::Path {
        release: &release,
        repo: &repo,
    };
    answer(&state, Endpoint::Mirrorlist, form, &req, peer(&req))
}

async fn overview(State(state): State<AppState>, headers: http::HeaderMap) -> Response {
    match state.serving() {
        Ok(l) => doc(&l.pages().overview, false, &headers),
        Err(why) => unavailable(false, &why),
    }
}

async fn mirrors(State(state): State<AppState>, headers: http::HeaderMap) -> Response {
    match state.serving() {
        Ok(l) => doc(&l.pages().mirrors, false, &headers),
        Err(why) => unavailable(false, &why),
    }
}

/// The API's OpenAPI document (`mirrorlist-server/api/openapi.json`, checked against the
/// types by a test).
pub const OPENAPI: &str = include_str!("../api/openapi.json");

async fn openapi() -> Response {
    view(
        Some(axum::body::Bytes::from_static(OPENAPI.as_bytes())),
        true,
        "",
    )
}

async fn api_status(State(state): State<AppState>, headers: http::HeaderMap) -> Response {
    match state.serving() {
        Ok(l) => doc(&l.pages().status_json, true, &headers),
        Err(why) => unavailable(true, &why),
    }
}

fn mirror_view(state: &AppState, name: &str, json: bool, headers: &http::HeaderMap) -> Response {
    let l = match state.serving() {
        Ok(l) => l,
        Err(why) => return unavailable(json, &why),
    };
    match l.pages().mirror(&l.snapshot, name, shared::time::now()) {
        Some(p) => doc(if json { &p.json } else { &p.html }, json, headers),
        None => view(
            None,
            json,
            &format!(
                "no mirror is registered as {}",
                shared::text::bounded(name, 200)
            ),
        ),
    }
}

async fn mirror_page(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: http::HeaderMap,
) -> Response {
    mirror_view(&state, &name, false, &headers)
}

async fn api_mirror(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: http::HeaderMap,
) -> Response {
    mirror_view(&state, &name, true, &headers)
}

/// How the answer to the metalink request `req` describes is built: the answer's own
/// decision, accounted for.
pub fn explain<B>(state: &AppState, req: &http::Request<B>) -> Result<Explanation, Refusal> {
    explain_allowed(state, req)?;
    let view = state.view();
    let decision = decide(
        state,
        &view,
        decide::Request::of(Form::Query, req, peer(req)),
    )?;
    match decision.way {
        Way::Mirrors(chosen) => Ok(chosen.explain(decision.loaded)),
        Way::Vault { url, .. } => Err(Refusal::not_found(format!(
            "error: this release is only in the vault; its answer is the vault's URL, {url}"
        ))),
    }
}

/// Whether this server explains answers, and to this client's network now: a 404 when the
/// page is off, a 429 (its message says when to come back) past the limit.
fn explain_allowed<B>(state: &AppState, req: &http::Request<B>) -> Result<(), Refusal> {
    let Some(limit) = state.settings().explain_per_minute else {
        return Ok(());
    };
    if limit == 0 {
        return Err(Refusal::not_found(
            "error: this server does not explain its answers",
        ));
    }
    let settings = state.settings();
    let ip = shared::proxy::client_ip(peer(req), req.headers(), &settings.trusted_proxies);
    state
        .0
        .explained
        .allow(ip, limit, shared::time::now())
        .map_err(|wait| {
            Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "error: your network asked for more than {limit} explanations this minute; \
                     try again in {wait} s"
                ),
            )
        })
}

/// A refusal's answer carries `Retry-After` when it says to wait.
fn retry_after(response: &mut Response, status: StatusCode) {
    if status == StatusCode::TOO_MANY_REQUESTS {
        let wait = 60 - shared::time::now().rem_euclid(60);
        if let Ok(v) = http::HeaderValue::from_str(&wait.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
}

/// `/api/v1/explain?repo=R&arch=A[&ip=ADDR]`: how the answer is built, as JSON; a refusal
/// (no such repo, no snapshot) as a JSON error with the answer's status.
async fn api_explain(State(state): State<AppState>, req: Request) -> Response {
    let mut response = match explain(&state, &req) {
        Ok(e) => view(
            Some(serde_json::to_vec(&e).expect("serializable").into()),
            true,
            "",
        ),
        Err(r) => {
            let mut response = view(None, true, r.message.trim_start_matches("error: "));
            *response.status_mut() = r.status;
            retry_after(&mut response, r.status);
            response
        }
    };
    // Per client: not for shared caches.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("private, no-store"),
    );
    response
}

/// `/explain`: the form, and the explanation when a repo and an arch are given.
async fn explain_page(State(state): State<AppState>, req: Request) -> Response {
    if state.settings().explain_per_minute == Some(0) {
        return view(None, false, "this server does not explain its answers");
    }
    let l = match state.serving() {
        Ok(l) => l,
        Err(why) => return unavailable(false, &why),
    };
    let params = crate::parse::query(req.uri().query()).unwrap_or_default();
    let asked = params.repo.is_some() || params.arch.is_some() || params.path.is_some();
    let found = asked.then(|| explain(&state, &req));
    let result = found.as_ref().map(|r| match r {
        Ok(e) => Ok(e),
        Err(refusal) => Err(refusal.message.trim_start_matches("error: ")),
    });
    let status = match &found {
        Some(Err(r)) => r.status,
        _ => StatusCode::OK,
    };
    let form = crate::pages::ExplainForm {
        repo: params.repo.as_deref().unwrap_or(""),
        arch: params.arch.as_deref().unwrap_or(""),
        ip: params.ip.as_deref().unwrap_or(""),
        ip_allowed: state.settings().allow_ip_param,
    };
    let html = crate::pages::explain(
        result,
        &l.snapshot.catalog.spec.distribution,
        &form,
        (l.snapshot.serial, l.snapshot.created_at),
        shared::time::now(),
    );
    let mut response = view(Some(html.into()), false, "");
    *response.status_mut() = status;
    retry_after(&mut response, status);
    // Per client: not for shared caches.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("private, no-store"),
    );
    response
}

/// Any other path: a JSON error under `/api/`, a page elsewhere.
async fn not_found(req: Request) -> Response {
    let path = req.uri().path();
    view(
        None,
        path.starts_with("/api/"),
        &format!("nothing is at {}", shared::text::bounded(path, 200)),
    )
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.current() {
        None => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "no snapshot loaded\n".into(),
        ),
        Some(l) => {
            // Built long ago is fine while the checker's heartbeat says nothing changed.
            let age = shared::time::now() - l.fresh_at();
            if let Some(why) = l.refusal(state.settings().refuse_older_than) {
                text(StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n"))
            } else if age > state.settings().max_snapshot_age.as_secs() as i64 {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("snapshot {} is {age} s old\n", l.snapshot.serial),
                )
            } else {
                text(
                    StatusCode::OK,
                    format!("snapshot {} ({age} s old)\n", l.snapshot.serial),
                )
            }
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics().render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests;
