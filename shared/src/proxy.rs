//! Whose word to take for the client's address. A peer inside a trusted proxy's network is
//! asked for exactly one header, the one that proxy is configured to set; its lines are
//! combined in order (HAProxy appends a line of its own), and the entries are walked from the
//! right past the trusted proxies' own addresses to the first that is not one of them: the
//! client. An entry there that is not an address (`unknown`, an obfuscated `_hidden`) means
//! the address is not known; it is never walked past to whatever the client wrote before it.

use crate::net::unmapped;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// The header a proxy sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardHeader {
    /// `X-Forwarded-For: client, proxy1, ...` (the default).
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for=proxy1`.
    Forwarded,
    /// Cloudflare's `CF-Connecting-IP: client`.
    CfConnectingIp,
    /// nginx's customary `X-Real-IP: client`.
    XRealIp,
}

impl ForwardHeader {
    fn name(self) -> &'static str {
        match self {
            ForwardHeader::XForwardedFor => "x-forwarded-for",
            ForwardHeader::Forwarded => "forwarded",
            ForwardHeader::CfConnectingIp => "cf-connecting-ip",
            ForwardHeader::XRealIp => "x-real-ip",
        }
    }
}

/// A trusted proxy: its network and the one header it sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxy {
    pub net: IpNet,
    pub header: ForwardHeader,
}

/// `NET[=HEADER]`: a CIDR or a bare address, and `x-forwarded-for` (the default),
/// `forwarded`, `cf-connecting-ip` or `x-real-ip`.
pub fn parse_trusted(text: &str) -> Result<TrustedProxy, String> {
    let (net, header) = match text.split_once('=') {
        Some((n, h)) => (n.trim(), Some(h.trim())),
        None => (text.trim(), None),
    };
    let net = net
        .parse::<IpNet>()
        .or_else(|_| net.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{net:?} is not an address or a network (CIDR)"))?;
    let header = match header.map(str::to_ascii_lowercase).as_deref() {
        None | Some("x-forwarded-for") => ForwardHeader::XForwardedFor,
        Some("forwarded") => ForwardHeader::Forwarded,
        Some("cf-connecting-ip") => ForwardHeader::CfConnectingIp,
        Some("x-real-ip") => ForwardHeader::XRealIp,
        Some(other) => {
            return Err(format!(
                "{other:?} is not a header a proxy sets here (x-forwarded-for, forwarded, cf-connecting-ip, x-real-ip)"
            ))
        }
    };
    Ok(TrustedProxy {
        net: net.trunc(),
        header,
    })
}

/// The client's address: the peer's, or what the trusted proxy it is says; `None` when a
/// trusted proxy says it does not know.
pub fn client_ip(
    peer: SocketAddr,
    headers: &http::HeaderMap,
    trusted: &[TrustedProxy],
) -> Option<IpAddr> {
    let peer_ip = unmapped(peer.ip());
    let Some(proxy) = trusted.iter().find(|t| t.net.contains(&peer_ip)) else {
        return Some(peer_ip);
    };
    let is_proxy = |ip: &IpAddr| trusted.iter().any(|t| t.net.contains(ip));
    // Every line of the one header, in order, as one list.
    let mut entries: Vec<&str> = Vec::new();
    for line in headers.get_all(proxy.header.name()) {
        let line = line.to_str().ok()?;
        match proxy.header {
            ForwardHeader::XForwardedFor | ForwardHeader::Forwarded => {
                entries.extend(line.split(','))
            }
            ForwardHeader::CfConnectingIp | ForwardHeader::XRealIp => entries.push(line),
        }
    }
    let mut last = None;
    for entry in entries.iter().rev() {
        let value = match proxy.header {
            ForwardHeader::Forwarded => forwarded_for(entry)?,
            _ => entry.trim(),
        };
        let ip = unmapped(node(value)?);
        if !is_proxy(&ip) {
            return Some(ip);
        }
        last = Some(ip);
    }
    // Only proxies: the first of them is where the request came from.
    last
}

/// The `for` parameter of one `Forwarded` element (parameter names are case-insensitive).
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// An address as proxies write it: bare, `[v6]`, `[v6]:port` or `v4:port`.
fn node(value: &str) -> Option<IpAddr> {
    let value = value.trim();
    if let Ok(ip) = value.parse() {
        return Some(ip);
    }
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let (host, port) = value.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> Vec<TrustedProxy> {
        list.iter().map(|t| parse_trusted(t).unwrap()).collect()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn headers(lines: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in lines {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_the_configured_header_of_a_trusted_peer_counts() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let proxy: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        let outsider: SocketAddr = "203.0.113.1:5000".parse().unwrap();
        let h = headers(&[
            ("cf-connecting-ip", "192.0.2.1"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(client_ip(outsider, &h, &trusted), ip("203.0.113.1"));
        assert_eq!(client_ip(proxy, &h, &trusted), ip("198.51.100.7"));
        let cf = proxies(&["10.0.0.0/8=cf-connecting-ip"]);
        assert_eq!(client_ip(proxy, &h, &cf), ip("192.0.2.1"));
        // Header lines combined in order: HAProxy's own line comes last.
        let h = headers(&[
            ("x-forwarded-for", "192.0.2.1, 192.0.2.2"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(client_ip(proxy, &h, &trusted), ip("198.51.100.7"));
        // Walked past the proxies' own addresses, not past an unknown one.
        let h = headers(&[("x-forwarded-for", "192.0.2.1, 198.51.100.7, 10.9.9.9")]);
        assert_eq!(client_ip(proxy, &h, &trusted), ip("198.51.100.7"));
        for hidden in [
            "192.0.2.1, unknown",
            "192.0.2.1, _hidden",
            "192.0.2.1, not an ip",
        ] {
            let h = headers(&[("x-forwarded-for", hidden)]);
            assert_eq!(client_ip(proxy, &h, &trusted), None, "{hidden}");
        }
        assert_eq!(client_ip(proxy, &http::HeaderMap::new(), &trusted), None);
        let h = headers(&[("x-forwarded-for", "[2001:db8::5]:443, 198.51.100.9:1234")]);
        assert_eq!(client_ip(proxy, &h, &trusted), ip("198.51.100.9"));
    }

    #[test]
    fn forwarded_as_rfc_7239_writes_it() {
        let trusted = proxies(&["10.0.0.0/8=forwarded"]);
        let proxy: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        let h = headers(&[
            ("forwarded", "for=192.0.2.1"),
            (
                "forwarded",
                "FOR=\"[2001:db8::5]:443\";proto=https, For=10.0.0.7",
            ),
            ("x-forwarded-for", "192.0.2.99"),
        ]);
        assert_eq!(client_ip(proxy, &h, &trusted), ip("2001:db8::5"));
        let h = headers(&[("forwarded", "for=192.0.2.1, for=_hidden")]);
        assert_eq!(client_ip(proxy, &h, &trusted), None);
    }

    #[test]
    fn trusted_proxies_as_written_on_the_command_line() {
        assert_eq!(
            parse_trusted("192.0.2.7").unwrap(),
            TrustedProxy {
                net: "192.0.2.7/32".parse().unwrap(),
                header: ForwardHeader::XForwardedFor
            }
        );
        assert_eq!(
            parse_trusted("2001:db8::/32=Forwarded").unwrap().header,
            ForwardHeader::Forwarded
        );
        assert!(parse_trusted("10.0.0.0/8=via")
            .unwrap_err()
            .contains("not a header"));
        assert!(parse_trusted("proxy.example")
            .unwrap_err()
            .contains("not an address"));
    }
}
