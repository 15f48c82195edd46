//! The mirror registry: who the mirrors are, where they are, what they serve and to whom.
//! `import` reads AlmaLinux's one-YAML-file-per-mirror format (plus this project's extra
//! keys), judging each file; `export` writes the same format back.

pub mod change;
mod export;
pub mod form;
mod import;
mod judge;

pub use export::{export_dir, export_dir_marking, file_name, mirror_to_yaml, CONTROL_MARK};
pub use import::{
    import_dir, import_dir_with, import_file, judge_with, FileOutcome, FileReport, ImportReport,
    MAX_FILE_BYTES,
};

/// What the import allows beyond the format: how wide a private or monopoly mirror's networks
/// may be, and which internal addresses may be mirror URLs (a test network's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// A private or monopoly mirror's IPv4 networks may be no wider than this prefix.
    pub min_prefix_v4: u8,
    /// The same for IPv6.
    pub min_prefix_v6: u8,
    /// Internal addresses allowed in mirror URLs (none by default).
    pub allow_internal: Vec<IpNet>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            min_prefix_v4: 8,
            min_prefix_v6: 19,
            allow_internal: Vec::new(),
        }
    }
}

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Http,
    Https,
    Rsync,
    Ftp,
}

impl Protocol {
    pub const ALL: [Protocol; 4] = [
        Protocol::Http,
        Protocol::Https,
        Protocol::Rsync,
        Protocol::Ftp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Https => "https",
            Protocol::Rsync => "rsync",
            Protocol::Ftp => "ftp",
        }
    }

    pub fn parse(s: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Protocols dnf can fetch repodata over, and so the ones the checker verifies.
    pub fn is_web(self) -> bool {
        matches!(self, Protocol::Http | Protocol::Https)
    }
}

/// Its name as stored (a store's rows decode through this).
impl TryFrom<String> for Protocol {
    type Error = String;
    fn try_from(text: String) -> Result<Protocol, String> {
        Protocol::parse(&text).ok_or_else(|| format!("{text:?} is not a known protocol"))
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Base URLs by protocol. Each URL ends with `/`.
pub type Urls = BTreeMap<Protocol, String>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Geo {
    /// ISO 3166-1 alpha-2 code.
    pub country: Option<String>,
    pub state_province: Option<String>,
    pub city: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// One registered mirror. Its `name` (a host name) is its identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mirror {
    pub name: String,
    pub sponsor: String,
    pub sponsor_url: Option<String>,
    pub email: Option<String>,
    pub urls: Urls,
    /// Base URLs of optional modules' trees (AlmaLinux's `address_optional.kitten`).
    pub module_urls: BTreeMap<String, Urls>,
    pub geo: Geo,
    /// Announced bandwidth, used to weight the choice between equally good mirrors.
    pub bandwidth_mbps: Option<u32>,
    /// Served only to clients matched by subnet or ASN.
    pub private: bool,
    /// A matching client gets this mirror alone.
    pub monopoly: bool,
    pub asns: Vec<u32>,
    pub subnets: Vec<IpNet>,
    /// A URL returning a JSON list of CIDRs, fetched by the checker.
    pub subnets_url: Option<String>,
    /// Countries whose clients may get this mirror; empty means everyone.
    pub countries_allowed: Vec<String>,
    pub cloud_type: Option<String>,
    pub cloud_regions: Vec<String>,
    /// How often the operator says the mirror syncs, as written (`3h`).
    pub update_frequency: Option<String>,
    /// The operator's switch: a disabled mirror is kept but not checked or served.
    pub enabled: bool,
    /// The distribution's switch: an unapproved mirror is checked but not served.
    pub approved: bool,
    /// False for a private mirror the checker cannot reach (behind the operator's firewall):
    /// served unchecked, to its own netblocks and ASNs only.
    pub checked: bool,
    /// The registry file it was read from (`mirror.example.org.yml`), so an export writes it
    /// back under the same name.
    pub source_file: Option<String>,
    /// An admin's hold, with its reason: not served whatever the file or the operator says.
    /// Kept in the store, never in a registry file.
    #[serde(default)]
    pub held: Option<String>,
}

impl Mirror {
    /// A minimal mirror, for tests and tools.
    pub fn new(name: &str, sponsor: &str) -> Self {
        Mirror {
            name: name.to_string(),
            sponsor: sponsor.to_string(),
            sponsor_url: None,
            email: None,
            urls: Urls::new(),
            module_urls: BTreeMap::new(),
            geo: Geo::default(),
            bandwidth_mbps: None,
            private: false,
            monopoly: false,
            asns: Vec::new(),
            subnets: Vec::new(),
            subnets_url: None,
            countries_allowed: Vec::new(),
            cloud_type: None,
            cloud_regions: Vec::new(),
            update_frequency: None,
            enabled: true,
            approved: true,
            checked: true,
            source_file: None,
            held: None,
        }
    }

    /// The mirror as its registry file says, without an admin's hold.
    pub fn without_hold(&self) -> Mirror {
        Mirror {
            held: None,
            ..self.clone()
        }
    }

    pub fn continent(&self) -> Option<&'static str> {
        self.geo
            .country
            .as_deref()
            .and_then(crate::geo::continent_of)
    }

    /// The base URL a directory of `module` (or the main tree) is under, for a protocol.
    pub fn base_url(&self, module: Option<&str>, protocol: Protocol) -> Option<&str> {
        match module {
            None => self.urls.get(&protocol),
            Some(m) => self.module_urls.get(m)?.get(&protocol),
        }
        .map(String::as_str)
    }
}
