//! The snapshot: everything the server needs to answer requests, built from the store by a
//! pure function and published as one checksummed file. It is the unit of publication: a
//! snapshot is complete or it is not published.

pub mod build;
mod file;
pub mod history;
pub mod maintenance;
pub mod propagation;
pub mod sign;
pub mod verdict;

pub use build::{alternates, build, Activity, CapabilityState, DirCheck, Located, SnapshotInput};
pub use file::{
    declared_len, decode, decode_verified, encode, freshness_path, install_verified,
    parse_freshness, read, read_freshness, read_header, read_verified, verify_bytes, write_atomic,
    write_bytes, write_freshness, write_freshness_bytes, SnapshotError, SnapshotHeader,
    FORMAT_VERSION, MAGIC,
};
pub use sign::{PublicKey, SigningKey};
pub use verdict::{Audience, NotServed, Served, Source};

use crate::catalog::Catalog;
use crate::model::RepomdVersion;
use crate::registry::{Protocol, Urls};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Increases with every publication; the server never swaps to a lower one.
    pub serial: u64,
    pub created_at: i64,
    /// Program and version that built it.
    pub generator: String,
    /// Carried as its TOML text (the catalog's own format), re-validated on load.
    #[serde(with = "catalog_as_toml")]
    pub catalog: Catalog,
    /// Every registered mirror, served or not ([`SnapMirror::refused`] says).
    pub mirrors: Vec<SnapMirror>,
    /// Parallel to `catalog.directories`.
    pub directories: Vec<SnapDirectory>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SnapMirror {
    pub name: String,
    /// Not served at all, and why; `None` when served for some directories.
    pub refused: Option<NotServed>,
    pub audience: Audience,
    /// Capabilities down by the health rule, with the reason: (capability, reason).
    pub down: Vec<(String, String)>,
    /// The registry's country, else GeoIP's of the mirror's address.
    pub country: Option<String>,
    pub continent: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// Where the country and the coordinates came from.
    pub country_from: Option<Source>,
    pub coordinates_from: Option<Source>,
    /// What an operator should look at (a registry country GeoIP disagrees with, ...).
    pub warnings: Vec<String>,
    pub bandwidth_mbps: Option<u32>,
    pub private: bool,
    pub monopoly: bool,
    pub asns: Vec<u32>,
    pub subnets: Vec<IpNet>,
    pub countries_allowed: Vec<String>,
    pub urls: Urls,
    pub module_urls: BTreeMap<String, Urls>,
    /// Address families the checker reached the mirror over.
    pub ipv4: bool,
    pub ipv6: bool,
    /// Its sponsor, last check and sync, availability and recent history.
    pub record: history::Record,
    /// Its maintenance windows that hold or are still to come.
    pub maintenance: Vec<maintenance::Window>,
}

/// Protocol bits in [`DirMirror::protocols`].
pub const HTTP: u8 = 1;
pub const HTTPS: u8 = 2;

