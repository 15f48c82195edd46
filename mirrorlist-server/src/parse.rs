//! The first step of a request: its query parameters, as MirrorManager has them, checked and
//! reduced to what the later steps compare (country codes, a protocol mask).

use crate::refusal::Refusal;
use shared::snapshot::{HTTP, HTTPS};
use std::borrow::Cow;

/// Queries longer than this are refused; real ones are under 200 bytes.
pub const MAX_QUERY: usize = 2048;

/// The parameters a metalink or mirrorlist request may carry.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub repo: Option<String>,
    pub arch: Option<String>,
    /// Countries asked for (`country=DE,FR`), as [`shared::geo::code`]s.
    pub countries: Vec<u16>,
    /// `country=global`: no country preference.
    pub global: bool,
    /// [`HTTP`] | [`HTTPS`] asked for (`protocol=https`); both when none is named.
    pub protocols: u8,
    /// `netblock=0` turns netblock and ASN matching off.
    pub netblock: bool,
    pub redirect: bool,
    pub ip: Option<String>,
    /// The countme bucket (1 to 4) when a valid one was sent.
    pub countme: Option<u8>,
    pub path: Option<String>,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            repo: None,
            arch: None,
            countries: Vec::new(),
            global: false,
            protocols: HTTP | HTTPS,
            netblock: true,
            redirect: false,
            ip: None,
            countme: None,
            path: None,
        }
    }
}

/// Parses a query string, refusing what no client sends.
pub fn query(query: Option<&str>) -> Result<Params, Refusal> {
    let query = query.unwrap_or("");
    if query.len() > MAX_QUERY {
        return Err(Refusal::bad_request(format!(
            "error: the query is longer than {MAX_QUERY} bytes"
        )));
    }
    // First occurrence wins; a handful of parameters, so a list beats a map.
    let mut seen: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::with_capacity(8);
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if value.chars().any(char::is_control) {
            return Err(Refusal::bad_request(format!(
                "error: parameter {key} holds control characters"
            )));
        }
        if !seen.iter().any(|(k, _)| *k == key) {
            seen.push((key, value));
        }
    }
    let get = |name: &str| {
        seen.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    };
    let list = |v: Option<&str>| -> Vec<String> {
        v.map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
    };
    let mut params = Params {
        repo: get("repo").map(str::to_string),
        arch: get("arch").map(str::to_string),
        netblock: get("netblock").is_none_or(|v| v != "0"),
        redirect: get("redirect").is_some_and(|v| v != "0"),
        ip: get("ip").map(str::to_string),
        countme: get("countme").and_then(|v| v.parse().ok().filter(|b| (1..=4).contains(b))),
        path: get("path").map(str::to_string),
        ..Params::default()
    };
    let protocols = list(get("protocol"));
    if !protocols.is_empty() {
        params.protocols = 0;
    }
    for p in protocols {
        params.protocols |= match p.to_ascii_lowercase().as_str() {
            "http" => HTTP,
            "https" => HTTPS,
            _ => {
                return Err(Refusal::bad_request(format!(
                    "error: unknown protocol {p:?} (http, https)"
                )))
            }
        };
    }
    for c in list(get("country")) {
        use shared::geo::CountryMatch;
        if c.eq_ignore_ascii_case("global") {
            params.global = true;
            continue;
        }
        let code = match shared::geo::match_country(&c) {
            CountryMatch::Code(code) | CountryMatch::Normalized(code) => shared::geo::code(code),
            CountryMatch::Unknown => {
                return Err(Refusal::bad_request(format!(
                    "error: unknown country {c:?} (an ISO 3166 code such as DE, a name, or global)"
                )))
            }
        };
        if !params.countries.contains(&code) {
            params.countries.push(code);
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::geo::code;

    #[test]
    fn parameters() {
        let p = query(Some(
            "repo=baseos-9&arch=x86_64&country=de,FR&protocol=https&netblock=0&countme=2",
        ))
        .unwrap();
        assert_eq!(p.repo.as_deref(), Some("baseos-9"));
        assert_eq!(p.countries, vec![code("DE"), code("FR")]);
        assert_eq!(p.protocols, HTTPS);
        assert!(!p.netblock && !p.redirect && !p.global);
        assert_eq!(p.countme, Some(2));
        assert_eq!(query(Some("countme=9")).unwrap().countme, None);
        let global = query(Some("repo=x&country=global")).unwrap();
        assert!(global.global && global.countries.is_empty());
        assert_eq!(
            query(Some("country=uk,Germany,GB")).unwrap().countries,
            vec![code("GB"), code("DE")],
            "the importer's aliases and names, each country once"
        );
        for bad in ["protocol=gopher", "country=XX", "repo=a%0Ab"] {
            assert!(query(Some(bad)).is_err(), "{bad}");
        }
        assert!(query(Some(&"a".repeat(MAX_QUERY + 1)))
            .unwrap_err()
            .message
            .contains("longer than"));
        assert_eq!(query(None).unwrap(), Params::default());
        assert_eq!(Params::default().protocols, HTTP | HTTPS);
    }

    proptest::proptest! {
        /// Whatever a client sends, parsing answers (never panics) and a refusal is a 400.
        #[test]
        fn any_query_is_parsed_or_refused(query in proptest::prelude::any::<String>()) {
            if let Err(r) = super::query(Some(&query)) {
                proptest::prop_assert_eq!(r.status, http::StatusCode::BAD_REQUEST);
            }
        }

        /// What a well-formed query says is what the later steps get.
        #[test]
        fn well_formed_queries_say_what_they_mean(
            repo in "[a-z][a-z0-9-]{0,20}",
            arch in "[a-z0-9_]{1,10}",
            countries in proptest::collection::vec(proptest::sample::select(vec!["DE", "fr", "Us", "JP", "br"]), 0..4),
            https_only in proptest::prelude::any::<bool>(),
            netblock in proptest::prelude::any::<bool>(),
            bucket in 0u8..7,
        ) {
            let mut q = format!("repo={repo}&arch={arch}&countme={bucket}");
            if !countries.is_empty() {
                q.push_str(&format!("&country={}", countries.join(",")));
            }
            if https_only {
                q.push_str("&protocol=https");
            }
            if !netblock {
                q.push_str("&netblock=0");
            }
            let p = super::query(Some(&q)).unwrap();
            proptest::prop_assert_eq!(p.repo.as_deref(), Some(repo.as_str()));
            proptest::prop_assert_eq!(p.arch.as_deref(), Some(arch.as_str()));
            let mut codes: Vec<u16> = Vec::new();
            for c in countries.iter().map(|c| code(c)) {
                if !codes.contains(&c) {
                    codes.push(c);
                }
            }
            proptest::prop_assert_eq!(p.countries, codes);
            proptest::prop_assert_eq!(p.protocols, if https_only { HTTPS } else { HTTP | HTTPS });
            proptest::prop_assert_eq!(p.netblock, netblock);
            proptest::prop_assert_eq!(p.countme, (1..=4).contains(&bucket).then_some(bucket));
        }
    }
}
