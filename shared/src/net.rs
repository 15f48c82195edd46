//! Which addresses are internal: never a mirror's, never somewhere the checker goes unless a
//! test network is explicitly allowed.

use ipnet::{IpNet, Ipv4Net};
use std::net::{IpAddr, Ipv4Addr};

/// Loopback, private (RFC 1918, unique-local), shared (CGNAT), link-local, multicast,
/// broadcast, unspecified, benchmarking and documentation ranges, and the IPv6 forms that
/// carry such an IPv4 address (mapped, compatible, NAT64, 6to4).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let [b0, b1, b2, _] = a.octets();
            a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_multicast()
                || a.is_broadcast()
                || a.is_unspecified()
                || a.is_documentation()
                || b0 == 0
                || (b0 == 100 && (64..128).contains(&b1))
                || (b0 == 198 && (18..20).contains(&b1))
                || (b0 == 192 && b1 == 0 && b2 == 0)
                || b0 >= 240
        }
        IpAddr::V6(a) => {
            if let Some(v4) = embedded_v4_addr(a) {
                return is_internal(IpAddr::V4(v4));
            }
            let s = a.segments();
            a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x2001 && s[1] < 0x200)
                || s[0] == 0x0100 && s[1..4] == [0, 0, 0]
        }
    }
}

/// The IPv4 address an IPv6 address carries: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`, and the local-use
/// `64:ff9b:1::/48`) and 6to4 (`2002:aabb:ccdd::/48`).
pub fn embedded_v4_addr(a: std::net::Ipv6Addr) -> Option<Ipv4Addr> {
    let s = a.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if let Some(v4) = a.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && (s[6] != 0 || s[7] > 1) {
        return Some(v4(s[6], s[7]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..3] == [0x64, 0xff9b, 1] {
        return Some(v4(s[6], s[7]));
    }
    (s[0] == 0x2002).then(|| v4(s[1], s[2]))
}

/// The IPv4 network an IPv6 network stands for, when it lies inside one of the forms that
/// embed IPv4 ([`embedded_v4_addr`]): `::ffff:0.0.0.0/96` is all of IPv4, `2002::/16` too.
pub fn embedded_v4(net: &IpNet) -> Option<Ipv4Net> {
    let IpNet::V6(n) = net else { return None };
    let offset = match n.network().segments() {
        [0, 0, 0, 0, 0, 0xffff, ..] => 96,
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => 96,
        [0x2002, ..] => 16,
        _ => return None,
    };
    let len = n.prefix_len().checked_sub(offset)?.min(32);
    let v4 = embedded_v4_addr(n.network())?;
    Ipv4Net::new(v4, len).ok().map(|n| n.trunc())
}

/// An IPv4-mapped IPv6 address as the IPv4 address it stands for; any other as it is.
pub fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Internal and not in `allowed`.
pub fn is_forbidden(ip: IpAddr, allowed: &[IpNet]) -> bool {
    let ip = unmapped(ip);
    is_internal(ip) && !allowed.iter().any(|n| n.contains(&ip))
}

/// This machine's name, for saying which process is which (a checker's id, who holds the
/// store); `HOSTNAME` where the kernel's is unreadable, else "localhost".
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_ranges() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            // 6to4, NAT64's local-use prefix and the old IPv4-compatible form carry
            // internal IPv4 addresses too.
            "2002:a00:1::",
            "2002:7f00:1::1",
            "64:ff9b:1::a00:1",
            "::10.0.0.1",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in [
            "8.8.8.8",
            "193.2.1.66",
            "2a00:1450:4001::1",
            "::ffff:8.8.8.8",
            "2002:808:808::1",
        ] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
        // A network given in a form that embeds IPv4 is as wide as the IPv4 network.
        for (net, v4) in [
            ("::ffff:0.0.0.0/96", "0.0.0.0/0"),
            ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
            ("2002::/16", "0.0.0.0/0"),
            ("2002:c000:200::/40", "192.0.2.0/24"),
            ("64:ff9b::/96", "0.0.0.0/0"),
        ] {
            let net: IpNet = net.parse().unwrap();
            assert_eq!(embedded_v4(&net), Some(v4.parse().unwrap()), "{net}");
        }
        assert_eq!(embedded_v4(&"2001:db8::/32".parse().unwrap()), None);
        let allowed: Vec<IpNet> = vec!["127.0.0.0/8".parse().unwrap()];
        assert!(!is_forbidden("127.0.0.2".parse().unwrap(), &allowed));
        assert!(!is_forbidden("::ffff:127.0.0.2".parse().unwrap(), &allowed));
        assert!(is_forbidden("::1".parse().unwrap(), &allowed));
    }
}
