//! Choosing mirrors for a client: an index built once per snapshot, and a pure function over
//! it for each request.
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
//! seed. The list is capped. The index holds, per directory, the candidates with everything
//! a request tests already reduced to integers and flags, and the public ones grouped by
//! country and by continent, so a request touches only its own country's and continent's
//! mirrors and draws only as many as it will return.

use shared::snapshot::{SnapMirror, Snapshot, HTTP, HTTPS};
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
        crate::metrics::TIERS[self as usize]
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

/// Two ASCII letters (a country or continent code) as one integer; 0 for anything else.
pub fn code(s: &str) -> u16 {
    match s.as_bytes() {
        [a, b] => u16::from_be_bytes([a.to_ascii_uppercase(), b.to_ascii_uppercase()]),
        _ => 0,
    }
}

fn unit_vector((lat, lon): (f64, f64)) -> [f64; 3] {
    let (lat, lon) = (lat.to_radians(), lon.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

const V4: u8 = 1;
const V6: u8 = 2;

/// A mirror as a candidate for one directory: what a request tests, precomputed.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub mirror: u32,
    /// [`HTTP`] | [`HTTPS`]: up to date over it here, and a URL for it.
    pub protocols: u8,
    families: u8,
    private: bool,
    monopoly: bool,
    /// Has a countries-allowed list (checked against the client's country).
    restricted: bool,
    country: u16,
    continent: u16,
    /// 1 / bandwidth weight.
    inv_weight: f64,
    position: Option<[f64; 3]>,
}

/// One directory's candidates, and the public ones by country and continent.
#[derive(Debug, Default)]
pub struct DirIndex {
    pub candidates: Vec<Candidate>,
    /// Mirror → position in `candidates` (for netblock and ASN matches).
    slot: HashMap<u32, u32>,
    by_country: HashMap<u16, Group>,
    by_continent: HashMap<u16, Group>,
    public: Group,
}

/// Candidates (positions in [`DirIndex::candidates`]) with their running bandwidth weights,
/// for drawing by weight.
#[derive(Debug, Default)]
struct Group {
    slots: Vec<u32>,
    cumulative: Vec<f64>,
}

impl Group {
    fn push(&mut self, slot: u32, weight: f64) {
        self.slots.push(slot);
        self.cumulative
            .push(self.cumulative.last().copied().unwrap_or(0.0) + weight);
    }
}

/// Everything selection needs that depends on the snapshot only.
#[derive(Debug)]
pub struct Index {
    pub netblocks: NetblockIndex,
    pub by_asn: HashMap<u32, Vec<u32>>,
    /// Parallel to the snapshot's directories.
    pub dirs: Vec<DirIndex>,
    /// MirrorManager-style repo id (`baseos-9`, `baseos-9.8`) → arch → directory.
    repo_ids: HashMap<String, HashMap<String, usize>>,
}

fn weight(m: &SnapMirror) -> f64 {
    f64::from(m.bandwidth_mbps.unwrap_or(100).clamp(1, 10_000))
}

impl Index {
    pub fn build(snap: &Snapshot) -> Index {
        let mut by_asn: HashMap<u32, Vec<u32>> = HashMap::new();
        for (i, m) in snap.mirrors.iter().enumerate() {
            for asn in &m.asns {
                by_asn.entry(*asn).or_default().push(i as u32);
            }
        }
        let dirs = snap
            .catalog
            .directories
            .iter()
            .zip(&snap.directories)
            .map(|(dir, sd)| {
                let mut d = DirIndex::default();
                for dm in &sd.mirrors {
                    let m = &snap.mirrors[dm.mirror as usize];
                    let urls = match &dir.module {
                        None => Some(&m.urls),
                        Some(module) => m.module_urls.get(module),
                    };
                    let mut protocols = 0;
                    for (bit, p) in [
                        (HTTP, shared::registry::Protocol::Http),
                        (HTTPS, shared::registry::Protocol::Https),
                    ] {
                        if dm.protocols & bit != 0 && urls.is_some_and(|u| u.contains_key(&p)) {
                            protocols |= bit;
                        }
                    }
                    if protocols == 0 {
                        continue;
                    }
                    let c = Candidate {
                        mirror: dm.mirror,
                        protocols,
                        families: if m.ipv4 { V4 } else { 0 } | if m.ipv6 { V6 } else { 0 },
                        private: m.private,
                        monopoly: m.monopoly,
                        restricted: !m.countries_allowed.is_empty(),
                        country: m.country.as_deref().map_or(0, code),
                        continent: m.continent.as_deref().map_or(0, code),
                        inv_weight: 1.0 / weight(m),
                        position: m.latitude.zip(m.longitude).map(unit_vector),
                    };
                    let at = d.candidates.len() as u32;
                    d.slot.insert(dm.mirror, at);
                    if !c.private {
                        let w = weight(m);
                        d.public.push(at, w);
                        if c.country != 0 {
                            d.by_country.entry(c.country).or_default().push(at, w);
                        }
                        if c.continent != 0 {
                            d.by_continent.entry(c.continent).or_default().push(at, w);
                        }
                    }
                    d.candidates.push(c);
                }
                d
            })
            .collect();
        let mut repo_ids: HashMap<String, HashMap<String, usize>> = HashMap::new();
        for (i, d) in snap.catalog.directories.iter().enumerate() {
            let names = snap
                .catalog
                .spec
                .releases
                .iter()
                .filter(|r| r.version == d.release);
            for name in names.flat_map(|r| std::iter::once(&r.version).chain(&r.aliases)) {
                // As the catalog resolves names: the first release with a name has it.
                if let shared::catalog::ReleaseLookup::Current(r) =
                    snap.catalog.resolve_release(name)
                {
                    if r.version == d.release {
                        let by_arch = repo_ids.entry(format!("{}-{name}", d.repo)).or_default();
                        by_arch.entry(d.arch.clone()).or_insert(i);
                    }
                }
            }
        }
        Index {
            netblocks: NetblockIndex::build(&snap.mirrors),
            by_asn,
            dirs,
            repo_ids,
        }
    }

    /// The directory of a repo id and arch (what [`shared::catalog::Catalog::find_repo_id`]
    /// finds, by one hash lookup).
    pub fn find_repo_id(&self, repo_id: &str, arch: &str) -> Option<usize> {
        self.repo_ids.get(repo_id)?.get(arch).copied()
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

/// What a request needs to know about the client, reduced for the candidate tests.
struct Seeker<'a> {
    families: u8,
    country: u16,
    country_name: Option<&'a str>,
    position: Option<[f64; 3]>,
    protocols: u8,
}

impl Seeker<'_> {
    /// The protocol bit to use for `c` (HTTPS preferred), or `None` when it cannot serve.
    fn usable(&self, c: &Candidate) -> Option<u8> {
        if c.families & self.families == 0 {
            return None;
        }
        let usable = c.protocols & self.protocols;
        match usable {
            0 => None,
            u if u & HTTPS != 0 => Some(HTTPS),
            _ => Some(HTTP),
        }
    }

    fn allowed(&self, c: &Candidate, m: &SnapMirror) -> bool {
        !c.restricted
            || self
                .country_name
                .is_some_and(|n| m.countries_allowed.iter().any(|a| a == n))
    }
}

/// A drawn candidate: sort key (band, then a weighted-random key, both ascending).
#[derive(Clone, Copy)]
struct Drawn {
    band: u32,
    key: f64,
    slot: u32,
    protocol: u8,
}

/// Keeps the `k` best of `group` in order: a weighted random draw (Efraimidis–Spirakis,
/// as `-ln(u) / weight`, smallest first), heavier mirrors tending to come first so load
/// spreads in proportion to bandwidth; bands (distance) go before the draw.
fn best(group: &mut Vec<Drawn>, k: usize) {
    let order = |a: &Drawn, b: &Drawn| a.band.cmp(&b.band).then(a.key.total_cmp(&b.key));
    if k == 0 {
        group.clear();
        return;
    }
    if group.len() > k {
        group.select_nth_unstable_by(k - 1, order);
        group.truncate(k);
    }
    group.sort_unstable_by(order);
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
    let d = &index.dirs[dir];
    let mut rng = Rng(seed);
    let who = Seeker {
        families: match client.ip {
            Some(IpAddr::V4(_)) => V4,
            Some(IpAddr::V6(a)) if a.to_ipv4_mapped().is_some() => V4,
            Some(IpAddr::V6(_)) => V6,
            None => V4 | V6,
        },
        country: client.country.as_deref().map_or(0, code),
        country_name: client.country.as_deref(),
        position: client.coordinates.map(unit_vector),
        protocols,
    };
    let mut out: Vec<Choice> = Vec::with_capacity(limits.cap.min(16));
    let taken = |out: &[Choice], m: u32| out.iter().any(|c| c.mirror == m);
    // A mirror matched by netblock or ASN, if it can serve this request.
    let matched = |m: u32| {
        let slot = *d.slot.get(&m)?;
        let c = &d.candidates[slot as usize];
        who.usable(c).map(|p| (slot, c, p))
    };

    if let Some(ip) = client.ip.filter(|_| !client.skip_networks) {
        let found: Vec<(u32, &Candidate, u8)> = index
            .netblocks
            .lookup(ip)
            .into_iter()
            .filter_map(matched)
            .collect();
        if let Some(&(_, c, p)) = found.iter().find(|(_, c, _)| c.monopoly) {
            return vec![Choice {
                mirror: c.mirror,
                tier: Tier::Netblock,
                protocol: p,
            }];
        }
        // Most specific first already; that order is kept.
        out.extend(found.into_iter().take(limits.cap).map(|(_, c, p)| Choice {
            mirror: c.mirror,
            tier: Tier::Netblock,
            protocol: p,
        }));
    }
    if let Some(asn) = client.asn.filter(|_| !client.skip_networks) {
        let found: Vec<(u32, &Candidate, u8)> = index
            .by_asn
            .get(&asn)
            .into_iter()
            .flatten()
            .copied()
            .filter_map(matched)
            .filter(|(_, c, _)| !taken(&out, c.mirror))
            .collect();
        if let Some(&(_, c, p)) = found.iter().find(|(_, c, _)| c.monopoly) {
            if out.is_empty() {
                return vec![Choice {
                    mirror: c.mirror,
                    tier: Tier::Asn,
                    protocol: p,
                }];
            }
        }
        let mut group: Vec<Drawn> = found
            .into_iter()
            .map(|(slot, c, p)| Drawn {
                band: 0,
                key: draw(&mut rng, c),
                slot,
                protocol: p,
            })
            .collect();
        let all = group.len();
        best(&mut group, all);
        push(&mut out, d, &group, Tier::Asn);
    }
    // Public candidates from `slots` that pass `keep`, drawn; the best kept until `out`
    // holds `upto`.
    let mut group: Vec<Drawn> = Vec::with_capacity(d.public.slots.len());
    let mut tested: Vec<u32> = Vec::new();
    let mut tier = |list: &Group,
                    out: &mut Vec<Choice>,
                    rng: &mut Rng,
                    upto: usize,
                    tier: Tier,
                    keep: &dyn Fn(&Candidate) -> bool,
                    band: Option<&dyn Fn(&Candidate) -> u32>| {
        let room = upto.saturating_sub(out.len());
        if room == 0 {
            return;
        }
        let test = |slot: u32, out: &[Choice]| {
            let c = &d.candidates[slot as usize];
            let protocol = who.usable(c)?;
            (keep(c) && !taken(out, c.mirror) && who.allowed(c, &mirrors[c.mirror as usize]))
                .then_some(protocol)
        };
        group.clear();
        tested.clear();
        if band.is_none() && list.slots.len() > 2 * room {
            // Many more than needed: draw by weight, one at a time, skipping what cannot
            // serve or was drawn before. This is the same distribution as the weighted
            // shuffle (each next mirror in proportion to its weight among those left), at
            // the cost of about `room` draws instead of one per candidate.
            let total = list.cumulative.last().copied().unwrap_or(0.0);
            let mut attempts = 0;
            while group.len() < room && attempts < 4 * room + 16 {
                attempts += 1;
                let r = rng.next_f64() * total;
                let i = list.cumulative.partition_point(|&c| c <= r);
                let slot = list.slots[i.min(list.slots.len() - 1)];
                if tested.contains(&slot) {
                    continue;
                }
                tested.push(slot);
                if let Some(protocol) = test(slot, out) {
                    group.push(Drawn {
                        band: 0,
                        key: group.len() as f64,
                        slot,
                        protocol,
                    });
                }
            }
            push(out, d, &group, tier);
            if group.len() == room {
                return;
            }
            // Too many could not serve (another family, protocol or country): the rest by
            // a full draw over those not yet tried.
            group.clear();
        }
        let room = upto.saturating_sub(out.len());
        for &slot in &list.slots {
            if tested.contains(&slot) {
                continue;
            }
            let Some(protocol) = test(slot, out) else {
                continue;
            };
            let c = &d.candidates[slot as usize];
            group.push(Drawn {
                band: band.map_or(0, |b| b(c)),
                key: 0.0,
                slot,
                protocol,
            });
        }
        if band.is_some() && group.len() > room {
            // Only the nearest bands can make the list: draw keys for those alone.
            let (_, last, _) = group.select_nth_unstable_by_key(room - 1, |g| g.band);
            let last = last.band;
            group.retain(|g| g.band <= last);
        }
        for g in group.iter_mut() {
            g.key = draw(rng, &d.candidates[g.slot as usize]);
        }
        best(&mut group, room);
        push(out, d, &group, tier);
    };
    if who.country != 0 {
        if let Some(slots) = d.by_country.get(&who.country) {
            tier(
                slots,
                &mut out,
                &mut rng,
                limits.cap,
                Tier::Country,
                &|_| true,
                None,
            );
        }
    }
    let continent = client.continent.as_deref().map_or(0, code);
    if out.len() < limits.cap && continent != 0 {
        if let Some(slots) = d.by_continent.get(&continent) {
            // Bands of distance when both ends have coordinates; unknown distances last.
            let band = |c: &Candidate| match (who.position, c.position) {
                (Some(a), Some(b)) => {
                    let cos = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
                    (fast_acos(cos) * shared::geo::EARTH_RADIUS_KM / limits.band_km) as u32
                }
                _ => u32::MAX,
            };
            let country = who.country;
            tier(
                slots,
                &mut out,
                &mut rng,
                limits.cap,
                Tier::Continent,
                &|c| c.country != country || country == 0,
                who.position
                    .is_some()
                    .then_some(&band as &dyn Fn(&Candidate) -> u32),
            );
        }
    }
    if out.len() < limits.minimum {
        tier(
            &d.public,
            &mut out,
            &mut rng,
            limits.minimum,
            Tier::Global,
            &|_| true,
            None,
        );
    }
    out.truncate(limits.cap);
    out
}

/// `acos` within 7e-5 rad (under half a kilometre on the Earth: nothing for 500 km bands),
/// several times cheaper than the exact one (Abramowitz and Stegun 4.4.45).
fn fast_acos(x: f64) -> f64 {
    let x = x.clamp(-1.0, 1.0);
    let a = x.abs();
    let r =
        (1.0 - a).sqrt() * (1.570_728_8 + a * (-0.212_114_4 + a * (0.074_261 - 0.018_729_3 * a)));
    if x < 0.0 {
        std::f64::consts::PI - r
    } else {
        r
    }
}

fn draw(rng: &mut Rng, c: &Candidate) -> f64 {
    -rng.next_f64().max(f64::MIN_POSITIVE).ln() * c.inv_weight
}

fn push(out: &mut Vec<Choice>, d: &DirIndex, group: &[Drawn], tier: Tier) {
    out.extend(group.iter().map(|g| Choice {
        mirror: d.candidates[g.slot as usize].mirror,
        tier,
        protocol: g.protocol,
    }));
}

#[cfg(test)]
mod tests;
