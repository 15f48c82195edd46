//! The way of a metalink or mirrorlist request, in order: [`decide`](crate::decide) what it
//! gets (parse, resolve, place, choose), [`render`](crate::render) the document and
//! [`respond`](crate::respond). Any step may refuse; the refusal is answered in the
//! endpoint's form, and every answer is counted and (optionally) logged.

use crate::decide::{decide, Chosen, Decision, Request, Way};
use crate::loaded::Loaded;
use crate::parse::Params;
use crate::refusal::{Endpoint, Refusal};
use crate::render;
use crate::resolve::Form;
use crate::respond::{self, AccessEntry};
use crate::select::{Choice, Tier};
use crate::state::AppState;
use axum::response::Response;
use http::StatusCode;
use shared::snapshot::HTTPS;
use std::net::SocketAddr;
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
    let mut seen = AccessEntry::default();
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
    seen: &mut AccessEntry,
) -> Result<Response, Refusal> {
    let view = state.view();
    let decision = decide(state, &view, Request::of(form, req, peer))?;
    let Decision {
        loaded,
        params,
        way,
    } = decision;
    let chosen = match way {
        Way::Mirrors(chosen) => chosen,
        Way::Vault { url, dir } => return vault(endpoint, loaded, &params, url, dir),
    };
    count_me(state, loaded, chosen.dir, &params);
    let choices = &chosen.choices;
    state.metrics().hot.tiers[choices.first().map_or(Tier::ALL.len(), |c| c.tier as usize)].inc();
    if state.settings().access_log {
        seen.directory = Some(loaded.snapshot.catalog.directories[chosen.dir].path.clone());
        seen.country = chosen.client.country;
        seen.asn = chosen.client.asn;
        seen.tier = choices.first().map(|c| c.tier);
        seen.mirrors = choices.len();
    }
    document(endpoint, loaded, &params, &chosen)
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

/// The chosen mirrors as the endpoint's document (or a redirect to the first).
fn document(
    endpoint: Endpoint,
    loaded: &Loaded,
    params: &Params,
    chosen: &Chosen,
) -> Result<Response, Refusal> {
    let (index, templated, client) = (chosen.dir, chosen.any_arch, &chosen.client);
    let choices = &chosen.choices;
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
