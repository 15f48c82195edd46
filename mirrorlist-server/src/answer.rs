//! The way of a metalink or mirrorlist request, in order: [`parse`](crate::parse) the query,
//! [`resolve`](crate::resolve) what it names, [`place`](crate::place) the client,
//! [`choose`](crate::select::choose) mirrors, [`render`](crate::render) the document and
//! [`respond`](crate::respond). Any step may refuse; the refusal is answered in the
//! endpoint's form, and every answer is counted and (optionally) logged.

use crate::parse::{self, Params};
use crate::place;
use crate::render;
use crate::resolve::{self, Form, Target};
use crate::respond::{self, Endpoint, Refusal, Seen};
use crate::select::{self, Choice, Client, Tier};
use crate::state::{AppState, Loaded};
use axum::response::Response;
use http::StatusCode;
use shared::snapshot::HTTPS;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Answers one request. `peer` is the connection's remote address.
pub fn answer<B>(
    state: &AppState,
    endpoint: Endpoint,
    form: Form<'_>,
    req: &http::Request<B>,
    peer: SocketAddr,
) -> Response {
    let started = Instant::now();
    let mut seen = Seen::default();
    let response = steps(state, endpoint, form, req, peer, &mut seen)
        .unwrap_or_else(|r| respond::refusal(endpoint, &r));
    respond::record(state, endpoint, &response, started, &seen);
    response
}

fn steps<B>(
    state: &AppState,
    endpoint: Endpoint,
    form: Form<'_>,
    req: &http::Request<B>,
    peer: SocketAddr,
    seen: &mut Seen,
) -> Result<Response, Refusal> {
    let params = parse::query(req.uri().query())?;
    let view = state.view();
    let Some(loaded) = view.loaded.as_deref() else {
        return Err(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "error: no snapshot is loaded yet",
        ));
    };
    let (index, templated) = match resolve::resolve(loaded, form, &params)? {
        Target::Dir { index, templated } => (index, templated),
        Target::Vault { url, dir } => return vault(endpoint, loaded, &params, url, dir),
    };
    let client = place::place(state, &view, peer, req.headers(), &params)?;
    count_me(state, loaded, index, &params);
    // Without an arch (the path form), the mirrors holding any of the repo's arches.
    let choices = select::choose_in(
        &loaded.index,
        loaded.index.candidates(index, templated),
        &client,
        params.protocols,
        state.settings().limits,
        seed(state, client.ip, index),
    );
    state.metrics().hot.tiers[choices.first().map_or(Tier::ALL.len(), |c| c.tier as usize)].inc();
    if state.settings().access_log {
        seen.directory = Some(loaded.snapshot.catalog.directories[index].path.clone());
        seen.country = client.country;
        seen.asn = client.asn;
        seen.tier = choices.first().map(|c| c.tier);
        seen.mirrors = choices.len();
    }
    document(
        endpoint, loaded, index, templated, &params, &client, &choices,
    )
}

/// A release only the vault has: its URL, as a redirect, a one-line mirrorlist, or a
/// metalink listing the vault with the checksums of its repomd.xml, when the checker has read
/// it (a metalink without them would let dnf take any copy); otherwise a refusal naming the
/// URL.
fn vault(
    endpoint: Endpoint,
    loaded: &Loaded,
    params: &Params,
    url: String,
    dir: Option<usize>,
) -> Result<Response, Refusal> {
    if params.redirect {
        let mut to = url;
        if endpoint == Endpoint::Metalink {
            to.push_str("repodata/repomd.xml");
        }
        return Ok(respond::redirect(to));
    }
    match endpoint {
        Endpoint::Mirrorlist => {
            let mut out = String::new();
            render::mirrorlist("this release is in the vault", &[url.as_str()], &mut out);
            Ok(respond::text(StatusCode::OK, out))
        }
        Endpoint::Metalink => {
            let Some(dir) = dir.filter(|d| !loaded.snapshot.directories[*d].versions.is_empty())
            else {
                return Err(Refusal::not_found(format!(
                    "error: this release is only in the vault, and the checksums of its repomd.xml are not known yet: use baseurl={url}"
                )));
            };
            let base = render::Text::new(&url);
            let entry = render::UrlXml {
                protocol: if url.starts_with("https:") {
                    "https"
                } else {
                    "http"
                },
                country: "",
                private: false,
                base: [&base.xml, ""],
            };
            let files = &loaded.fragments.files[dir];
            let mut out = String::with_capacity(600 + files.len());
            render::metalink(files, &[entry], shared::time::now(), &mut out);
            Ok(respond::metalink(StatusCode::OK, out))
        }
    }
}

