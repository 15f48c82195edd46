//! Choosing mirrors for a client: pure functions over an index built once per snapshot.
//!
//! Candidates are the mirrors the snapshot lists as up to date for the directory, over a
//! requested protocol, reachable over the client's address family. They are ordered in tiers:
//! 1. netblock match, most specific first (a matching `monopoly` mirror is returned alone);
//! 2. ASN match; private mirrors are reachable only through these two tiers;
//! 3. the client's country, honouring each mirror's allowed countries;
//! 4. the rest of the continent, nearest first in 500 km bands when coordinates are known;
//! 5. the rest of the world, only while fewer than `minimum` were found.
//!
//! Within a tier (or band) the order is a shuffle weighted by bandwidth, deterministic for a
//! seed. The list is capped.

use shared::snapshot::{DirMirror, SnapMirror, Snapshot, HTTP, HTTPS};
use std::collections::HashMap;
use std::net::IpAddr;

/// Which tier put a mirror in the answer (for metrics and `mm0:private`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    Netblock,
    Asn,
    Country,
    Continent,
    Global,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Netblock => "netblock",
            Tier::Asn => "asn",
            Tier::Country => "country",
            Tier::Continent => "continent",
            Tier::Global => "global",
        }
    }
}

/// What is known about the client.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<IpAddr>,
    /// From GeoIP, or the `country` parameter (which wins).
    pub country: Option<String>,
    pub continent: Option<String>,
    pub coordinates: Option<(f64, f64)>,
    pub asn: Option<u32>,
    /// `netblock=0`: skip netblock and ASN matching (private mirrors are then out of reach).
    pub skip_networks: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Never more mirrors than this.
    pub cap: usize,
    /// Fill from the whole world until this many.
    pub minimum: usize,
    /// Distance band width for the continent tier.
    pub band_km: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cap: 10,
            minimum: 5,
            band_km: 500.0,
        }
    }
}

