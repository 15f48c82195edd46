//! The simulated network's HTTP and HTTPS listeners. One listener per scheme and address
//! family serves every mirror, told apart by the Host header (and SNI), exactly as the checker's
//! static routes send them; mirrors meant to refuse connections are routed to a closed port.

use crate::repo::{version_timestamp, Repos};
use crate::scenario::{Behavior, Profile};
use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use hyper::body::{Body, Frame, Incoming};
use hyper_util::rt::TokioIo;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::net::TcpListener;

/// The host name the master tree is served under.
pub const MASTER_HOST: &str = "master.sim.test";

#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub not_modified: AtomicU64,
    pub bytes: AtomicU64,
}

#[derive(Debug)]
pub struct SimMirror {
    pub name: String,
    pub profile: Profile,
    /// (scheme, base path ending in '/', module or None)
    pub bases: Vec<(String, String, Option<String>)>,
    pub stats: Stats,
}

#[derive(Debug)]
pub struct State {
    pub mirrors: Vec<SimMirror>,
    pub by_host: HashMap<String, usize>,
    /// Catalog directories mirrors carry, by module ("" for the main tree).
    pub directories: HashMap<String, HashSet<String>>,
    /// Vault releases' directories: served under `/vault/` at version 1, frozen.
    pub vault: HashSet<String>,
    pub version: AtomicU32,
    /// When each version was published (index = version), for TIME files.
    pub published_at: std::sync::Mutex<Vec<i64>>,
    pub master_stats: Stats,
    /// Every directory's repository at every version asked for.
    pub repos: Repos,
}

impl State {
    /// The Unix time version `v` was published; versions before the sim started count as
    /// published an hour apart before it.
    pub fn published(&self, v: u32) -> i64 {
        let list = self.published_at.lock().unwrap_or_else(|e| e.into_inner());
        list.get(v as usize)
            .copied()
            .unwrap_or_else(|| list.last().copied().unwrap_or(0))
    }

    /// Publishes the next version now; returns it.
    pub fn publish(&self) -> u32 {
        let mut list = self.published_at.lock().unwrap_or_else(|e| e.into_inner());
        let v = self.version.fetch_add(1, Ordering::SeqCst) + 1;
        let now = shared::time::now();
        list.resize(v as usize + 1, now);
        list[v as usize] = now;
        v
    }

    fn served_version(&self, behavior: Behavior) -> u32 {
        let master = self.version.load(Ordering::SeqCst);
        match behavior {
            Behavior::Behind(n) => master.saturating_sub(n).max(1),
            Behavior::Delayed(d) => {
                let synced = shared::time::now() - d.as_secs() as i64;
                let list = self.published_at.lock().unwrap_or_else(|e| e.into_inner());
                (1..=master)
                    .rev()
                    .find(|v| list.get(*v as usize).is_some_and(|at| *at <= synced))
                    .unwrap_or(1)
            }
            _ => master,
        }
    }
}

/// Response bodies: whole, never-ending after headers, cut short, or lazily generated filler.
pub enum SimBody {
    Full(Option<Bytes>),
    Hang,
    /// The data sent, then a pause (so it reaches the client), then the connection is cut.
    Truncated(Option<Bytes>, Option<Pin<Box<tokio::time::Sleep>>>),
    Filler(u64),
}

impl Body for SimBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            SimBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            // Never ready: the client gives up on its own timeout and closes the connection.
            SimBody::Hang => Poll::Pending,
            SimBody::Truncated(data, pause) => {
                if let Some(d) = data.take() {
                    *pause = Some(Box::pin(tokio::time::sleep(
                        std::time::Duration::from_millis(50),
                    )));
                    return Poll::Ready(Some(Ok(Frame::data(d))));
                }
                match pause.as_mut().map(|p| p.as_mut().poll(cx)) {
                    Some(Poll::Pending) => Poll::Pending,
                    _ => Poll::Ready(Some(Err(std::io::Error::other("truncated on purpose")))),
                }
            }
            SimBody::Filler(left) => {
                if *left == 0 {
                    return Poll::Ready(None);
                }
                let n = (*left).min(64 * 1024);
                *left -= n;
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; n as usize])))))
            }
        }
    }
}

fn text(status: StatusCode, body: &str) -> Response<SimBody> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(SimBody::Full(Some(Bytes::from(body.to_string()))))
        .expect("static response")
}

