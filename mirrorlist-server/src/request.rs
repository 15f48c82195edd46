//! Reading a request: its query parameters (as MirrorManager has them) and the client's
//! address, which proxy headers may tell only when the peer is a trusted proxy.

use ipnet::IpNet;
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

/// Queries longer than this are refused; real ones are under 200 bytes.
pub const MAX_QUERY: usize = 2048;

/// The parameters a metalink or mirrorlist request may carry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    pub repo: Option<String>,
    pub arch: Option<String>,
    /// Countries asked for (`country=DE,FR`); `global` means no country preference.
    pub countries: Vec<String>,
    /// `http`, `https` (empty: both).
    pub protocols: Vec<String>,
    /// `netblock=0` turns netblock and ASN matching off.
    pub netblock: bool,
    pub redirect: bool,
    pub ip: Option<String>,
    pub countme: Option<String>,
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

/// Parses a query string, refusing what no client sends.
pub fn parse_query(query: Option<&str>) -> Result<Params, BadRequest> {
    let query = query.unwrap_or("");
    if query.len() > MAX_QUERY {
        return Err(BadRequest(format!(
            "error: the query is longer than {MAX_QUERY} bytes"
        )));
    }
    // First occurrence wins; a handful of parameters, so a list beats a map.
    let mut seen: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::with_capacity(8);
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if value.chars().any(char::is_control) {
            return Err(BadRequest(format!(
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
    let params = Params {
        repo: get("repo").map(str::to_string),
        arch: get("arch").map(str::to_string),
        countries: list(get("country"))
            .into_iter()
            .map(|c| c.to_ascii_uppercase())
            .collect(),
        protocols: list(get("protocol"))
            .into_iter()
            .map(|p| p.to_ascii_lowercase())
            .collect(),
        netblock: get("netblock").is_none_or(|v| v != "0"),
        redirect: get("redirect").is_some_and(|v| v != "0"),
        ip: get("ip").map(str::to_string),
        countme: get("countme").map(str::to_string),
        path: get("path").map(str::to_string),
    };
    for p in &params.protocols {
        if p != "http" && p != "https" {
            return Err(BadRequest(format!(
                "error: unknown protocol {p:?} (http, https)"
            )));
        }
    }
    for c in &params.countries {
        if c != "GLOBAL" && !shared::geo::is_country_code(c) {
            return Err(BadRequest(format!(
                "error: unknown country {c:?} (an ISO 3166 code, or global)"
            )));
        }
    }
    Ok(params)
}

/// The client's address: the peer, or what a trusted proxy says it forwarded for.
pub fn client_ip(peer: SocketAddr, headers: &http::HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer_ip = peer.ip();
    if !trusted.iter().any(|n| n.contains(&peer_ip)) {
        return peer_ip;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ip) = header("cf-connecting-ip").and_then(|v| v.trim().parse().ok()) {
        return ip;
    }
    // The last address a proxy appended that is not itself one of ours.
    if let Some(xff) = header("x-forwarded-for") {
        for part in xff.rsplit(',') {
            if let Ok(ip) = part.trim().parse::<IpAddr>() {
                if !trusted.iter().any(|n| n.contains(&ip)) {
                    return ip;
                }
            }
        }
    }
    if let Some(fwd) = header("forwarded") {
        for element in fwd.rsplit(',') {
            for pair in element.split(';') {
                if let Some(value) = pair
                    .trim()
                    .strip_prefix("for=")
                    .or_else(|| pair.trim().strip_prefix("For="))
                {
                    let value = value.trim_matches('"');
                    let host = value
                        .strip_prefix('[')
                        .and_then(|v| v.split(']').next())
                        .unwrap_or(value);
                    let host = if host.matches(':').count() == 1 {
                        host.split(':').next().unwrap_or(host)
                    } else {
                        host
                    };
                    if let Ok(ip) = host.parse::<IpAddr>() {
                        if !trusted.iter().any(|n| n.contains(&ip)) {
                            return ip;
                        }
                    }
                }
            }
        }
    }
    peer_ip
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters() {
        let p = parse_query(Some(
            "repo=baseos-9&arch=x86_64&country=de,FR&protocol=https&netblock=0&countme=2",
        ))
        .unwrap();
        assert_eq!(p.repo.as_deref(), Some("baseos-9"));
        assert_eq!(p.countries, vec!["DE", "FR"]);
        assert_eq!(p.protocols, vec!["https"]);
        assert!(!p.netblock && !p.redirect);
        assert_eq!(p.countme.as_deref(), Some("2"));
        assert_eq!(
            parse_query(Some("repo=x&country=global"))
                .unwrap()
                .countries,
            vec!["GLOBAL"]
        );
        for bad in ["protocol=gopher", "country=XX", "repo=a%0Ab"] {
            assert!(parse_query(Some(bad)).is_err(), "{bad}");
        }
        assert!(parse_query(Some(&"a".repeat(MAX_QUERY + 1)))
            .unwrap_err()
            .0
            .contains("longer than"));
        assert_eq!(
            parse_query(None).unwrap(),
            Params {
                netblock: true,
                ..Params::default()
            }
        );
    }

    #[test]
    fn proxy_headers_only_from_trusted_peers() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut headers = http::HeaderMap::new();
        headers.insert("x-forwarded-for", "198.51.100.7, 10.0.0.9".parse().unwrap());
        let outsider: SocketAddr = "203.0.113.1:5000".parse().unwrap();
        let proxy: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        assert_eq!(
            client_ip(outsider, &headers, &trusted),
            "203.0.113.1".parse::<IpAddr>().unwrap(),
            "anyone else's header is ignored"
        );
        assert_eq!(
            client_ip(proxy, &headers, &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        let mut fwd = http::HeaderMap::new();
        fwd.insert(
            "forwarded",
            "for=\"[2001:db8::5]:443\";proto=https".parse().unwrap(),
        );
        assert_eq!(
            client_ip(proxy, &fwd, &trusted),
            "2001:db8::5".parse::<IpAddr>().unwrap()
        );
        let mut cf = http::HeaderMap::new();
        cf.insert("cf-connecting-ip", "192.0.2.44".parse().unwrap());
        assert_eq!(
            client_ip(proxy, &cf, &trusted),
            "192.0.2.44".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(proxy, &http::HeaderMap::new(), &trusted),
            proxy.ip()
        );
    }
}