pub fn protocol_bit(p: Protocol) -> u8 {
    match p {
        Protocol::Http => HTTP,
        Protocol::Https => HTTPS,
        Protocol::Rsync | Protocol::Ftp => 0,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SnapDirectory {
    /// The master's current repomd.xml first, then the older versions still within the
    /// staleness window (the metalink's alternates). Empty when the master has none.
    pub versions: Vec<Version>,
    /// Mirrors served for this directory: holding the current version or an alternate,
    /// over a healthy protocol.
    pub mirrors: Vec<DirMirror>,
    /// Mirrors served elsewhere that are not served here over a protocol, and why.
    pub refused: Vec<DirRefused>,
    /// How the current version reached the mirrors (`behind` holds mirror indices).
    pub propagation: Option<propagation::Propagation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirRefused {
    pub mirror: u32,
    pub protocol: Protocol,
    pub reason: NotServed,
}

/// One version of a directory's repomd.xml as a metalink states it. The snapshot's own type:
/// what the store keeps about a version may change without changing the file format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub size: u64,
    /// The largest `<timestamp>` inside the file.
    pub timestamp: i64,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
    /// When the master was first seen publishing it.
    pub first_seen: i64,
}

impl From<&RepomdVersion> for Version {
    fn from(v: &RepomdVersion) -> Version {
        Version {
            size: v.size,
            timestamp: v.timestamp,
            md5: v.md5.clone(),
            sha1: v.sha1.clone(),
            sha256: v.sha256.clone(),
            sha512: v.sha512.clone(),
            first_seen: v.first_seen,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirMirror {
    /// Index into [`Snapshot::mirrors`].
    pub mirror: u32,
    /// [`HTTP`] | [`HTTPS`]: protocols over which this directory was found up to date.
    pub protocols: u8,
    /// 0 when current, otherwise how many versions behind (within the window).
    pub behind: u8,
    /// Protocols served on the last good copy while a failed check is weighed by the health
    /// rule.
    pub held: u8,
}

mod catalog_as_toml {
    use crate::catalog::{Catalog, CatalogSpec};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(catalog: &Catalog, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&catalog.spec.to_toml())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Catalog, D::Error> {
        let text = String::deserialize(d)?;
        let spec =
            CatalogSpec::from_toml(&text, "snapshot catalog").map_err(serde::de::Error::custom)?;
        Catalog::from_spec(spec).map_err(serde::de::Error::custom)
    }
}

impl Snapshot {
    /// How many (directory, mirror) pairs are servable.
    pub fn up_to_date_pairs(&self) -> usize {
        self.directories.iter().map(|d| d.mirrors.len()).sum()
    }

    /// The verdict for a mirror (index into [`Snapshot::mirrors`]) on a directory (index
    /// into the catalog's directories) over a protocol and an address family: served, and how,
    /// or why not. What the server's candidates are made of, and what `status` prints.
    pub fn verdict(
        &self,
        dir: usize,
        mirror: u32,
        protocol: Protocol,
        family: crate::model::Family,
    ) -> Result<Served, NotServed> {
        let d = &self.directories[dir];
        let bit = protocol_bit(protocol);
        let served = d
            .mirrors
            .iter()
            .find(|dm| dm.mirror == mirror && dm.protocols & bit != 0);
        let refused = d
            .refused
            .iter()
            .find(|r| r.mirror == mirror && r.protocol == protocol)
            .map(|r| &r.reason);
        self.verdict_of(mirror, protocol, family, served, refused)
    }

    /// [`Snapshot::verdict`], given the directory's entries for this mirror over this
    /// protocol (for callers that look them up once for many verdicts).
    pub fn verdict_of(
        &self,
        mirror: u32,
        protocol: Protocol,
        family: crate::model::Family,
        served: Option<&DirMirror>,
        refused: Option<&NotServed>,
    ) -> Result<Served, NotServed> {
        let m = &self.mirrors[mirror as usize];
        if let Some(r) = &m.refused {
            return Err(r.clone());
        }
        let family_ok = match family {
            crate::model::Family::V4 => m.ipv4,
            crate::model::Family::V6 => m.ipv6,
            crate::model::Family::Any => m.ipv4 || m.ipv6,
        };
        if !family_ok {
            let scope = match family {
                crate::model::Family::V6 => crate::model::Scope::V6,
                _ => crate::model::Scope::V4,
            };
            if let Some(w) = m.maintenance.iter().find(|w| w.holds && w.scope == scope) {
                return Err(w.reason());
            }
            let capability = family.as_str().to_string();
            let reason = m
                .down
                .iter()
                .find(|(c, _)| *c == capability)
                .map_or_else(|| "not reached over it".to_string(), |(_, r)| r.clone());
            return Err(NotServed::Down { capability, reason });
        }
        if let Some((capability, reason)) = m.down.iter().find(|(c, _)| c == protocol.as_str()) {
            return Err(NotServed::Down {
                capability: capability.clone(),
                reason: reason.clone(),
            });
        }
        if let Some(dm) = served {
            return Ok(Served {
                behind: dm.behind,
                held: dm.held & protocol_bit(protocol) != 0,
                unchecked: matches!(m.audience, Audience::OwnNetworks { checked: false }),
            });
        }
        Err(refused.cloned().unwrap_or(NotServed::NotCheckedYet))
    }
}
