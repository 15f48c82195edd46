//! Verdicts: whether a mirror is served for a directory over a protocol and an address family,
//! to whom, and when it is not, why. [`super::build`] decides them once; the snapshot carries
//! them; the server's candidates are the served ones and `mirror-checker status` prints the
//! same values, so what the server does and what an operator is told cannot disagree.
//!
//! The decision, in order (the first that applies wins):
//! 1. the mirror: held by an admin, disabled, not approved, not checked yet;
//! 2. its capabilities, after the health rule's hysteresis: a protocol or address family that
//!    is down is not served (all of them down: the mirror is not served);
//! 3. the directory over that protocol, from its latest check: the current version or an
//!    alternate is served; a known version beyond the alternates, an intermediate version no
//!    metalink lists, a 404 are not; a failed check, or a copy matching no version, keeps the
//!    last copy that did match (while it is still an alternate) until the health rule takes
//!    the protocol, or the mirror's content, down.
//!
//! Last, a maintenance window takes out what it covers (the mirror, a protocol, a family)
//! while it holds, and until a check after it ends ([`super::maintenance`]).
//!
//! Private mirrors the registry marks `checked: false` skip 2 and 3: they are served, unchecked,
//! to their own networks only.

use crate::duration::human_age;
use crate::registry::Protocol;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a mirror is not served (for a directory, a protocol, a family, or at all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotServed {
    /// `enabled: false` in the registry.
    Disabled,
    /// `approved: false`: checked, not served.
    NotApproved,
    /// No check of it (or of this directory over this protocol) has finished yet.
    NotCheckedYet,
    /// A capability (`http`, `https`, `ipv4`, `ipv6`) is down by the health rule.
    Down { capability: String, reason: String },
    /// Holds a version the master published, superseded longer ago than the alternates window
    /// (or expired by `expire-alternates`).
    Behind { versions: u32, for_secs: i64 },
    /// Holds a version published between two the checker knows: behind, and no metalink lists
    /// its checksums.
    Intermediate { versions: u32, for_secs: i64 },
    /// The directory answered 404 (or 410).
    Missing { status: u16 },
    /// repomd.xml matches no version the master published, and no earlier copy did either.
    UnknownContent,
    /// The check failed, with no earlier good copy to fall back on.
    CheckFailed { reason: String },
    /// Half-synced: repomd.xml is a version the master published, but a file it names is
    /// missing or of another size (dnf fails on it).
    HalfSynced { problem: String },
    /// An admin holds it out of the answers, for this reason.
    Held { reason: String },
    /// In a maintenance window its operator declared (the whole mirror, or this protocol or
    /// family of it), until then.
    Maintenance { until: i64, note: String },
    /// Its maintenance window ended then, and no check has found it current since.
    AfterMaintenance { ended: i64 },
}

impl fmt::Display for NotServed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotServed::Disabled => f.write_str("disabled in the registry (enabled: false)"),
            NotServed::Held { reason } => {
                write!(f, "held out of the answers by an admin: {reason}")
            }
            NotServed::Maintenance { until, note } => {
                write!(
                    f,
                    "in maintenance until {}",
                    crate::duration::utc_minute(*until)
                )?;
                if !note.is_empty() {
                    write!(f, ": {note}")?;
                }
                Ok(())
            }
            NotServed::AfterMaintenance { ended } => write!(
                f,
                "its maintenance ended at {}; served again once a check finds it current",
                crate::duration::utc_minute(*ended)
            ),
            NotServed::NotApproved => f.write_str("waiting for approval (approved: false)"),
            NotServed::NotCheckedYet => f.write_str("not checked yet"),
            NotServed::Down { capability, reason } => write!(f, "{capability} down: {reason}"),
            NotServed::Behind { versions, for_secs } => write!(
                f,
                "behind by {versions} version{} for {}, beyond the alternates",
                plural(*versions),
                human_age((*for_secs).max(0) as u64)
            ),
            NotServed::Intermediate { versions, for_secs } => write!(
                f,
                "behind by {versions} version{} for {} (a version published between two \
                 scans of the master, which no metalink lists)",
                plural(*versions),
                human_age((*for_secs).max(0) as u64)
            ),
            NotServed::Missing { status } => write!(f, "missing (HTTP {status})"),
            NotServed::UnknownContent => {
                f.write_str("repomd.xml matches no version the master published")
            }
            NotServed::CheckFailed { reason } => write!(f, "check failed: {reason}"),
            NotServed::HalfSynced { problem } => write!(f, "half-synced: {problem}"),
        }
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// To whom a served mirror is served.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Audience {
    #[default]
    Everyone,
    /// `countries_allowed`: clients in these countries only.
    Countries(Vec<String>),
    /// A private mirror: clients in its netblocks or ASNs only.
    OwnNetworks { checked: bool },
    /// A cloud mirror: clients inside the provider's address ranges, in one of these regions
    /// (or any, for `all`).
    Cloud {
        provider: String,
        regions: Vec<String>,
    },
}

impl Audience {
    /// In the public pool: the country, continent and global tiers.
    pub fn is_public(&self) -> bool {
        matches!(self, Audience::Everyone | Audience::Countries(_))
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Audience::Everyone => f.write_str("everyone"),
            Audience::Countries(c) => write!(f, "clients in {} only", c.join(", ")),
            Audience::OwnNetworks { checked: true } => {
                f.write_str("its own netblocks and ASNs only (private)")
            }
            Audience::OwnNetworks { checked: false } => f.write_str(
                "its own netblocks and ASNs only (private, served unchecked: checked: false)",
            ),
            Audience::Cloud { provider, regions } => write!(
                f,
                "clients inside {provider}'s address ranges in {} only (cloud mirror)",
                if regions.is_empty() || regions.iter().any(|r| r == "all") {
                    "any region".to_string()
                } else {
                    regions.join(", ")
                }
            ),
        }
    }
}

/// Where a mirror's country or coordinates came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// The registry file.
    Registry,
    /// GeoIP of the address the checker reached it at.
    Address,
    /// The centroid of its country (no coordinates from the registry or GeoIP).
    CountryCentroid,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Registry => "registry",
            Source::Address => "GeoIP of its address",
            Source::CountryCentroid => "its country's centroid",
        })
    }
}

/// How a served directory is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    /// 0: the current version; k: k versions behind, still an alternate.
    pub behind: u8,
    /// Served on the last copy that matched, because its latest check failed and the health
    /// rule has not taken it out.
    pub held: bool,
    pub unchecked: bool,
}

/// A protocol's bit, as [`super::DirMirror::protocols`] holds them.
pub fn bit(p: Protocol) -> u8 {
    super::protocol_bit(p)
}