fn count_me(state: &AppState, loaded: &Loaded, index: usize, params: &Params) {
    let dir = &loaded.snapshot.catalog.directories[index];
    // The parser keeps only dnf's buckets, 1 to 4.
    const BUCKETS: [&str; 4] = ["1", "2", "3", "4"];
    if let (Some(bucket), false) = (params.countme, dir.vault_only) {
        state
            .metrics()
            .countme
            .with_label_values(&[
                &dir.repo,
                &dir.release,
                &dir.arch,
                BUCKETS[usize::from(bucket) - 1],
            ])
            .inc();
    }
}

/// The seed of a request's draw. A configured seed is mixed with the client's network (its
/// /24, or /48 for IPv6) and the directory: replicas agree, one network gets one answer, and
/// clients in different networks get different draws, so load spreads by bandwidth. Without
/// one, every request draws afresh.
pub(crate) fn seed(state: &AppState, ip: Option<IpAddr>, dir: usize) -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let Some(seed) = state.settings().seed else {
        return u64::from(shared::time::clock_noise())
            ^ NEXT.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    };
    let network = match ip.map(shared::net::unmapped) {
        Some(IpAddr::V4(a)) => u128::from(u32::from(a) & 0xffff_ff00),
        Some(IpAddr::V6(a)) => (u128::from(a) >> 80) | (1 << 64),
        None => 0,
    };
    mix(
        mix(mix(seed, network as u64), (network >> 64) as u64),
        dir as u64,
    )
}

/// One SplitMix64 step over `a` and `b`: a well-spread 64-bit hash of the pair.
fn mix(a: u64, b: u64) -> u64 {
    use crate::select::choose::{splitmix, GOLDEN};
    splitmix(a ^ b.wrapping_add(GOLDEN))
}

/// The chosen mirrors as the endpoint's document (or a redirect to the first).
fn document(
    endpoint: Endpoint,
    loaded: &Loaded,
    index: usize,
    templated: bool,
    params: &Params,
    client: &Client,
    choices: &[Choice],
) -> Result<Response, Refusal> {
    let fragments = &loaded.fragments;
    let dir = &loaded.snapshot.catalog.directories[index];
    let path = if templated {
        &fragments.templated[index]
    } else {
        &fragments.paths[index]
    };
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
        let Some((base, _)) = urls.first() else {
            return Err(Refusal::not_found(
                "error: no mirror holds this directory up to date",
            ));
        };
        let mut to = format!("{}{}", base.plain, path.plain);
        if endpoint == Endpoint::Metalink {
            to.push_str("repodata/repomd.xml");
        }
        return Ok(respond::redirect(to));
    }
    match endpoint {
        Endpoint::Mirrorlist => {
            let mut out = String::with_capacity(128 + urls.len() * 96);
            let place = shared::geo::code_text(client.country);
            let place = place.as_deref().unwrap_or("anywhere");
            let header = if templated {
                format!(
                    "mirrors for {} ({place}), any of its arches (add ?arch= for one), snapshot {}",
                    path.plain.trim_end_matches('/'),
                    loaded.snapshot.serial
                )
            } else {
                format!(
                    "mirrors for {} ({place}), snapshot {}",
                    dir.path, loaded.snapshot.serial
                )
            };
            render::mirrorlist_header(&header, &mut out);
            for (base, _) in &urls {
                out.push_str(&base.plain);
                out.push_str(&path.plain);
                out.push('\n');
            }
            Ok(respond::text(StatusCode::OK, out))
        }
        Endpoint::Metalink => {
            if loaded.snapshot.directories[index].versions.is_empty() {
                return Err(Refusal::not_found(format!(
                    "error: the master has no repomd.xml for {} yet",
                    dir.path
                )));
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
            render::metalink(files, &entries, shared::time::now(), &mut out);
            Ok(respond::metalink(StatusCode::OK, out))
        }
    }
}
