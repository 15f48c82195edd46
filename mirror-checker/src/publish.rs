//! Serving the published snapshot over HTTP (`[daemon] publish_listen`), for servers in any
//! region to fetch with `--snapshot-url`: `/snapshot` is the file as written (signed when the
//! checker has a key), with a strong ETag so that polls are conditional and caches in front
//! may keep it; `/snapshot.fresh` is its heartbeat. Every checker sharing a store may serve:
//! one that does not lead serves what it last published (or 404), and servers take the
//! newest serial of their sources.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// The file at `path` as last read, by its modification time and length.
#[derive(Default)]
struct Cached {
    stamp: Option<(SystemTime, u64)>,
    body: bytes::Bytes,
    etag: String,
}

#[derive(Clone)]
struct Published {
    path: PathBuf,
    cached: Arc<Mutex<Cached>>,
}

const MAX_FILE: u64 = 1 << 30;

impl Published {
    /// The current file and its ETag, read again only when it changed; `None` when there is
    /// no valid snapshot file (never published here, or being replaced).
    fn current(&self) -> Option<(bytes::Bytes, String)> {
        let now = shared::fsread::stamp(&self.path)?;
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if cached.stamp != Some(now) {
            let body = shared::fsread::read_regular(&self.path, MAX_FILE).ok()?;
            // Only a whole, valid file is offered (the signature is the servers' to check).
            shared::snapshot::verify_bytes(&body, "", None).ok()?;
            let digest: String = Sha256::digest(&body)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            *cached = Cached {
                stamp: Some(now),
                body: body.into(),
                etag: format!("\"{digest}\""),
            };
        }
        Some((cached.body.clone(), cached.etag.clone()))
    }
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        "no snapshot published by this checker yet\n",
    )
        .into_response()
}

async fn snapshot(State(p): State<Published>, headers: HeaderMap) -> Response {
    let Ok(Some((body, etag))) = tokio::task::spawn_blocking(move || p.current()).await else {
        return not_found();
    };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let tag = HeaderValue::from_str(&etag).expect("hex in quotes");
    let cache = HeaderValue::from_static("no-cache");
    if matches {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, tag), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    (
        [
            (header::ETAG, tag),
            (header::CACHE_CONTROL, cache),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
        ],
        body,
    )
        .into_response()
}

async fn freshness(State(p): State<Published>) -> Response {
    let path = shared::snapshot::freshness_path(&p.path);
    match tokio::task::spawn_blocking(move || shared::fsread::read_regular(&path, 4096)).await {
        Ok(Ok(body)) => (
            [
                (header::CACHE_CONTROL, "no-cache"),
                (header::CONTENT_TYPE, "application/json"),
            ],
            body,
        )
            .into_response(),
        _ => not_found(),
    }
}

/// Serves `/snapshot` and `/snapshot.fresh` for the snapshot at `path` under `limits` until
/// cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    path: PathBuf,
    limits: listen::Limits,
    cancel: tokio_util::sync::CancellationToken,
) {
    use axum::routing::get;
    let state = Published {
        path,
        cached: Default::default(),
    };
    let app = axum::Router::new()
        .route("/snapshot", get(snapshot))
        .route("/snapshot.fresh", get(freshness))
        .with_state(state);
    listen::http1::serve(listener, app, limits, "snapshots", cancel.cancelled()).await;
}
