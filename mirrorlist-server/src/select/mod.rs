//! Choosing mirrors for a client: an index built once per snapshot, and a pure function over
//! it for each request.
//!
//! Candidates are the mirrors the snapshot lists as up to date for the directory, over a
//! requested protocol, reachable over the client's address family. They are ordered in tiers:
//! 1. netblock match, most specific first (a matching `monopoly` mirror is returned alone);
//! 2. ASN match; private mirrors are reachable only through these two tiers;
//! 3. cloud: a client inside a cloud provider's published ranges gets that provider's
//!    mirrors for its region, then those for `all` (cloud mirrors are reached only so);
//! 4. the client's country (each country listed by `country=`, in order), honouring each
//!    mirror's allowed countries;
//! 5. the rest of the continent, nearest first in 500 km bands when coordinates are known;
//! 6. the rest of the world, only while fewer than `minimum` were found (up to the cap for
//!    `country=global`).
//!
//! Within a tier (or band) the order is a shuffle weighted by bandwidth, deterministic for a
//! seed. The list is capped. The index holds, per directory, the candidates with everything
//! a request tests already reduced to integers and flags, and the public ones grouped by
//! country and by continent, so a request touches only its own country's and continent's
//! mirrors and draws only as many as it will return.

pub(crate) mod choose;
mod index;

pub use crate::netblocks::NetblockIndex;
pub use choose::{choose, choose_in};
pub use index::{DirIndex, Index};

use std::net::IpAddr;

/// Which tier put a mirror in the answer (for metrics and `mm0:private`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    Netblock,
    Asn,
    Cloud,
    Country,
    Continent,
    Global,
}

impl Tier {
    pub const ALL: [Tier; 6] = [
        Tier::Netblock,
        Tier::Asn,
        Tier::Cloud,
        Tier::Country,
        Tier::Continent,
        Tier::Global,
    ];

    /// Its name in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Netblock => "netblock",
            Tier::Asn => "asn",
            Tier::Cloud => "cloud",
            Tier::Country => "country",
            Tier::Continent => "continent",
            Tier::Global => "global",
        }
    }
}

/// What is known about the client.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<IpAddr>,
    /// From GeoIP, or the `country` parameter (which wins), as a [`shared::geo::code`]; 0
    /// when unknown.
    pub country: u16,
    pub continent: u16,
    pub coordinates: Option<(f64, f64)>,
    pub asn: Option<u32>,
    /// The cloud provider and region whose published ranges hold the client's address.
    pub cloud: Option<crate::cloud::CloudPlace>,
    /// Further countries the `country` parameter listed, in order, after `country`.
    pub also: Vec<u16>,
    /// `country=global`: no place preference, the whole world up to the cap.
    pub global: bool,
    /// `netblock=0`: skip netblock and ASN matching (private mirrors are then out of reach).
    pub skip_networks: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Never more mirrors than this.
    pub cap: usize,
    /// Fill from the whole world until this many.
    pub minimum: usize,
    /// Distance band width for the continent tier.
    pub band_km: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cap: 10,
            minimum: 5,
            band_km: 500.0,
        }
    }
}

/// One chosen mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub mirror: u32,
    pub tier: Tier,
    /// The protocol bit used ([`HTTP`] or [`HTTPS`]).
    pub protocol: u8,
}

#[cfg(test)]
mod tests;
