//! `/explain` and `/api/v1/explain`: how the answer to a metalink or mirrorlist request was
//! built for a client. The answer's own decision ([`crate::decide`]) is accounted for,
//! mirror by mirror: listed, with its tier, or not, with the first reason that kept it out,
//! in the order the choice applies them. The client's address is the caller's own (or the one a trusted
//! proxy forwarded); `ip=` is honoured only with `--allow-ip-param`, as for the answers.

use crate::select::{self, Choice, Client, Index, Tier};
use serde::Serialize;
use shared::geo::code_text;
use shared::model::Family;
use shared::registry::Protocol;
use shared::snapshot::{Audience, Snapshot, HTTP, HTTPS};
use std::net::IpAddr;

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

/// How the client was placed, worded by [`Placed::words`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// By the `country` parameter (the client's countries, in order).
    CountryParameter,
    /// `country=global`.
    Global,
    /// A trusted proxy did not know the address.
    NoAddress,
    NoGeoIp,
    NotInGeoIp,
    GeoIp,
}

impl Placed {
    pub fn words(self, client: &Client) -> String {
        match self {
            Placed::CountryParameter => format!(
                "by the country parameter ({})",
                std::iter::once(&client.country)
                    .chain(&client.also)
                    .filter_map(|c| code_text(*c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Placed::Global => "country=global: no place preference".into(),
            Placed::NoAddress => {
                "no address (a trusted proxy did not know it): placed nowhere".into()
            }
            Placed::NoGeoIp => "no GeoIP database is loaded: no country".into(),
            Placed::NotInGeoIp => "its address is not in the GeoIP database: no country".into(),
            Placed::GeoIp => "by GeoIP of its address".into(),
        }
    }
}

/// What was asked, and of whom: the inputs of the choice.
pub struct Asked<'a> {
    /// The directory, and whether the request left the arch out (every arch's mirrors).
    pub dir: usize,
    pub any_arch: bool,
    pub client: &'a Client,
    pub protocols: u8,
    pub limits: select::Limits,
    pub placed: Placed,
    /// A fixed seed: the same request gets the same answer.
    pub deterministic: bool,
}

/// Accounts for every mirror of `snap` given the answer `choices` (the decision's own,
/// [`crate::decide::Chosen::explain`]): a pure function.
pub fn account(
    snap: &Snapshot,
    index: &Index,
    asked: &Asked<'_>,
    choices: &[Choice],
) -> Explanation {
    let client = asked.client;
    let name = |m: u32| snap.mirrors[m as usize].name.clone();
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
        netblock_matches: client
            .ip
            .map(|ip| index.netblocks.lookup(ip))
            .unwrap_or_default()
            .into_iter()
            .map(name)
            .collect(),
        how: asked.placed.words(client),
    };
    let listed = choices
        .iter()
        .map(|c| Listed {
            mirror: name(c.mirror),
            tier: c.tier.as_str().into(),
            protocol: protocol_name(c.protocol).into(),
        })
        .collect();
    let why = Reasons::new(snap, index, asked, choices);
    let not_listed = snap
        .mirrors
        .iter()
        .enumerate()
        .filter(|(at, _)| !choices.iter().any(|c| c.mirror == *at as u32))
        .map(|(at, m)| NotListed {
            mirror: m.name.clone(),
            reason: why.of(at as u32),
        })
        .collect();
    Explanation {
        api_version: shared::status::API_VERSION,
        serial: snap.serial,
        directory: snap.catalog.directories[asked.dir].path.clone(),
        client: placement,
        listed,
        not_listed,
        cap: asked.limits.cap,
        minimum: asked.limits.minimum,
        deterministic: asked.deterministic,
    }
}

/// Why a mirror is not in an answer, in the order the choice applies its rules.
struct Reasons<'a> {
    snap: &'a Snapshot,
    asked: &'a Asked<'a>,
    choices: &'a [Choice],
    candidates: &'a select::DirIndex,
    family: Option<Family>,
    /// The protocols asked for.
    wanted: Vec<Protocol>,
    /// The answer is one mirror holding the client's network alone.
    monopoly: bool,
    /// How many were found before the global tier, and how many it fills to.
    before_global: usize,
    upto: usize,
}

