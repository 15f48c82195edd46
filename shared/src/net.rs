//! Which addresses are internal: never a mirror's, never somewhere the checker goes unless a
//! test network is explicitly allowed.

use ipnet::IpNet;
use std::net::IpAddr;

/// Loopback, private (RFC 1918, unique-local), shared (CGNAT), link-local, multicast,
/// broadcast, unspecified, benchmarking and documentation ranges, and IPv4-mapped or
/// -translated forms of them.
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
            if let Some(v4) = a.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let s = a.segments();
            // 64:ff9b::/96 (NAT64) carries an IPv4 address.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let v4 = std::net::Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    s[6] as u8,
                    (s[7] >> 8) as u8,
                    s[7] as u8,
                );
                return is_internal(IpAddr::V4(v4));
            }
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
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in [
            "8.8.8.8",
            "193.2.1.66",
            "2a00:1450:4001::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
        let allowed: Vec<IpNet> = vec!["127.0.0.0/8".parse().unwrap()];
        assert!(!is_forbidden("127.0.0.2".parse().unwrap(), &allowed));
        assert!(!is_forbidden("::ffff:127.0.0.2".parse().unwrap(), &allowed));
        assert!(is_forbidden("::1".parse().unwrap(), &allowed));
    }
}
