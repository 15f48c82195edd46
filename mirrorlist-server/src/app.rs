//! The HTTP service: metalinks and mirrorlists (MirrorManager's query form and AlmaLinux's
//! path form), health, readiness and metrics. Every answer is computed from the snapshot in
//! use and the GeoIP databases in memory; nothing here touches a database or the disk.

use crate::render;
use crate::request::{client_ip, parse_query, BadRequest, Params};
use crate::select::{self, Choice, Client, Tier};
use crate::state::{AppState, Loaded};
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, StatusCode};
use shared::catalog::ReleaseLookup;
use shared::snapshot::{HTTP, HTTPS};
use std::net::SocketAddr;
use std::time::Instant;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metalink", get(metalink_query))
        .route("/mirrorlist", get(mirrorlist_query))
        .route("/metalink/{release}/{repo}", get(metalink_path))
        .route("/mirrorlist/{release}/{repo}", get(mirrorlist_path))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Metalink,
    Mirrorlist,
}

impl Kind {
    fn endpoint(self) -> &'static str {
        crate::metrics::ENDPOINTS[self as usize]
    }
}

/// What a request asks for, once resolved against the catalog.
enum Target {
    /// A directory; `template_arch` set when the arch was not given (path form), so URLs
    /// carry `$basearch` in its place.
    Dir {
        index: usize,
        template_arch: Option<String>,
    },
    /// Served from the vault: one URL.
    Vault(String),
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

fn error(kind: Kind, status: StatusCode, message: &str) -> Response {
    match kind {
        Kind::Mirrorlist => text(
            status,
            format!("# {}\n", message.trim_end().replace('\n', "\n# ")),
        ),
        Kind::Metalink => {
            let mut out = String::new();
            render::metalink_error(message, shared::store::now(), &mut out);
            (
                status,
                [(header::CONTENT_TYPE, "application/metalink+xml")],
                out,
            )
                .into_response()
        }
    }
}

/// Why a request cannot be answered with mirrors; rendered for its endpoint.
struct Refusal {
    status: StatusCode,
    message: String,
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

/// The 404 for an unknown repo or arch, listing the valid pairs as MirrorManager does.
fn invalid_repo(loaded: &Loaded, why: &str) -> Refusal {
    let mut message = format!("error: invalid repo or arch ({why})\n");
    for (repo, arch) in loaded.snapshot.catalog.repo_ids() {
        message.push_str(&format!("# repo={repo}&arch={arch}\n"));
    }
    refuse(StatusCode::NOT_FOUND, message)
}

/// `base` is the vault release's URL (`resolve_release` already appended the release).
fn vault_url(loaded: &Loaded, repo: &str, arch: &str, base: &str) -> Option<String> {
    let spec = loaded
        .snapshot
        .catalog
        .spec
        .repos
        .iter()
        .find(|r| r.name == repo)?;
    Some(format!("{base}{}/", spec.path.replace("{arch}", arch)))
}

/// MirrorManager's form: `repo=baseos-9&arch=x86_64`, or `path=9.8/BaseOS/x86_64/os`.
fn resolve_query(loaded: &Loaded, p: &Params) -> Result<Target, Refusal> {
    let catalog = &loaded.snapshot.catalog;
    if let Some(path) = &p.path {
        let path = path.trim_matches('/');
        let path = path.strip_suffix("/repodata/repomd.xml").unwrap_or(path);
        return catalog
            .directory_index(path)
            .map(|index| Target::Dir {
                index,
                template_arch: None,
            })
            .ok_or_else(|| {
                refuse(
                    StatusCode::NOT_FOUND,
                    format!("error: no directory {path} in the catalog"),
                )
            });
    }
    let (Some(repo), Some(arch)) = (&p.repo, &p.arch) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "error: a repo and an arch are required: ?repo=baseos-9&arch=x86_64",
        ));
    };
    if repo.contains('$') || arch.contains('$') {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            format!("error: repo={repo}&arch={arch} holds a variable dnf did not substitute (is $releasever set?)"),
        ));
    }
    if let Some(index) = loaded.index.find_repo_id(repo, arch) {
        return Ok(Target::Dir {
            index,
            template_arch: None,
        });
    }
    // A vault release: `baseos-8.5`.
    for (i, _) in repo.match_indices('-') {
        let (name, release) = (&repo[..i], &repo[i + 1..]);
        if let ReleaseLookup::Vault(base) = catalog.resolve_release(release) {
            if let Some(url) = vault_url(loaded, name, arch, &base) {
                return Ok(Target::Vault(url));
            }
        }
    }
    Err(invalid_repo(loaded, &format!("repo={repo}&arch={arch}")))
}