impl<'a> Reasons<'a> {
    fn new(
        snap: &'a Snapshot,
        index: &'a Index,
        asked: &'a Asked<'a>,
        choices: &'a [Choice],
    ) -> Reasons<'a> {
        let limits = asked.limits;
        Reasons {
            snap,
            asked,
            choices,
            candidates: index.candidates(snap, asked.dir, asked.any_arch),
            family: family_of(asked.client.ip),
            wanted: [(HTTPS, Protocol::Https), (HTTP, Protocol::Http)]
                .into_iter()
                .filter(|(bit, _)| asked.protocols & bit != 0)
                .map(|(_, p)| p)
                .collect(),
            monopoly: choices.len() == 1
                && matches!(choices[0].tier, Tier::Netblock | Tier::Asn)
                && snap.mirrors[choices[0].mirror as usize].monopoly,
            before_global: choices.iter().filter(|c| c.tier < Tier::Global).count(),
            upto: if asked.client.global {
                limits.cap
            } else {
                limits.minimum
            },
        }
    }

    /// The first reason that kept mirror `at` out.
    fn of(&self, at: u32) -> String {
        let m = &self.snap.mirrors[at as usize];
        if let Some(why) = &m.refused {
            return format!("not served at all: {why}");
        }
        let Some(slot) = self.candidates.slot(at) else {
            return self.not_a_candidate(at);
        };
        let c = &self.candidates.candidates[slot as usize];
        if c.protocols & self.asked.protocols == 0 {
            return format!(
                "current here only over {}, and the request asked for {}",
                protocol_name(c.protocols),
                protocol_name(self.asked.protocols)
            );
        }
        if let Some(f) = self.family {
            let reached = match f {
                Family::V4 => m.ipv4,
                _ => m.ipv6,
            };
            if !reached {
                return format!("not reached over {f}, the client's address family");
            }
        }
        if self.monopoly {
            return format!(
                "{} holds the client's network alone (monopoly)",
                self.snap.mirrors[self.choices[0].mirror as usize].name
            );
        }
        self.audience(m)
            .or_else(|| self.countries_allowed(m))
            .unwrap_or_else(|| self.tier(c.country, c.continent))
    }

    /// Not a candidate here: the snapshot's verdict over each protocol asked for.
    fn not_a_candidate(&self, at: u32) -> String {
        let family = self.family.unwrap_or(Family::Any);
        let whys: Vec<String> = self
            .wanted
            .iter()
            .map(
                |p| match self.snap.verdict(self.asked.dir, at, *p, family) {
                    Err(why) => format!("{p}: {why}"),
                    Ok(_) => format!("{p}: no URL for this directory's module"),
                },
            )
            .collect();
        format!("not served for this directory ({})", whys.join("; "))
    }

    /// A cloud or private mirror the client is not an audience of.
    fn audience(&self, m: &shared::snapshot::SnapMirror) -> Option<String> {
        let client = self.asked.client;
        match &m.audience {
            Audience::Cloud { provider, .. } => Some(format!(
                "a cloud mirror: only for clients inside {provider}'s address ranges{}",
                match &client.cloud {
                    Some(place) if *place.provider == **provider =>
                        ", in its regions (not the client's)",
                    _ => ", and the client's address is not in them",
                }
            )),
            Audience::OwnNetworks { .. } if client.skip_networks => {
                Some("private, and the request asked to skip network matching (netblock=0)".into())
            }
            Audience::OwnNetworks { .. } => Some(
                "private: only for clients in its netblocks or ASNs, and the client's address \
                 and ASN are in neither"
                    .into(),
            ),
            _ => None,
        }
    }

    fn countries_allowed(&self, m: &shared::snapshot::SnapMirror) -> Option<String> {
        let client = self.asked.client;
        let allowed = m.countries_allowed.iter().any(|a| {
            let a = shared::geo::code(a);
            a == client.country || client.also.contains(&a)
        });
        (!m.countries_allowed.is_empty() && !allowed)
            .then(|| format!("serves only clients in {}", m.countries_allowed.join(", ")))
    }

    /// Eligible and public: which tier it was in, and why it did not make the list.
    fn tier(&self, country: u16, continent: u16) -> String {
        let client = self.asked.client;
        let cap = self.asked.limits.cap;
        let in_country =
            country != 0 && (country == client.country || client.also.contains(&country));
        let in_continent = client.continent != 0 && continent == client.continent;
        if in_country || in_continent {
            let tier = if in_country { "country" } else { "continent" };
            if self.choices.len() >= cap {
                let nearer = if in_country {
                    ""
                } else {
                    ", nearer or drawn before it"
                };
                return format!("in the {tier} tier, past the cap of {cap}{nearer}");
            }
            return format!("in the {tier} tier, not drawn");
        }
        let (before, upto) = (self.before_global, self.upto);
        if before >= upto {
            return format!(
                "outside the client's {}: the rest of the world fills in only while fewer \
                 than {upto} were found nearer, and {before} were",
                if client.continent == 0 {
                    "country"
                } else {
                    "continent"
                }
            );
        }
        if self.choices.len() >= upto {
            return format!(
                "in the global tier, not drawn: the weighted draw filled the list to {upto}"
            );
        }
        "in the global tier, not drawn".to_string()
    }
}
