//! A fallback for mirrors the snapshot does not place (the checker places every mirror it
//! reaches, by the registry or the GeoIP location of the address it reached): the GeoIP
//! location of the address the mirror's host name resolves to, here. Resolution happens in the background, never on the load
//! or request path; what is learnt is kept across snapshots and applied when a snapshot is
//! indexed, and the snapshot in use is re-indexed when something new is learnt.

use crate::geoip::GeoDb;
use shared::snapshot::Snapshot;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

/// Where a host's address is: a country [`shared::geo::code`] (0: unknown) and coordinates
/// (the country's centroid when the database has none).
type Place = (u16, Option<(f64, f64)>);

/// Host name → place (`None`: looked up, nothing found).
#[derive(Debug, Default)]
pub struct HostPlaces(Mutex<HashMap<String, Option<Place>>>);

/// The host a mirror is reached at: that of its first URL.
pub fn host_of(m: &shared::snapshot::SnapMirror) -> Option<String> {
    let url = m.urls.values().next()?;
    let parsed = url::Url::parse(url).ok()?;
    parsed.host_str().map(str::to_string)
}

impl HostPlaces {
    /// Fills the country and coordinates of mirrors that have none from what is known.
    pub fn apply(&self, snap: &mut Snapshot) -> usize {
        let known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut filled = 0;
        for m in &mut snap.mirrors {
            if m.latitude.is_some() && m.longitude.is_some() {
                continue;
            }
            let Some(Some((country, at))) = host_of(m).and_then(|h| known.get(&h).copied()) else {
                continue;
            };
            if m.country.is_none() {
                if let Some(text) = shared::geo::code_text(country) {
                    m.continent = shared::geo::continent_of(&text).map(str::to_string);
                    m.country = Some(text);
                }
            }
            if let Some((lat, lon)) = at {
                (m.latitude, m.longitude) = (Some(lat), Some(lon));
            }
            filled += 1;
        }
        filled
    }

    /// Hosts of `snap`'s mirrors without coordinates that were never looked up.
    pub fn unknown_hosts(&self, snap: &Snapshot) -> Vec<String> {
        let known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut hosts: Vec<String> = snap
            .mirrors
            .iter()
            .filter(|m| m.latitude.is_none() || m.longitude.is_none())
            .filter_map(host_of)
            .filter(|h| !known.contains_key(h))
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }

    /// Resolves `hosts` (at most 16 at a time, each given `timeout`) and places their first
    /// address with `geo`. Returns how many were placed.
    pub async fn learn<F, Fut>(
        &self,
        hosts: Vec<String>,
        geo: &GeoDb,
        resolve: F,
        timeout: Duration,
    ) -> usize
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Option<IpAddr>>,
    {
        use futures_util::StreamExt;
        let found: Vec<(String, Option<Place>)> = futures_util::stream::iter(hosts)
            .map(|h| {
                let lookup = resolve(h.clone());
                async move {
                    let ip = tokio::time::timeout(timeout, lookup).await.ok().flatten();
                    let at = ip.and_then(|ip| geo.lookup(ip)).map(|l| {
                        let at = l
                            .coordinates()
                            .or_else(|| shared::geo::centroid_of_code(l.country));
                        (l.country, at)
                    });
                    (h, at)
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let mut known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut placed = 0;
        for (h, at) in found {
            placed += usize::from(at.is_some());
            known.insert(h, at);
        }
        placed
    }
}

/// The system resolver (getaddrinfo, off the async threads).
pub async fn system_resolve(host: String) -> Option<IpAddr> {
    let mut addrs = tokio::net::lookup_host((host.as_str(), 443)).await.ok()?;
    addrs.next().map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::registry::Protocol;
    use shared::snapshot::SnapMirror;
    use shared::testing::shared_data;

    fn mirror(host: &str, coords: Option<(f64, f64)>) -> SnapMirror {
        SnapMirror {
            name: host.into(),
            country: Some("GB".into()),
            continent: Some("EU".into()),
            latitude: coords.map(|c| c.0),
            longitude: coords.map(|c| c.1),
            bandwidth_mbps: None,
            private: false,
            monopoly: false,
            asns: vec![],
            subnets: vec![],
            countries_allowed: vec![],
            urls: [(Protocol::Https, format!("https://{host}/almalinux/"))].into(),
            module_urls: Default::default(),
            ipv4: true,
            ipv6: false,
            ..SnapMirror::default()
        }
    }

    #[tokio::test]
    async fn mirrors_without_coordinates_are_placed_by_their_hosts_address() {
        let Some(city) = shared_data("geoip/GeoLite2-City-Test.mmdb") else {
            return;
        };
        let geo = GeoDb::open(&city).unwrap();
        let catalog =
            shared::catalog::Catalog::load(&shared::testing::example("catalog.toml")).unwrap();
        let input = shared::testing::all_current_input(catalog, vec![], |_| None);
        let mut snap = shared::snapshot::build(&input, 1, 0, "test");
        snap.mirrors = vec![
            mirror("london.example.org", None),
            mirror("nowhere.example.org", None),
            mirror("placed.example.org", Some((1.0, 2.0))),
        ];
        let located = HostPlaces::default();
        let hosts = located.unknown_hosts(&snap);
        assert_eq!(hosts, vec!["london.example.org", "nowhere.example.org"]);
        // A resolver standing in for DNS: London's test address, and a name that hangs.
        let resolve = |h: String| async move {
            if h.starts_with("london") {
                Some("81.2.69.142".parse().unwrap())
            } else {
                std::future::pending().await
            }
        };
        let placed = located
            .learn(hosts, &geo, resolve, Duration::from_millis(200))
            .await;
        assert_eq!(placed, 1);
        assert!(
            located.unknown_hosts(&snap).is_empty(),
            "both were looked up"
        );
        assert_eq!(located.apply(&mut snap), 1);
        let london = &snap.mirrors[0];
        let (lat, lon) = (london.latitude.unwrap(), london.longitude.unwrap());
        assert!((lat - 51.5).abs() < 0.5 && lon.abs() < 0.5, "{lat} {lon}");
        assert_eq!(snap.mirrors[1].latitude, None);
        let mut unplaced = snap.clone();
        unplaced.mirrors[0] = SnapMirror {
            country: None,
            continent: None,
            ..mirror("london.example.org", None)
        };
        located.apply(&mut unplaced);
        assert_eq!(
            (
                unplaced.mirrors[0].country.as_deref(),
                unplaced.mirrors[0].continent.as_deref()
            ),
            (Some("GB"), Some("EU")),
            "a mirror with no country gets its address's"
        );
        assert_eq!(
            snap.mirrors[2].latitude,
            Some(1.0),
            "registry coordinates win"
        );
    }
}
