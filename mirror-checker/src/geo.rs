//! Placing mirrors by the address the checker reached them at: a GeoIP database, read again
//! when its file changes, and the choice of which address speaks for a mirror.

use shared::geoip::GeoDb;
use shared::snapshot::Located;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// A GeoIP database file, opened at start and opened again when it changes.
#[derive(Debug)]
pub struct GeoSource {
    path: PathBuf,
    loaded: Mutex<(Option<SystemTime>, Arc<GeoDb>)>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl GeoSource {
    /// Opens `path`; a missing or damaged database is an error (a configured database that
    /// places nobody would silently leave mirrors unplaced).
    pub fn open(path: &Path) -> Result<GeoSource, shared::geoip::GeoError> {
        let stamp = modified(path);
        let db = GeoDb::open(path)?;
        Ok(GeoSource {
            path: path.to_path_buf(),
            loaded: Mutex::new((stamp, Arc::new(db))),
        })
    }

    /// The database, read again first when the file changed since; a changed file that
    /// cannot be read is logged and the last good one kept.
    pub fn current(&self) -> Option<Arc<GeoDb>> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        let stamp = modified(&self.path);
        if stamp.is_some() && stamp != loaded.0 {
            match GeoDb::open(&self.path) {
                Ok(db) => {
                    tracing::info!(path = %self.path.display(), kind = db.kind(), "GeoIP database read again");
                    *loaded = (stamp, Arc::new(db));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the changed GeoIP database is refused; the last good one stays in use");
                    loaded.0 = stamp;
                }
            }
        }
        Some(loaded.1.clone())
    }
}

/// Where `addresses` (a mirror's, as resolved) place it: the first IPv4 address the database
/// knows, else the first IPv6 one, else the first address, unplaced. `None` when the host
/// did not resolve.
pub fn locate(geo: Option<&GeoDb>, addresses: &[IpAddr]) -> Option<Located> {
    let mut ordered: Vec<IpAddr> = addresses.iter().copied().filter(IpAddr::is_ipv4).collect();
    ordered.extend(addresses.iter().copied().filter(IpAddr::is_ipv6));
    let first = *ordered.first()?;
    let found = geo.and_then(|g| {
        ordered
            .iter()
            .find_map(|ip| g.lookup(*ip).filter(|l| l.country != 0).map(|l| (*ip, l)))
    });
    Some(match found {
        Some((address, l)) => Located {
            address,
            country: shared::geo::code_text(l.country),
            latitude: l.latitude,
            longitude: l.longitude,
        },
        None => Located {
            address: first,
            country: None,
            latitude: None,
            longitude: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_address_the_database_knows_places_the_mirror() {
        let Some(city) = shared::testing::shared_data("geoip/GeoLite2-City-Test.mmdb") else {
            return;
        };
        let geo = GeoDb::open(&city).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // The IPv6 address comes second although listed first; the loopback one is unknown.
        let placed = locate(
            Some(&geo),
            &[ip("2001:db8::1"), ip("127.0.0.1"), ip("81.2.69.142")],
        )
        .unwrap();
        assert_eq!(placed.address, ip("81.2.69.142"));
        assert_eq!(placed.country.as_deref(), Some("GB"));
        assert!((placed.latitude.unwrap() - 51.5).abs() < 0.5);
        let unknown = locate(Some(&geo), &[ip("127.0.0.2")]).unwrap();
        assert_eq!(
            (unknown.address, unknown.country),
            (ip("127.0.0.2"), None),
            "an address the database does not know is still recorded"
        );
        assert_eq!(locate(None, &[]), None);
    }

    #[test]
    fn a_changed_database_is_read_again_and_a_broken_one_refused() {
        let (Some(city), Some(country)) = (
            shared::testing::shared_data("geoip/GeoLite2-City-Test.mmdb"),
            shared::testing::shared_data("geoip/GeoLite2-Country-Test.mmdb"),
        ) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("geo.mmdb");
        std::fs::copy(&city, &path).unwrap();
        let source = GeoSource::open(&path).unwrap();
        assert_eq!(source.current().unwrap().kind(), "GeoLite2-City");
        let swap = |from: &Path, age: u64| {
            std::fs::copy(from, dir.path().join("new")).unwrap();
            let f = std::fs::File::options()
                .write(true)
                .open(dir.path().join("new"))
                .unwrap();
            f.set_modified(SystemTime::now() + std::time::Duration::from_secs(age))
                .unwrap();
            std::fs::rename(dir.path().join("new"), &path).unwrap();
        };
        swap(&country, 10);
        assert_eq!(source.current().unwrap().kind(), "GeoLite2-Country");
        std::fs::write(dir.path().join("broken"), b"not a database").unwrap();
        swap(&dir.path().join("broken"), 20);
        assert_eq!(
            source.current().unwrap().kind(),
            "GeoLite2-Country",
            "the last good database stays"
        );
        assert!(GeoSource::open(&dir.path().join("missing")).is_err());
    }
}
