//! Longest-prefix matching of addresses to networks: the mirrors' netblocks (built per
//! snapshot) and the cloud providers' ranges use the same index.

use shared::snapshot::SnapMirror;
use std::collections::HashMap;
use std::net::IpAddr;

/// Longest-prefix matching of client addresses to mirrors' netblocks.
#[derive(Debug, Default)]
pub struct NetblockIndex {
    /// (prefix length, is IPv6) present, longest first.
    lengths: Vec<(u8, bool)>,
    /// (is IPv6, prefix length, masked address) → mirrors.
    blocks: HashMap<(bool, u8, u128), Vec<u32>>,
}

fn masked(ip: IpAddr, len: u8) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => {
            let bits = u128::from(u32::from(a));
            let mask = if len == 0 {
                0
            } else {
                (!0u32 << (32 - u32::from(len))) as u128
            };
            (false, bits & mask)
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let mask = if len == 0 {
                0
            } else {
                !0u128 << (128 - u32::from(len))
            };
            (true, bits & mask)
        }
    }
}

impl NetblockIndex {
    pub fn build(mirrors: &[SnapMirror]) -> NetblockIndex {
        let mut index = NetblockIndex::default();
        for (i, m) in mirrors.iter().enumerate() {
            for net in &m.subnets {
                index.insert(*net, i as u32);
            }
        }
        index.finish();
        index
    }

    /// Adds `value` under `net`; [`NetblockIndex::finish`] before looking up.
    pub fn insert(&mut self, net: ipnet::IpNet, value: u32) {
        let len = net.prefix_len();
        let (v6, addr) = masked(net.network(), len);
        self.blocks.entry((v6, len, addr)).or_default().push(value);
        if !self.lengths.contains(&(len, v6)) {
            self.lengths.push((len, v6));
        }
    }

    /// Orders the prefix lengths, longest first.
    pub fn finish(&mut self) {
        self.lengths.sort_by_key(|l| std::cmp::Reverse(l.0));
    }

    /// How many networks it holds.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Mirrors whose netblocks contain `ip`, most specific first, each once.
    pub fn lookup(&self, ip: IpAddr) -> Vec<u32> {
        // An IPv4-mapped IPv6 address is the IPv4 client it stands for.
        let ip = shared::net::unmapped(ip);
        let mut out: Vec<u32> = Vec::new();
        for &(len, v6) in &self.lengths {
            if v6 != ip.is_ipv6() {
                continue;
            }
            let (_, addr) = masked(ip, len);
            if let Some(ms) = self.blocks.get(&(v6, len, addr)) {
                for m in ms {
                    if !out.contains(m) {
                        out.push(*m);
                    }
                }
            }
        }
        out
    }
}