/// AlmaLinux's form: `/mirrorlist/9/baseos?arch=x86_64`.
fn resolve_path(
    loaded: &Loaded,
    release: &str,
    repo: &str,
    arch: Option<&str>,
) -> Result<Target, Refusal> {
    let catalog = &loaded.snapshot.catalog;
    if release.contains('$') {
        return Err(refuse(StatusCode::NOT_FOUND, format!("error: release {release:?} is a variable dnf did not substitute (is $releasever set?)")));
    }
    match catalog.resolve_release(release) {
        ReleaseLookup::Current(r) => {
            let arch_given = arch.map(str::to_string);
            let arch = arch_given.clone().or_else(|| {
                catalog
                    .directories
                    .iter()
                    .find(|d| d.release == r.version && d.repo == repo)
                    .map(|d| d.arch.clone())
            });
            let find = |a: String| {
                let id = format!("{repo}-{release}");
                loaded.index.find_repo_id(&id, &a).map(|i| (i, a))
            };
            match arch.and_then(find) {
                Some((index, a)) => Ok(Target::Dir {
                    index,
                    template_arch: arch_given.is_none().then_some(a),
                }),
                None => Err(invalid_repo(
                    loaded,
                    &format!(
                        "release {release}, repo {repo}, arch {}",
                        arch_given.as_deref().unwrap_or("any")
                    ),
                )),
            }
        }
        ReleaseLookup::Vault(base) => vault_url(loaded, repo, arch.unwrap_or("$basearch"), &base)
            .map(Target::Vault)
            .ok_or_else(|| {
                invalid_repo(loaded, &format!("repo {repo} in vault release {release}"))
            }),
        ReleaseLookup::Unknown => Err(refuse(
            StatusCode::NOT_FOUND,
            format!("error: unknown release {release:?}"),
        )),
    }
}

fn seed(state: &AppState) -> u64 {
    state.settings().seed.unwrap_or_else(|| {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        u64::from(nanos) ^ NEXT.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
    })
}

fn client<B>(state: &AppState, req: &http::Request<B>, p: &Params) -> Result<Client, BadRequest> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)), |c| c.0);
    let mut ip = client_ip(peer, req.headers(), &state.settings().trusted_proxies);
    if let Some(given) = &p.ip {
        if state.settings().allow_ip_param {
            ip = given
                .parse()
                .map_err(|_| BadRequest(format!("error: ip={given} is not an address")))?;
        }
    }
    let mut c = Client {
        ip: Some(ip),
        skip_networks: !p.netblock,
        ..Client::default()
    };
    match state.geo().and_then(|g| g.lookup(ip)) {
        Some(loc) => {
            c.coordinates = loc.coordinates();
            c.country = loc.country;
            c.continent = loc.continent;
        }
        None => state.metrics().geoip_misses.inc(),
    }
    c.asn = state.asn().and_then(|a| a.lookup(ip));
    if let Some(country) = p.countries.iter().find(|c| *c != "GLOBAL") {
        c.continent = shared::geo::continent_of(country).map(str::to_string);
        c.country = Some(country.clone());
        c.coordinates = None;
    } else if p.countries.iter().any(|c| c == "GLOBAL") {
        (c.country, c.continent, c.coordinates) = (None, None, None);
    }
    Ok(c)
}

async fn answer(
    state: AppState,
    kind: Kind,
    req: Request,
    resolve: impl FnOnce(&Loaded, &Params) -> Result<Target, Refusal>,
) -> Response {
    answer_now(&state, kind, &req, resolve)
}

