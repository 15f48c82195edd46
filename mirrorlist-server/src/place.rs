//! Placing the client: its address (the peer's, or what a trusted proxy forwarded), then
//! where it is (country, continent, coordinates from GeoIP; its ASN), reduced to integer
//! codes for the choice. The `country` parameter overrides GeoIP.

use crate::parse::Params;
use crate::respond::Refusal;
use crate::select::Client;
use crate::state::{AppState, View};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// Where the client of a request is, as far as the databases in `view` know.
pub fn place(
    state: &AppState,
    view: &View,
    peer: SocketAddr,
    headers: &http::HeaderMap,
    params: &Params,
) -> Result<Client, Refusal> {
    let settings = state.settings();
    let mut ip = client_ip(peer, headers, &settings.trusted_proxies);
    if let Some(given) = &params.ip {
        if settings.allow_ip_param {
            ip = given.parse().map_err(|_| {
                Refusal::bad_request(format!("error: ip={given} is not an address"))
            })?;
        }
    }
    let mut c = Client {
        ip: Some(ip),
        skip_networks: !params.netblock,
        ..Client::default()
    };
    match view.geo.as_ref().and_then(|g| g.lookup(ip)) {
        Some(loc) => {
            // A country without coordinates: its centroid.
            c.coordinates = loc
                .coordinates()
                .or_else(|| shared::geo::centroid_of_code(loc.country));
            c.country = loc.country;
            c.continent = loc.continent;
        }
        None => state.metrics().geoip_misses.inc(),
    }
    c.asn = view.asn.as_ref().and_then(|a| a.lookup(ip));
    c.cloud = view.cloud.as_ref().and_then(|r| r.lookup(ip)).cloned();
    if let Some((&country, also)) = params.countries.split_first() {
        c.country = country;
        c.also = also.to_vec();
        c.continent = shared::geo::continent_of_code(country);
        c.coordinates = None;
    } else if params.global {
        (c.country, c.continent, c.coordinates) = (0, 0, None);
        c.global = true;
    }
    Ok(c)
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
