//! Opening a database, and checking it: its metadata and search tree when read, a spread of
//! probe lookups (cheap enough for the start), and every record decoded (the whole check:
//! about a second for a whole-Internet city database), at once or in the background.

use super::GeoError;
use maxminddb::{LookupResult, MaxMindDbError};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;

/// A database's bytes, shared by the reader that answers and the one that checks.
#[derive(Clone)]
pub(super) struct Bytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

pub(super) type Reader = maxminddb::Reader<Bytes>;

/// Decodes one record: `true` when it holds what the database is opened for.
pub(super) type Check = fn(&LookupResult<'_, Bytes>) -> Result<bool, MaxMindDbError>;

/// What a database is checked for, and the words for one that holds none of it.
#[derive(Clone, Copy)]
pub(super) struct Kind {
    pub check: Check,
    pub not_a: &'static str,
}

fn invalid(shown: &str) -> impl Fn(MaxMindDbError) -> GeoError + '_ {
    move |e| GeoError::Invalid {
        path: shown.to_string(),
        detail: e.to_string(),
    }
}

/// Reads a database and parses its metadata.
pub(super) fn read(path: &Path) -> Result<(Reader, Bytes), GeoError> {
    let shown = path.display().to_string();
    let bytes = crate::fsread::read_regular(path, 4 << 30).map_err(|source| GeoError::Read {
        path: shown.clone(),
        source,
    })?;
    let bytes = Bytes(Arc::new(bytes));
    let reader = maxminddb::Reader::from_source(bytes.clone()).map_err(invalid(&shown))?;
    Ok((reader, bytes))
}

/// Addresses spread over the space a database covers: 4,096 IPv4 ones (one in each /12,
/// at a different offset each) and, for an IPv6 database, 1,024 in 2000::/3.
fn probes(ipv6: bool) -> impl Iterator<Item = IpAddr> {
    let v4 = (0u32..4096).map(|i| {
        let offset = i.wrapping_mul(2_654_435_761) & 0xF_FFFF;
        IpAddr::V4(Ipv4Addr::from(i << 20 | offset))
    });
    let v6 = (0u128..if ipv6 { 1024 } else { 0 }).map(|i| {
        let offset = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) & ((1 << 115) - 1);
        IpAddr::V6(Ipv6Addr::from(0x2000u128 << 112 | i << 115 | offset))
    });
    v4.chain(v6)
}

/// The check cheap enough for the start: the probe addresses looked up and their records
/// decoded. A database whose probes found records none of which holds what is wanted is
/// refused; damage elsewhere is left to [`whole`].
pub(super) fn probe(reader: &Reader, path: &Path, kind: Kind) -> Result<(), GeoError> {
    let shown = path.display().to_string();
    let (mut found, mut useful) = (false, false);
    for ip in probes(reader.metadata().ip_version == 6) {
        let hit = reader.lookup(ip).map_err(invalid(&shown))?;
        if hit.has_data() {
            found = true;
            useful |= (kind.check)(&hit).map_err(invalid(&shown))?;
        }
    }
    match found && !useful {
        true => Err(not_a(reader, &shown, kind)),
        false => Ok(()),
    }
}

fn not_a(reader: &Reader, shown: &str, kind: Kind) -> GeoError {
    GeoError::Invalid {
        path: shown.to_string(),
        detail: format!(
            "a {} database is {}",
            reader.metadata().database_type,
            kind.not_a
        ),
    }
}

/// The whole check: every network's record decoded, so damage shows up front instead of on
/// some later lookup; a database none of whose records holds what is wanted (an ASN
/// database given for locations) is refused.
pub(super) fn whole(reader: &Reader, path: &Path, kind: Kind) -> Result<(), GeoError> {
    let shown = path.display().to_string();
    let mut useful = false;
    for network in reader
        .networks(Default::default())
        .map_err(invalid(&shown))?
    {
        useful |= (kind.check)(&network.map_err(invalid(&shown))?).map_err(invalid(&shown))?;
    }
    match useful {
        true => Ok(()),
        false => Err(not_a(reader, &shown, kind)),
    }
}

/// The whole check of a database already answering, to run in the background.
pub struct Pending {
    reader: Reader,
    path: std::path::PathBuf,
    kind: Kind,
}

impl Pending {
    pub(super) fn new(bytes: Bytes, path: &Path, kind: Kind) -> Result<Pending, GeoError> {
        let reader =
            maxminddb::Reader::from_source(bytes).map_err(invalid(&path.display().to_string()))?;
        Ok(Pending {
            reader,
            path: path.to_path_buf(),
            kind,
        })
    }

    /// Decodes every record: `Err` when the database is damaged after all.
    pub fn finish(self) -> Result<(), GeoError> {
        whole(&self.reader, &self.path, self.kind)
    }
}