/// A repomd.xml answer with validators, honouring If-None-Match.
fn repomd_response(
    state: &State,
    req: &Request<Incoming>,
    dir: &str,
    version: u32,
    behavior: Behavior,
    stats: &Stats,
) -> Response<SimBody> {
    let etag = format!("\"{:x}-{version}\"", shared::model::stable_hash(dir));
    let last_modified = shared::duration::http_date(version_timestamp(version));
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str());
    if matches {
        stats.not_modified.fetch_add(1, Ordering::Relaxed);
        return Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header(header::ETAG, etag)
            .body(SimBody::Full(None))
            .expect("static response");
    }
    let body = state.repos.get(dir, version).repomd.clone();
    let len = body.len() as u64;
    let (len, body) = match behavior {
        Behavior::HangAfterHeaders => (len, SimBody::Hang),
        Behavior::Truncated => (
            len,
            SimBody::Truncated(Some(body.slice(..body.len() / 2)), None),
        ),
        Behavior::Oversized(n) => (n, SimBody::Filler(n)),
        _ => (len, SimBody::Full(Some(body))),
    };
    stats.bytes.fetch_add(len, Ordering::Relaxed);
    Response::builder()
        .header(header::CONTENT_TYPE, "text/xml")
        .header(header::CONTENT_LENGTH, len)
        .header(header::ETAG, etag)
        .header(header::LAST_MODIFIED, last_modified)
        .body(body)
        .expect("static response")
}

fn split_repomd(rest: &str) -> Option<&str> {
    rest.strip_suffix("/repodata/repomd.xml")
}

/// A file of a repository other than repomd.xml: (directory, path within it).
fn split_file(rest: &str) -> Option<(&str, &str)> {
    ["/repodata/", "/Packages/"]
        .iter()
        .filter_map(|sep| rest.find(sep).map(|at| (&rest[..at], &rest[at + 1..])))
        .min_by_key(|(dir, _)| dir.len())
}

/// A repository's file (metadata or package) at `version`, as `behavior` serves it: a
/// half-synced mirror has the previous version's files only, one missing packages has no
/// `Packages/`, one with files of the wrong size adds bytes to every metadata file.
fn file_response(
    state: &State,
    dir: &str,
    file: &str,
    version: u32,
    behavior: Behavior,
    stats: &Stats,
) -> Response<SimBody> {
    let version = match behavior {
        Behavior::HalfSynced => version.saturating_sub(1).max(1),
        _ => version,
    };
    if behavior == Behavior::PackagesMissing && file.starts_with("Packages/") {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    let repo = state.repos.get(dir, version);
    let Some(body) = repo.files.get(file) else {
        return text(StatusCode::NOT_FOUND, "not found\n");
    };
    let body = match behavior {
        Behavior::WrongSize if file.starts_with("repodata/") => {
            let mut longer = body.to_vec();
            longer.extend_from_slice(&[0; 100]);
            Bytes::from(longer)
        }
        _ => body.clone(),
    };
    stats.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
    let kind = if file.ends_with(".rpm") {
        "application/x-rpm"
    } else {
        "application/gzip"
    };
    Response::builder()
        .header(header::CONTENT_TYPE, kind)
        .header(header::CONTENT_LENGTH, body.len())
        .header(
            header::LAST_MODIFIED,
            shared::duration::http_date(version_timestamp(version)),
        )
        .body(SimBody::Full(Some(body)))
        .expect("static response")
}

/// Whether a mirror that is missing repos lacks this directory: every repo but BaseOS.
fn missing(dir: &str) -> bool {
    !dir.contains("/BaseOS/")
}

pub async fn handle(
    state: Arc<State>,
    scheme: &'static str,
    req: Request<Incoming>,
) -> Result<Response<SimBody>, std::convert::Infallible> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host())
        .unwrap_or("")
        .to_ascii_lowercase();
    let host = host
        .rsplit_once(':')
        .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
        .map_or(host.as_str(), |(h, _)| h)
        .to_string();
    let path = req.uri().path().to_string();
    if host == MASTER_HOST {
        return Ok(master(&state, &req, &path));
    }
    let Some(&index) = state.by_host.get(&host) else {
        return Ok(text(StatusCode::NOT_FOUND, "no such simulated host\n"));
    };
    let mirror = &state.mirrors[index];
    mirror.stats.requests.fetch_add(1, Ordering::Relaxed);
    let behavior = mirror.profile.behavior;
    match behavior {
        Behavior::NotFound => return Ok(text(StatusCode::NOT_FOUND, "not found\n")),
        Behavior::ServerError => {
            return Ok(text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"))
        }
        Behavior::Slow(d) => tokio::time::sleep(d).await,
        Behavior::RedirectLoop => {
            let target = if req.uri().query().is_some() {
                path.clone()
            } else {
                format!("{path}?again")
            };
            return Ok(Response::builder()
                .status(StatusCode::FOUND)
                .header(header::LOCATION, target)
                .body(SimBody::Full(None))
                .expect("static response"));
        }
        _ => {}
    }
    let Some((_, base, module)) = mirror
        .bases
        .iter()
        .filter(|(s, b, _)| s == scheme && path.starts_with(b.as_str()))
        .max_by_key(|(_, b, _)| b.len())
    else {
        return Ok(text(StatusCode::NOT_FOUND, "outside the mirror's tree\n"));
    };
    let rest = &path[base.len()..];
    let version = state.served_version(behavior);
    if rest == "TIME" {
        return Ok(text(
            StatusCode::OK,
            &format!("{}\n", version_timestamp(version)),
        ));
    }
    let (dir, file) = match split_repomd(rest) {
        Some(dir) => (dir, None),
        None => match split_file(rest) {
            Some((dir, file)) => (dir, Some(file)),
            None => return Ok(text(StatusCode::NOT_FOUND, "not found\n")),
        },
    };
    let module_key = module.clone().unwrap_or_default();
    let carried = state
        .directories
        .get(&module_key)
        .is_some_and(|d| d.contains(dir));
    if !carried || (behavior == Behavior::MissingRepos && missing(dir)) {
        return Ok(text(StatusCode::NOT_FOUND, "not found\n"));
    }
    Ok(match file {
        None => repomd_response(&state, &req, dir, version, behavior, &mirror.stats),
        Some(file) => file_response(&state, dir, file, version, behavior, &mirror.stats),
    })
}

