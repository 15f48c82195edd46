//! Countries and continents: validation of registry country codes and the continent each
//! country belongs to (the server's "rest of the continent" tier needs it).

use crate::countries::COUNTRIES;

/// Continent codes as MaxMind uses them.
pub const CONTINENTS: &[(&str, &str)] = &[
    ("AF", "Africa"),
    ("AN", "Antarctica"),
    ("AS", "Asia"),
    ("EU", "Europe"),
    ("NA", "North America"),
    ("OC", "Oceania"),
    ("SA", "South America"),
];

fn lookup(code: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    COUNTRIES
        .binary_search_by(|(c, _, _)| (*c).cmp(code))
        .ok()
        .map(|i| &COUNTRIES[i])
}

/// Every ISO 3166-1 alpha-2 code, sorted.
pub fn country_codes() -> impl Iterator<Item = &'static str> {
    COUNTRIES.iter().map(|(code, _, _)| *code)
}

/// True when `code` is an upper-case ISO 3166-1 alpha-2 code.
pub fn is_country_code(code: &str) -> bool {
    lookup(code).is_some()
}

/// The continent code of an ISO 3166-1 alpha-2 country code.
pub fn continent_of(country: &str) -> Option<&'static str> {
    lookup(country).map(|(_, continent, _)| *continent)
}

/// The point a country's mirrors and clients are placed at when nothing gives coordinates:
/// `data/country-centroids.csv`, shipped with the project (its source is written at its top
/// and in `scripts/country-centroids`, which writes it).
pub fn centroid(country: &str) -> Option<(f64, f64)> {
    centroid_of_code(code(country))
}

/// [`centroid`] of a country [`code`], with no allocation (the server places clients with it).
pub fn centroid_of_code(country: u16) -> Option<(f64, f64)> {
    static TABLE: std::sync::OnceLock<std::collections::HashMap<u16, (f64, f64)>> =
        std::sync::OnceLock::new();
    TABLE
        .get_or_init(|| parse_centroids(include_str!("../data/country-centroids.csv")))
        .get(&country)
        .copied()
}

fn parse_centroids(text: &str) -> std::collections::HashMap<u16, (f64, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut f = l.split(',');
            let country = code(f.next()?.trim());
            let lat = f.next()?.trim().parse().ok()?;
            let lon = f.next()?.trim().parse().ok()?;
            Some((country, (lat, lon)))
        })
        .collect()
}

/// A country or continent code (two ASCII letters) as one integer, as the server compares
/// them on its request path; 0 for anything else.
pub fn code(text: &str) -> u16 {
    match text.as_bytes() {
        [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            u16::from_be_bytes([a.to_ascii_uppercase(), b.to_ascii_uppercase()])
        }
        _ => 0,
    }
}

/// The text of a [`code`]; `None` for 0.
pub fn code_text(code: u16) -> Option<String> {
    let [a, b] = code.to_be_bytes();
    (code != 0).then(|| String::from_utf8_lossy(&[a, b]).into_owned())
}

/// The continent [`code`] of a country [`code`]; 0 when unknown. No allocation: the server
/// calls it on its request path.
pub fn continent_of_code(country: u16) -> u16 {
    let [a, b] = country.to_be_bytes();
    std::str::from_utf8(&[a, b])
        .ok()
        .and_then(continent_of)
        .map_or(0, code)
}

/// The English short name of a country code.
pub fn country_name(country: &str) -> Option<&'static str> {
    lookup(country).map(|(_, _, name)| *name)
}

/// How a registry's country value was understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountryMatch {
    /// Already an ISO code (any case is accepted and upper-cased).
    Code(&'static str),
    /// Not a code but unambiguous: a country name or a well-known alias such as "UK".
    Normalized(&'static str),
    /// Nothing we recognise.
    Unknown,
}

/// Understands a country as operators write it: "DE", "de", "Germany", "UK".
pub fn match_country(raw: &str) -> CountryMatch {
    let trimmed = raw.trim();
    let upper = trimmed.to_ascii_uppercase();
    if let Some((code, _, _)) = lookup(&upper) {
        return if *code == trimmed {
            CountryMatch::Code(code)
        } else {
            CountryMatch::Normalized(code)
        };
    }
    const ALIASES: &[(&str, &str)] = &[
        ("UK", "GB"),
        ("GREAT BRITAIN", "GB"),
        ("ENGLAND", "GB"),
        ("USA", "US"),
        ("UNITED STATES OF AMERICA", "US"),
        ("RUSSIA", "RU"),
        ("TURKEY", "TR"),
        ("SOUTH KOREA", "KR"),
        ("KOREA", "KR"),
        ("IRAN", "IR"),
        ("VIETNAM", "VN"),
        ("CZECHIA", "CZ"),
        ("CZECH REPUBLIC", "CZ"),
        ("TAIWAN", "TW"),
        ("MOLDOVA", "MD"),
        ("HOLLAND", "NL"),
    ];
    if let Some((_, code)) = ALIASES.iter().find(|(alias, _)| *alias == upper) {
        return CountryMatch::Normalized(lookup(code).map(|c| c.0).unwrap_or("GB"));
    }
    COUNTRIES
        .iter()
        .find(|(_, _, name)| name.eq_ignore_ascii_case(trimmed))
        .map_or(CountryMatch::Unknown, |(code, _, _)| {
            CountryMatch::Normalized(code)
        })
}

/// Mean radius of the Earth.
pub const EARTH_RADIUS_KM: f64 = 6371.0;

/// Great-circle distance in kilometres between two (latitude, longitude) points in degrees.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        use crate::testing::AllOf;
        assert!(COUNTRIES.windows(2).all_of(|w| w[0].0 < w[1].0));
        assert!(COUNTRIES.len() >= 249);
        for (_, continent, _) in COUNTRIES {
            assert!(
                CONTINENTS.iter().any(|(c, _)| c == continent),
                "{continent}"
            );
        }
    }

    #[test]
    fn matches_as_operators_write_countries() {
        let cases = [
            ("DE", CountryMatch::Code("DE")),
            ("de", CountryMatch::Normalized("DE")),
            (" US ", CountryMatch::Code("US")),
            ("us", CountryMatch::Normalized("US")),
            ("Germany", CountryMatch::Normalized("DE")),
            ("Australia", CountryMatch::Normalized("AU")),
            ("UK", CountryMatch::Normalized("GB")),
            ("Turkey", CountryMatch::Normalized("TR")),
            ("XX", CountryMatch::Unknown),
            ("Atlantis", CountryMatch::Unknown),
            ("", CountryMatch::Unknown),
        ];
        for (raw, expected) in cases {
            assert_eq!(match_country(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn continents_and_distances() {
        assert_eq!(continent_of("DE"), Some("EU"));
        assert_eq!(continent_of("BR"), Some("SA"));
        assert_eq!(continent_of("ZZ"), None);
        // Berlin to Paris is about 878 km.
        let d = distance_km((52.52, 13.405), (48.8566, 2.3522));
        assert!((d - 878.0).abs() < 10.0, "{d}");
        assert_eq!(distance_km((10.0, 10.0), (10.0, 10.0)), 0.0);
    }
}