/// One chosen mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub mirror: u32,
    pub tier: Tier,
    /// The protocol bit used ([`HTTP`] or [`HTTPS`]).
    pub protocol: u8,
}

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
                let len = net.prefix_len();
                let (v6, addr) = masked(net.network(), len);
                index
                    .blocks
                    .entry((v6, len, addr))
                    .or_default()
                    .push(i as u32);
                if !index.lengths.contains(&(len, v6)) {
                    index.lengths.push((len, v6));
                }
            }
        }
        index.lengths.sort_by_key(|l| std::cmp::Reverse(l.0));
        index
    }

    /// Mirrors whose netblocks contain `ip`, most specific first, each once.
    pub fn lookup(&self, ip: IpAddr) -> Vec<u32> {
        // An IPv4-mapped IPv6 address is the IPv4 client it stands for.
        let ip = match ip {
            IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
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

/// Everything selection needs that depends on the snapshot only.
#[derive(Debug)]
pub struct Index {
    pub netblocks: NetblockIndex,
    pub by_asn: HashMap<u32, Vec<u32>>,
}

impl Index {
    pub fn build(snap: &Snapshot) -> Index {
        let mut by_asn: HashMap<u32, Vec<u32>> = HashMap::new();
        for (i, m) in snap.mirrors.iter().enumerate() {
            for asn in &m.asns {
                by_asn.entry(*asn).or_default().push(i as u32);
            }
        }
        Index {
            netblocks: NetblockIndex::build(&snap.mirrors),
            by_asn,
        }
    }
}

/// SplitMix64, seeded per request: deterministic answers under a fixed seed.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn weight(m: &SnapMirror) -> f64 {
    f64::from(m.bandwidth_mbps.unwrap_or(100).clamp(1, 10_000))
}

/// Orders `group` by a weighted random draw (Efraimidis–Spirakis keys): heavier mirrors tend
/// to come first, so load spreads in proportion to bandwidth.
fn weighted_shuffle(group: &mut [(u32, u8)], mirrors: &[SnapMirror], rng: &mut Rng) {
    let mut keyed: Vec<(f64, (u32, u8))> = group
        .iter()
        .map(|&(m, p)| {
            let u = rng.next_f64().max(f64::MIN_POSITIVE);
            (u.powf(1.0 / weight(&mirrors[m as usize])), (m, p))
        })
        .collect();
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (slot, (_, item)) in group.iter_mut().zip(keyed) {
        *slot = item;
    }
}

fn reachable(m: &SnapMirror, client: &Client) -> bool {
    match client.ip {
        Some(IpAddr::V4(_)) => m.ipv4,
        Some(IpAddr::V6(a)) if a.to_ipv4_mapped().is_some() => m.ipv4,
        Some(IpAddr::V6(_)) => m.ipv6,
        None => true,
    }
}

fn allowed(m: &SnapMirror, client: &Client) -> bool {
    m.countries_allowed.is_empty()
        || client
            .country
            .as_ref()
            .is_some_and(|c| m.countries_allowed.contains(c))
}

/// Chooses mirrors for `dir` (an index into the snapshot's directories).
/// `protocols` is a mask of [`HTTP`] | [`HTTPS`]; HTTPS is preferred when both are allowed.
pub fn choose(
    snap: &Snapshot,
    index: &Index,
    dir: usize,
    client: &Client,
    protocols: u8,
    limits: Limits,
    seed: u64,
) -> Vec<Choice> {
    let mirrors = &snap.mirrors;
    let mut rng = Rng(seed);
    // (mirror, protocol bit) for every usable candidate.
    let candidates: Vec<(u32, u8)> = snap.directories[dir]
        .mirrors
        .iter()
        .filter_map(
            |&DirMirror {
                 mirror,
                 protocols: offered,
                 ..
             }| {
                let usable = offered & protocols;
                let bit = if usable & HTTPS != 0 {
                    HTTPS
                } else {
                    usable & HTTP
                };
                (bit != 0 && reachable(&mirrors[mirror as usize], client)).then_some((mirror, bit))
            },
        )
        .collect();
    let find = |m: u32| candidates.iter().find(|(c, _)| *c == m).copied();
    let mut out: Vec<Choice> = Vec::new();
    let taken = |out: &Vec<Choice>, m: u32| out.iter().any(|c| c.mirror == m);

    if let Some(ip) = client.ip.filter(|_| !client.skip_networks) {
        let mut matched: Vec<(u32, u8)> = index
            .netblocks
            .lookup(ip)
            .into_iter()
            .filter_map(find)
            .collect();
        if let Some(&(m, p)) = matched.iter().find(|(m, _)| mirrors[*m as usize].monopoly) {
            return vec![Choice {
                mirror: m,
                tier: Tier::Netblock,
                protocol: p,
            }];
        }
        // Most specific first already; shuffle only keeps equals apart, so leave the order.
        matched.truncate(limits.cap);
        out.extend(matched.into_iter().map(|(mirror, protocol)| Choice {
            mirror,
            tier: Tier::Netblock,
            protocol,
        }));
    }
    if let Some(asn) = client.asn.filter(|_| !client.skip_networks) {
        let mut matched: Vec<(u32, u8)> = index
            .by_asn
            .get(&asn)
            .into_iter()
            .flatten()
            .copied()
            .filter_map(find)
            .filter(|(m, _)| !taken(&out, *m))
            .collect();
        if let Some(&(m, p)) = matched.iter().find(|(m, _)| mirrors[*m as usize].monopoly) {
            if out.is_empty() {
                return vec![Choice {
                    mirror: m,
                    tier: Tier::Asn,
                    protocol: p,
                }];
            }
        }
        weighted_shuffle(&mut matched, mirrors, &mut rng);
        out.extend(matched.into_iter().map(|(mirror, protocol)| Choice {
            mirror,
            tier: Tier::Asn,
            protocol,
        }));
    }
    let public: Vec<(u32, u8)> = candidates
        .iter()
        .copied()
        .filter(|(m, _)| {
            let mm = &mirrors[*m as usize];
            !mm.private && allowed(mm, client)
        })
        .collect();
    if let Some(country) = &client.country {
        let mut group: Vec<(u32, u8)> = public
            .iter()
            .copied()
            .filter(|(m, _)| {
                !taken(&out, *m) && mirrors[*m as usize].country.as_ref() == Some(country)
            })
            .collect();
        weighted_shuffle(&mut group, mirrors, &mut rng);
        out.extend(group.into_iter().map(|(mirror, protocol)| Choice {
            mirror,
            tier: Tier::Country,
            protocol,
        }));
    }
    if out.len() < limits.cap {
        if let Some(continent) = &client.continent {
            let mut group: Vec<(u32, u8)> = public
                .iter()
                .copied()
                .filter(|(m, _)| {
                    !taken(&out, *m) && mirrors[*m as usize].continent.as_ref() == Some(continent)
                })
                .collect();
            // Bands of distance when both ends have coordinates; unknown distances last.
            let band = |m: u32| -> u64 {
                let mm = &mirrors[m as usize];
                match (client.coordinates, mm.latitude.zip(mm.longitude)) {
                    (Some(c), Some(p)) => (shared::geo::distance_km(c, p) / limits.band_km) as u64,
                    _ => u64::MAX,
                }
            };
            weighted_shuffle(&mut group, mirrors, &mut rng);
            // Stable: the shuffle's order is kept within a band.
            group.sort_by_cached_key(|(m, _)| band(*m));
            out.extend(group.into_iter().map(|(mirror, protocol)| Choice {
                mirror,
                tier: Tier::Continent,
                protocol,
            }));
        }
    }
    if out.len() < limits.minimum {
        let mut group: Vec<(u32, u8)> = public
            .iter()
            .copied()
            .filter(|(m, _)| !taken(&out, *m))
            .collect();
        weighted_shuffle(&mut group, mirrors, &mut rng);
        group.truncate(limits.minimum - out.len());
        out.extend(group.into_iter().map(|(mirror, protocol)| Choice {
            mirror,
            tier: Tier::Global,
            protocol,
        }));
    }
    out.truncate(limits.cap);
    out
}

#[cfg(test)]
mod tests;