/// The query forms of the two endpoints, answered without the router (the connection loop
/// sends them here directly: they are nearly all of the traffic). `None` for other paths.
pub fn direct<B>(state: &AppState, req: &http::Request<B>) -> Option<Response> {
    let kind = match req.uri().path() {
        "/metalink" => Kind::Metalink,
        "/mirrorlist" => Kind::Mirrorlist,
        _ => return None,
    };
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        return None;
    }
    Some(answer_now(state, kind, req, resolve_query))
}

fn answer_now<B>(
    state: &AppState,
    kind: Kind,
    req: &http::Request<B>,
    resolve: impl FnOnce(&Loaded, &Params) -> Result<Target, Refusal>,
) -> Response {
    let started = Instant::now();
    let mut seen = Seen::default();
    let response = answer_inner(state, kind, req, resolve, &mut seen);
    if state.settings().access_log {
        // Never the client's address: where it was placed and what it got.
        tracing::info!(
            target: "access",
            endpoint = kind.endpoint(),
            status = response.status().as_u16(),
            directory = seen.directory.as_deref().unwrap_or("-"),
            country = seen.country.as_deref().unwrap_or("-"),
            asn = seen.asn.unwrap_or(0),
            tier = seen.tier.map_or("none", Tier::as_str),
            mirrors = seen.mirrors,
            micros = started.elapsed().as_micros() as u64,
        );
    }
    let m = state.metrics();
    let e = kind as usize;
    if response.status() == StatusCode::OK {
        m.hot.ok[e].inc();
    } else {
        m.requests
            .with_label_values(&[kind.endpoint(), response.status().as_str()])
            .inc();
    }
    m.hot.latency[e].observe(started.elapsed().as_secs_f64());
    response
}

/// What the access log says about an answer.
#[derive(Default)]
struct Seen {
    directory: Option<String>,
    country: Option<String>,
    asn: Option<u32>,
    tier: Option<Tier>,
    mirrors: usize,
}

