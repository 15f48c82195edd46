//! The snapshot: everything the server needs to answer requests, built from the store by a
//! pure function and published as one checksummed file. It is the unit of publication: a
//! snapshot is complete or it is not published.

pub mod build;
mod file;

pub use build::{build, CapabilityState, SeenCopy, SnapshotInput};
pub use file::{
    decode, read, read_header, write_atomic, SnapshotError, SnapshotHeader, FORMAT_VERSION, MAGIC,
};

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
    /// Enabled, approved mirrors only.
    pub mirrors: Vec<SnapMirror>,
    /// Parallel to `catalog.directories`.
    pub directories: Vec<SnapDirectory>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapMirror {
    pub name: String,
    pub country: Option<String>,
    pub continent: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
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
    /// Mirrors holding the current version or an alternate, over a healthy protocol.
    pub mirrors: Vec<DirMirror>,
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
}
