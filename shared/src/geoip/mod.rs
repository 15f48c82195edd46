//! GeoIP: where a client is. Reads MaxMind DB files in both schemas found in the wild:
//! MaxMind's own (`country.iso_code`, `continent.code`, `location.latitude/longitude`, as in
//! GeoLite2/GeoIP2 City and Country) and the flat one of DB-IP and ip-location-db
//! (`country_code`, `latitude`, `longitude`); and ASN databases in GeoLite2-ASN's shape.
//! A database is checked whole when opened (every network's record decoded: about a second
//! for a whole-Internet city database), so a damaged file is refused with a clear error up
//! front instead of failing on some later lookup; or, where the first answer cannot wait
//! ([`GeoDb::open_probed`]), a spread of probe lookups first and the whole check in the
//! background. (maxminddb's own `verify` is stricter than the files in use: it refuses
//! ip-location-db's databases for an empty description map.)

mod check;
mod record;

pub use check::Pending;

use crate::geo::code;
use check::{Kind, Reader};
use record::{AsnRecord, Record};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Where an address is, as far as the database knows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Location {
    /// [`crate::geo::code`]s; 0 when unknown.
    pub country: u16,
    pub continent: u16,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl Location {
    pub fn coordinates(&self) -> Option<(f64, f64)> {
        Some((self.latitude?, self.longitude?))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("{path}: cannot read the GeoIP database: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a valid MaxMind DB file: {detail}")]
    Invalid { path: String, detail: String },
}

/// A location database.
pub struct GeoDb {
    reader: Reader,
    pub path: PathBuf,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb")
            .field("path", &self.path)
            .field("type", &self.reader.metadata().database_type)
            .finish()
    }
}

/// What a location database is checked for.
const LOCATIONS: Kind = Kind {
    check: |r| {
        r.decode::<Record<'_>>().map(|rec| {
            rec.is_some_and(|rec| {
                rec.country.is_some()
                    || rec.country_code.is_some()
                    || rec.location.is_some()
                    || rec.latitude.is_some()
            })
        })
    },
    not_a: "not a location database: none of its records holds a country or coordinates",
};

const ASNS: Kind = Kind {
    check: |r| {
        r.decode::<AsnRecord>()
            .map(|rec| rec.is_some_and(|a| a.autonomous_system_number.is_some()))
    },
    not_a: "not an ASN database: none of its records holds an AS number",
};

/// Reads a database and checks it whole.
fn open_whole(path: &Path, kind: Kind) -> Result<Reader, GeoError> {
    let (reader, _) = check::read(path)?;
    check::whole(&reader, path, kind)?;
    Ok(reader)
}

/// Reads a database and probes it; the whole check is left to the caller.
fn open_probed(path: &Path, kind: Kind) -> Result<(Reader, Pending), GeoError> {
    let (reader, bytes) = check::read(path)?;
    check::probe(&reader, path, kind)?;
    Ok((reader, Pending::new(bytes, path, kind)?))
}

impl GeoDb {
    pub fn open(path: &Path) -> Result<GeoDb, GeoError> {
        Ok(GeoDb {
            reader: open_whole(path, LOCATIONS)?,
            path: path.to_path_buf(),
        })
    }

    /// Ready to answer once the probe lookups pass: the whole check, [`Pending::finish`],
    /// is the caller's to run, and a database it refuses is the caller's to stop using.
    pub fn open_probed(path: &Path) -> Result<(GeoDb, Pending), GeoError> {
        let (reader, pending) = open_probed(path, LOCATIONS)?;
        let db = GeoDb {
            reader,
            path: path.to_path_buf(),
        };
        Ok((db, pending))
    }

    /// The database's own name for its kind (`GeoLite2-City`, `DBIP-City-Lite`, ...).
    pub fn kind(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// When the database was built (Unix seconds, from its metadata): how old its
    /// placements are.
    pub fn built_at(&self) -> i64 {
        self.reader.metadata().build_epoch as i64
    }

    /// `None` when the address is not in the database (or its record cannot be read).
    pub fn lookup(&self, ip: IpAddr) -> Option<Location> {
        let found = self.reader.lookup(ip).ok()?;
        let record: Record<'_> = found.decode().ok()??;
        // Codes as integers, with no allocation: this runs on every request.
        let country = record
            .country
            .as_ref()
            .and_then(|c| c.iso_code)
            .or(record.country_code)
            .map_or(0, code);
        let continent = match record
            .continent
            .as_ref()
            .and_then(|c| c.code)
            .map_or(0, code)
        {
            0 => crate::geo::continent_of_code(country),
            known => known,
        };
        let (latitude, longitude) = match &record.location {
            Some(l) => (l.latitude, l.longitude),
            None => (record.latitude, record.longitude),
        };
        let location = Location {
            country,
            continent,
            latitude: latitude.map(|d| d.0),
            longitude: longitude.map(|d| d.0),
        };
        (location != Location::default()).then_some(location)
    }
}

/// An IP → autonomous system database.
pub struct AsnDb {
    reader: Reader,
    pub path: PathBuf,
}

impl std::fmt::Debug for AsnDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsnDb").field("path", &self.path).finish()
    }
}

impl AsnDb {
    pub fn open(path: &Path) -> Result<AsnDb, GeoError> {
        Ok(AsnDb {
            reader: open_whole(path, ASNS)?,
            path: path.to_path_buf(),
        })
    }

    /// As [`GeoDb::open_probed`].
    pub fn open_probed(path: &Path) -> Result<(AsnDb, Pending), GeoError> {
        let (reader, pending) = open_probed(path, ASNS)?;
        let db = AsnDb {
            reader,
            path: path.to_path_buf(),
        };
        Ok((db, pending))
    }

    pub fn lookup(&self, ip: IpAddr) -> Option<u32> {
        let found = self.reader.lookup(ip).ok()?;
        found.decode::<AsnRecord>().ok()??.autonomous_system_number
    }
}

#[cfg(test)]
mod tests;