fn master(state: &State, req: &Request<Incoming>, path: &str) -> Response<SimBody> {
    state.master_stats.requests.fetch_add(1, Ordering::Relaxed);
    let version = state.version.load(Ordering::SeqCst);
    if path == "/_sim/publish" {
        let v = state.publish();
        return text(StatusCode::OK, &format!("published version {v}\n"));
    }
    if path == "/TIME" {
        return text(StatusCode::OK, &format!("{}\n", state.published(version)));
    }
    let rest = path.trim_start_matches('/');
    if let Some(vault) = rest.strip_prefix("vault/") {
        if let Some(dir) = split_repomd(vault).filter(|d| state.vault.contains(*d)) {
            return repomd_response(state, req, dir, 1, Behavior::Current, &state.master_stats);
        }
        if let Some((dir, file)) = split_file(vault).filter(|(d, _)| state.vault.contains(*d)) {
            return file_response(state, dir, file, 1, Behavior::Current, &state.master_stats);
        }
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    // Module trees live under /<module>/.
    let (module, rest) = match rest.split_once('/') {
        Some((first, tail)) if state.directories.contains_key(first) && !first.is_empty() => {
            (first, tail)
        }
        _ => ("", rest),
    };
    let carried = |dir: &str| {
        state
            .directories
            .get(module)
            .is_some_and(|d| d.contains(dir))
    };
    if let Some(dir) = split_repomd(rest).filter(|d| carried(d)) {
        return repomd_response(
            state,
            req,
            dir,
            version,
            Behavior::Current,
            &state.master_stats,
        );
    }
    match split_file(rest).filter(|(d, _)| carried(d)) {
        Some((dir, file)) => file_response(
            state,
            dir,
            file,
            version,
            Behavior::Current,
            &state.master_stats,
        ),
        None => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// Accepts connections until the task is aborted.
pub async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    scheme: &'static str,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        stream.set_nodelay(true).ok();
        let state = state.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(state.clone(), scheme, req));
            let builder = hyper::server::conn::http1::Builder::new();
            match tls {
                None => {
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                }
            }
        });
    }
}
