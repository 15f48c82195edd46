//! `/explain` and `/api/v1/explain`: how the answer to a metalink or mirrorlist request was
//! built for a client. The request goes the same way a real one does (the same parse,
//! resolve, placement, seed and choice), and every mirror of the snapshot is then accounted
//! for: listed, with its tier, or not, with the first reason that kept it out, in the order
//! the choice applies them. The client's address is the caller's own (or the one a trusted
//! proxy forwarded); `ip=` is honoured only with `--allow-ip-param`, as for the answers.

use crate::answer::seed;
use crate::parse;
use crate::place;
use crate::resolve::{self, Form, Target};
use crate::respond::Refusal;
use crate::select::{self, Choice, Client, Tier};
use crate::state::{AppState, Loaded};
use serde::Serialize;
use shared::geo::code_text;
use shared::model::Family;
use shared::registry::Protocol;
use shared::snapshot::{Audience, HTTP, HTTPS};
use std::net::{IpAddr, SocketAddr};

/// Where the client was placed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placement {
    /// The address the answer was chosen for (none when a trusted proxy did not know it).
    pub address: Option<String>,
    pub country: Option<String>,
    pub continent: Option<String>,
    pub coordinates: Option<(f64, f64)>,
    pub asn: Option<u32>,
    /// The cloud provider and region whose ranges hold the address.
    pub cloud: Option<String>,
    /// Mirrors whose netblocks hold the address, most specific first.
    pub netblock_matches: Vec<String>,
    /// How it was placed, in words.
    pub how: String,
}

/// A mirror in the answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listed {
    pub mirror: String,
    /// `netblock`, `asn`, `cloud`, `country`, `continent` or `global`.
    pub tier: String,
    pub protocol: String,
}

/// A mirror not in the answer, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotListed {
    pub mirror: String,
    pub reason: String,
}

/// How one answer was built: `/api/v1/explain`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub api_version: u32,
    pub serial: u64,
    /// The directory the request names (its path).
    pub directory: String,
    pub client: Placement,
    /// The answer, in order.
    pub listed: Vec<Listed>,
    pub not_listed: Vec<NotListed>,
    /// At most this many mirrors; the world is drawn from while fewer than `minimum`.
    pub cap: usize,
    pub minimum: usize,
    /// Whether the same request gets the same answer (a fixed `--seed`); otherwise every
    /// request draws afresh and this is one such draw.
    pub deterministic: bool,
}

fn family_of(ip: Option<IpAddr>) -> Option<Family> {
    match ip.map(shared::net::unmapped) {
        Some(IpAddr::V4(_)) => Some(Family::V4),
        Some(IpAddr::V6(_)) => Some(Family::V6),
        None => None,
    }
}

fn protocol_name(bit: u8) -> &'static str {
    if bit == HTTPS {
        "https"
    } else {
        "http"
    }
}