fn answer_inner<B>(
    state: &AppState,
    kind: Kind,
    req: &http::Request<B>,
    resolve: impl FnOnce(&Loaded, &Params) -> Result<Target, Refusal>,
    seen: &mut Seen,
) -> Response {
    let params = match parse_query(req.uri().query()) {
        Ok(p) => p,
        Err(e) => return error(kind, StatusCode::BAD_REQUEST, &e.0),
    };
    let Some(loaded) = state.current() else {
        return error(
            kind,
            StatusCode::SERVICE_UNAVAILABLE,
            "error: no snapshot is loaded yet",
        );
    };
    let target = match resolve(&loaded, &params) {
        Ok(t) => t,
        Err(r) => return error(kind, r.status, &r.message),
    };
    let (index, template_arch) = match target {
        Target::Vault(url) => {
            if params.redirect {
                return (StatusCode::FOUND, [(header::LOCATION, url)]).into_response();
            }
            return match kind {
                Kind::Mirrorlist => {
                    let mut out = String::new();
                    render::mirrorlist("this release is in the vault", &[url.as_str()], &mut out);
                    text(StatusCode::OK, out)
                }
                Kind::Metalink => error(
                    kind,
                    StatusCode::NOT_FOUND,
                    &format!("error: this release is only in the vault: use baseurl={url}"),
                ),
            };
        }
        Target::Dir {
            index,
            template_arch,
        } => (index, template_arch),
    };
    let client = match client(state, req, &params) {
        Ok(c) => c,
        Err(e) => return error(kind, StatusCode::BAD_REQUEST, &e.0),
    };
    let dir = &loaded.snapshot.catalog.directories[index];
    if let (Some(bucket), false) = (params.countme.as_deref(), dir.vault_only) {
        if matches!(bucket, "1" | "2" | "3" | "4") {
            state
                .metrics()
                .countme
                .with_label_values(&[&dir.repo, &dir.release, &dir.arch, bucket])
                .inc();
        }
    }
    let mut protocols = 0;
    for p in &params.protocols {
        protocols |= if p == "https" { HTTPS } else { HTTP };
    }
    if protocols == 0 {
        protocols = HTTP | HTTPS;
    }
    let choices = select::choose(
        &loaded.snapshot,
        &loaded.index,
        index,
        &client,
        protocols,
        state.settings().limits,
        seed(state),
    );
    state.metrics().hot.tiers[choices.first().map_or(5, |c| c.tier as usize)].inc();
    if state.settings().access_log {
        seen.directory = Some(dir.path.clone());
        seen.country = client.country.clone();
        seen.asn = client.asn;
        seen.tier = choices.first().map(|c| c.tier);
        seen.mirrors = choices.len();
    }
    let fragments = &loaded.fragments;
    // The path form without an arch: `$basearch` stands in the URLs.
    let templated = template_arch.as_deref().map(|arch| {
        render::Text::new(&format!("{}/", dir.path).replace(&format!("/{arch}/"), "/$basearch/"))
    });
    let path = templated.as_ref().unwrap_or(&fragments.paths[index]);
    let module = dir.module.as_deref();
    let urls: Vec<(&render::Text, &Choice)> = choices
        .iter()
        .filter_map(|c| {
            fragments
                .base(c.mirror, module, c.protocol == HTTPS)
                .map(|b| (b, c))
        })
        .collect();
    if params.redirect {
        return match urls.first() {
            Some((base, _)) => {
                let mut target = format!("{}{}", base.plain, path.plain);
                if kind == Kind::Metalink {
                    target.push_str("repodata/repomd.xml");
                }
                (StatusCode::FOUND, [(header::LOCATION, target)]).into_response()
            }
            None => error(
                kind,
                StatusCode::NOT_FOUND,
                "error: no mirror holds this directory up to date",
            ),
        };
    }
    match kind {
        Kind::Mirrorlist => {
            let mut out = String::with_capacity(128 + urls.len() * 96);
            let header = format!(
                "mirrors for {} ({}), snapshot {}",
                dir.path,
                client.country.as_deref().unwrap_or("anywhere"),
                loaded.snapshot.serial
            );
            render::mirrorlist_header(&header, &mut out);
            for (base, _) in &urls {
                out.push_str(&base.plain);
                out.push_str(&path.plain);
                out.push('\n');
            }
            text(StatusCode::OK, out)
        }
        Kind::Metalink => {
            if loaded.snapshot.directories[index].versions.is_empty() {
                return error(
                    kind,
                    StatusCode::NOT_FOUND,
                    &format!("error: the master has no repomd.xml for {} yet", dir.path),
                );
            }
            let entries: Vec<render::UrlXml<'_>> = urls
                .iter()
                .map(|(base, c)| render::UrlXml {
                    protocol: if c.protocol == HTTPS { "https" } else { "http" },
                    country: &fragments.countries[c.mirror as usize],
                    private: loaded.snapshot.mirrors[c.mirror as usize].private
                        && matches!(c.tier, Tier::Netblock | Tier::Asn),
                    base: [&base.xml, &path.xml],
                })
                .collect();
            let files = &fragments.files[index];
            let mut out = String::with_capacity(400 + files.len() + entries.len() * 180);
            render::metalink(files, &entries, shared::store::now(), &mut out);
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/metalink+xml")],
                Body::from(out),
            )
                .into_response()
        }
    }
}

async fn metalink_query(State(state): State<AppState>, req: Request) -> Response {
    answer(state, Kind::Metalink, req, resolve_query).await
}

async fn mirrorlist_query(State(state): State<AppState>, req: Request) -> Response {
    answer(state, Kind::Mirrorlist, req, resolve_query).await
}

async fn metalink_path(
    State(state): State<AppState>,
    Path((release, repo)): Path<(String, String)>,
    req: Request,
) -> Response {
    answer(state, Kind::Metalink, req, |l, p| {
        resolve_path(l, &release, &repo, p.arch.as_deref())
    })
    .await
}

async fn mirrorlist_path(
    State(state): State<AppState>,
    Path((release, repo)): Path<(String, String)>,
    req: Request,
) -> Response {
    answer(state, Kind::Mirrorlist, req, |l, p| {
        resolve_path(l, &release, &repo, p.arch.as_deref())
    })
    .await
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.current() {
        None => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "no snapshot loaded\n".into(),
        ),
        Some(l) => {
            let age = shared::store::now() - l.snapshot.created_at;
            if age > state.settings().max_snapshot_age_secs {
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