/// Builds the explanation of the answer `req` would get.
pub fn explain<B>(
    state: &AppState,
    req: &http::Request<B>,
    peer: SocketAddr,
) -> Result<Explanation, Refusal> {
    let params = parse::query(req.uri().query())?;
    let view = state.view();
    let Some(loaded) = view.loaded.as_deref() else {
        return Err(Refusal::new(
            http::StatusCode::SERVICE_UNAVAILABLE,
            "error: no snapshot is loaded yet",
        ));
    };
    let (index, templated) = match resolve::resolve(loaded, Form::Query, &params)? {
        Target::Dir { index, templated } => (index, templated),
        Target::Vault { url, .. } => {
            return Err(Refusal::not_found(format!(
                "error: this release is only in the vault; its answer is the vault's URL, {url}"
            )))
        }
    };
    let client = place::place(state, &view, peer, req.headers(), &params)?;
    let limits = state.settings().limits;
    let d = loaded.index.candidates(index, templated);
    let choices = select::choose_in(
        &loaded.index,
        d,
        &client,
        params.protocols,
        limits,
        seed(state, client.ip, index),
    );
    let how = if !params.countries.is_empty() {
        format!(
            "by the country parameter ({})",
            params
                .countries
                .iter()
                .filter_map(|c| code_text(*c))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else if params.global {
        "country=global: no place preference".to_string()
    } else if client.ip.is_none() {
        "no address (a trusted proxy did not know it): placed nowhere".to_string()
    } else if view.geo.is_none() {
        "no GeoIP database is loaded: no country".to_string()
    } else if client.country == 0 {
        "its address is not in the GeoIP database: no country".to_string()
    } else {
        "by GeoIP of its address".to_string()
    };
    let asked = Asked {
        dir: index,
        any_arch: templated,
        client: &client,
        protocols: params.protocols,
        limits,
        how,
        deterministic: state.settings().seed.is_some(),
    };
    Ok(account(loaded, &asked, &choices))
}

/// What was asked, and of whom: the inputs of the choice.
pub struct Asked<'a> {
    /// The directory, and whether the request left the arch out (every arch's mirrors).
    pub dir: usize,
    pub any_arch: bool,
    pub client: &'a Client,
    pub protocols: u8,
    pub limits: select::Limits,
    /// How the client was placed, in words.
    pub how: String,
    /// A fixed seed: the same request gets the same answer.
    pub deterministic: bool,
}

/// Accounts for every mirror given the answer `choices`: a pure function, tested against
/// answers actually given.
pub fn account(loaded: &Loaded, asked: &Asked<'_>, choices: &[Choice]) -> Explanation {
    let Asked {
        dir: index,
        any_arch: templated,
        client,
        protocols,
        limits,
        ref how,
        deterministic,
    } = *asked;
    let how = how.clone();
    let snap = &loaded.snapshot;
    let name = |m: u32| snap.mirrors[m as usize].name.clone();
    let netblock_matches: Vec<u32> = client
        .ip
        .map(|ip| loaded.index.netblocks.lookup(ip))
        .unwrap_or_default();
    let placement = Placement {
        address: client.ip.map(|ip| ip.to_string()),
        country: code_text(client.country),
        continent: code_text(client.continent),
        coordinates: client.coordinates,
        asn: client.asn,
        cloud: client
            .cloud
            .as_ref()
            .map(|c| format!("{} {}", c.provider, c.region).trim().to_string()),
        netblock_matches: netblock_matches.iter().map(|m| name(*m)).collect(),
        how,
    };
    let listed: Vec<Listed> = choices
        .iter()
        .map(|c| Listed {
            mirror: name(c.mirror),
            tier: c.tier.as_str().into(),
            protocol: protocol_name(c.protocol).into(),
        })
        .collect();
    let d = loaded.index.candidates(index, templated);
    let before_global = choices.iter().filter(|c| c.tier < Tier::Global).count();
    let upto = if client.global {
        limits.cap
    } else {
        limits.minimum
    };
    let monopoly = choices.len() == 1
        && matches!(choices[0].tier, Tier::Netblock | Tier::Asn)
        && snap.mirrors[choices[0].mirror as usize].monopoly;
    let family = family_of(client.ip);
    let wanted: Vec<Protocol> = [(HTTPS, Protocol::Https), (HTTP, Protocol::Http)]
        .into_iter()
        .filter(|(bit, _)| protocols & bit != 0)
        .map(|(_, p)| p)
        .collect();
    let mut not_listed = Vec::new();
    for (at, m) in snap.mirrors.iter().enumerate() {
        let at = at as u32;
        if choices.iter().any(|c| c.mirror == at) {
            continue;
        }
        let reason = (|| {
            if let Some(why) = &m.refused {
                return format!("not served at all: {why}");
            }
            let Some(&slot) = d.slot.get(&at) else {
                // Not a candidate here: the snapshot's verdict over each protocol asked for.
                let whys: Vec<String> = wanted
                    .iter()
                    .map(
                        |p| match snap.verdict(index, at, *p, family.unwrap_or(Family::Any)) {
                            Err(why) => format!("{p}: {why}"),
                            Ok(_) => format!("{p}: no URL for this directory's module"),
                        },
                    )
                    .collect();
                return format!("not served for this directory ({})", whys.join("; "));
            };
            let c = &d.candidates[slot as usize];
            if c.protocols & protocols == 0 {
                return format!(
                    "current here only over {}, and the request asked for {}",
                    protocol_name(c.protocols),
                    protocol_name(protocols)
                );
            }
            if let Some(f) = family {
                let reached = match f {
                    Family::V4 => m.ipv4,
                    _ => m.ipv6,
                };
                if !reached {
                    return format!("not reached over {f}, the client's address family");
                }
            }
            if monopoly {
                return format!(
                    "{} holds the client's network alone (monopoly)",
                    name(choices[0].mirror)
                );
            }
            match &m.audience {
                Audience::Cloud { provider, .. } => {
                    return format!(
                        "a cloud mirror: only for clients inside {provider}'s address ranges{}",
                        match &client.cloud {
                            Some(place) if *place.provider == **provider =>
                                ", in its regions (not the client's)".to_string(),
                            _ => ", and the client's address is not in them".to_string(),
                        }
                    )
                }
                Audience::OwnNetworks { .. } => {
                    return if client.skip_networks {
                        "private, and the request asked to skip network matching (netblock=0)"
                            .into()
                    } else {
                        "private: only for clients in its netblocks or ASNs, and the client's \
                         address and ASN are in neither"
                            .into()
                    };
                }
                _ => {}
            }
            if !m.countries_allowed.is_empty()
                && !m.countries_allowed.iter().any(|a| {
                    let a = shared::geo::code(a);
                    a == client.country || client.also.contains(&a)
                })
            {
                return format!("serves only clients in {}", m.countries_allowed.join(", "));
            }
            // Eligible and public: which tier it was in, and why it did not make the list.
            let in_country =
                c.country != 0 && (c.country == client.country || client.also.contains(&c.country));
            let in_continent = client.continent != 0 && c.continent == client.continent;
            if in_country || in_continent {
                let tier = if in_country { "country" } else { "continent" };
                if choices.len() >= limits.cap {
                    let nearer = if in_country {
                        ""
                    } else {
                        ", nearer or drawn before it"
                    };
                    return format!("in the {tier} tier, past the cap of {}{nearer}", limits.cap);
                }
                return format!("in the {tier} tier, not drawn");
            }
            if before_global >= upto {
                return format!(
                    "outside the client's {}: the rest of the world fills in only while fewer \
                     than {upto} were found nearer, and {before_global} were",
                    if client.continent == 0 {
                        "country"
                    } else {
                        "continent"
                    }
                );
            }
            if choices.len() >= upto {
                return format!(
                    "in the global tier, not drawn: the weighted draw filled the list to {upto}"
                );
            }
            "in the global tier, not drawn".to_string()
        })();
        not_listed.push(NotListed {
            mirror: m.name.clone(),
            reason,
        });
    }
    Explanation {
        api_version: shared::status::API_VERSION,
        serial: snap.serial,
        directory: snap.catalog.directories[index].path.clone(),
        client: placement,
        listed,
        not_listed,
        cap: limits.cap,
        minimum: limits.minimum,
        deterministic,
    }
}
