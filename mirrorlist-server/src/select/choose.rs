//! The choice of mirrors for one request: a pure function of the per-snapshot index, the
//! client, the protocols asked for, the limits and a seed.

use super::index::{unit_vector, Candidate, DirIndex, Group, Index, V4, V6};
use super::{Choice, Client, Limits, Tier};
use shared::snapshot::{HTTP, HTTPS};
use std::net::IpAddr;

/// SplitMix64's increment.
pub(crate) const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a well-spread 64-bit hash of `z`.
pub(crate) fn splitmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64, seeded per request: deterministic answers under a fixed seed.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        (splitmix(self.0) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What a request needs to know about the client, reduced for the candidate tests.
struct Seeker<'a> {
    families: u8,
    country: u16,
    also: &'a [u16],
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

    fn allowed(&self, c: &Candidate) -> bool {
        c.allowed.is_empty()
            || (self.country != 0 && c.allowed.contains(&self.country))
            || self.also.iter().any(|a| c.allowed.contains(a))
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
    index: &Index,
    dir: usize,
    client: &Client,
    protocols: u8,
    limits: Limits,
    seed: u64,
) -> Vec<Choice> {
    choose_in(index, &index.dirs[dir], client, protocols, limits, seed)
}

/// [`choose`] among the candidates `d` (one directory's, or every arch's of a repo), tier
/// by tier.
pub fn choose_in(
    index: &Index,
    d: &DirIndex,
    client: &Client,
    protocols: u8,
    limits: Limits,
    seed: u64,
) -> Vec<Choice> {
    let mut c = Chooser {
        d,
        who: Seeker {
            families: match client.ip {
                Some(IpAddr::V4(_)) => V4,
                Some(IpAddr::V6(a)) if a.to_ipv4_mapped().is_some() => V4,
                Some(IpAddr::V6(_)) => V6,
                None => V4 | V6,
            },
            country: client.country,
            also: &client.also,
            position: client.coordinates.map(unit_vector),
            protocols,
        },
        rng: Rng(seed),
        out: Vec::with_capacity(limits.cap.min(16)),
        group: Vec::with_capacity(d.public.slots.len()),
        tested: Vec::new(),
    };
    if !client.skip_networks {
        if let Some(alone) = c.netblocks(index, client, limits.cap) {
            return vec![alone];
        }
        if let Some(alone) = c.asn(index, client) {
            return vec![alone];
        }
    }
    if let Some(place) = &client.cloud {
        c.cloud(place, limits.cap);
    }
    for country in std::iter::once(client.country).chain(client.also.iter().copied()) {
        if country == 0 || c.out.len() >= limits.cap {
            continue;
        }
        if let Some(slots) = d.by_country.get(&country) {
            c.tier(slots, limits.cap, Tier::Country, &|_| true, None);
        }
    }
    if c.out.len() < limits.cap && client.continent != 0 {
        c.continent(client.continent, limits);
    }
    let upto = if client.global {
        limits.cap
    } else {
        limits.minimum
    };
    if c.out.len() < upto {
        c.tier(&d.public, upto, Tier::Global, &|_| true, None);
    }
    let mut out = c.out;
    out.truncate(limits.cap);
    out
}

/// One choice being made: the candidates, the client, the draw, the answer so far and
/// scratch space reused from tier to tier.
struct Chooser<'a> {
    d: &'a DirIndex,
    who: Seeker<'a>,
    rng: Rng,
    out: Vec<Choice>,
    group: Vec<Drawn>,
    tested: Vec<u32>,
}

impl<'a> Chooser<'a> {
    #[inline]
    fn taken(&self, m: u32) -> bool {
        self.out.iter().any(|c| c.mirror == m)
    }

    /// A mirror matched by netblock or ASN, if it can serve this request.
    fn matched(&self, m: u32) -> Option<(u32, &'a Candidate, u8)> {
        let slot = self.d.slot(m)?;
        let c = &self.d.candidates[slot as usize];
        self.who.usable(c).map(|p| (slot, c, p))
    }

    /// Mirrors whose netblocks hold the client, most specific first; a matching monopoly
    /// mirror alone.
    fn netblocks(&mut self, index: &Index, client: &Client, cap: usize) -> Option<Choice> {
        let ip = client.ip?;
        let found: Vec<(u32, &'a Candidate, u8)> = index
            .netblocks
            .lookup(ip)
            .into_iter()
            .filter_map(|m| self.matched(m))
            .collect();
        let choice = |c: &Candidate, protocol| Choice {
            mirror: c.mirror,
            tier: Tier::Netblock,
            protocol,
        };
        if let Some(&(_, c, p)) = found.iter().find(|(_, c, _)| c.monopoly) {
            return Some(choice(c, p));
        }
        // Most specific first already; that order is kept.
        let chosen: Vec<Choice> = found
            .iter()
            .take(cap)
            .map(|&(_, c, p)| choice(c, p))
            .collect();
        self.out.extend(chosen);
        None
    }

    /// Mirrors of the client's ASN, drawn by weight; a matching monopoly mirror alone when
    /// no netblock matched.
    fn asn(&mut self, index: &Index, client: &Client) -> Option<Choice> {
        let asn = client.asn?;
        let found: Vec<(u32, &'a Candidate, u8)> = index
            .by_asn
            .get(&asn)
            .into_iter()
            .flatten()
            .filter_map(|m| self.matched(*m))
            .filter(|(_, c, _)| !self.taken(c.mirror))
            .collect();
        if let Some(&(_, c, p)) = found.iter().find(|(_, c, _)| c.monopoly) {
            if self.out.is_empty() {
                return Some(Choice {
                    mirror: c.mirror,
                    tier: Tier::Asn,
                    protocol: p,
                });
            }
        }
        let rng = &mut self.rng;
        let mut group: Vec<Drawn> = found
            .into_iter()
            .map(|(slot, c, p)| Drawn {
                band: 0,
                key: draw(rng, c),
                slot,
                protocol: p,
            })
            .collect();
        let all = group.len();
        best(&mut group, all);
        push(&mut self.out, self.d, &group, Tier::Asn);
        None
    }

    /// The provider's mirrors for the client's region, then those for every region.
    fn cloud(&mut self, place: &crate::cloud::CloudPlace, cap: usize) {
        let d = self.d;
        let mut group: Vec<Drawn> = Vec::new();
        for (slot, provider, regions) in &d.cloud {
            if **provider != *place.provider {
                continue;
            }
            let band = if !place.region.is_empty() && regions.iter().any(|r| **r == *place.region) {
                0
            } else if regions.iter().any(|r| r == "all") {
                1
            } else {
                continue;
            };
            let c = &d.candidates[*slot as usize];
            let Some(protocol) = self.who.usable(c) else {
                continue;
            };
            if !self.taken(c.mirror) {
                group.push(Drawn {
                    band,
                    key: draw(&mut self.rng, c),
                    slot: *slot,
                    protocol,
                });
            }
        }
        best(&mut group, cap.saturating_sub(self.out.len()));
        push(&mut self.out, d, &group, Tier::Cloud);
    }

    /// The rest of the client's continent, in bands of distance when both ends have
    /// coordinates (unknown distances last).
    fn continent(&mut self, continent: u16, limits: Limits) {
        let Some(slots) = self.d.by_continent.get(&continent) else {
            return;
        };
        let here = self.who.position;
        let band = |c: &Candidate| match (here, c.position) {
            (Some(a), Some(b)) => {
                let cos = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
                (fast_acos(cos) * shared::geo::EARTH_RADIUS_KM / limits.band_km) as u32
            }
            _ => u32::MAX,
        };
        let country = self.who.country;
        self.tier(
            slots,
            limits.cap,
            Tier::Continent,
            &|c| c.country != country || country == 0,
            here.is_some()
                .then_some(&band as &dyn Fn(&Candidate) -> u32),
        );
    }

    /// Whether `slot` may serve: its protocol when so. Called for every candidate a tier
    /// looks at: inlined, as it was in the loop it came from.
    #[inline(always)]
    fn test(&self, slot: u32, keep: &dyn Fn(&Candidate) -> bool) -> Option<u8> {
        let c = &self.d.candidates[slot as usize];
        let protocol = self.who.usable(c)?;
        (keep(c) && !self.taken(c.mirror) && self.who.allowed(c)).then_some(protocol)
    }

    /// Public candidates from `list` that pass `keep`, drawn; the best kept until the
    /// answer holds `upto`.
    fn tier(
        &mut self,
        list: &Group,
        upto: usize,
        tier: Tier,
        keep: &dyn Fn(&Candidate) -> bool,
        band: Option<&dyn Fn(&Candidate) -> u32>,
    ) {
        let room = upto.saturating_sub(self.out.len());
        if room == 0 {
            return;
        }
        self.group.clear();
        self.tested.clear();
        if band.is_none() && list.slots.len() > 2 * room {
            if self.sample(list, room, tier, keep) {
                return;
            }
            // Too many could not serve (another family, protocol or country): the rest by
            // a full draw over those not yet tried.
            self.group.clear();
        }
        self.draw_all(list, upto, tier, keep, band);
    }

    /// Many more than needed: draw by weight, one at a time, skipping what cannot serve or
    /// was drawn before. This is the same distribution as the weighted shuffle (each next
    /// mirror in proportion to its weight among those left), at the cost of about `room`
    /// draws instead of one per candidate. Whether it filled the room.
    fn sample(
        &mut self,
        list: &Group,
        room: usize,
        tier: Tier,
        keep: &dyn Fn(&Candidate) -> bool,
    ) -> bool {
        let total = list.cumulative.last().copied().unwrap_or(0.0);
        let mut attempts = 0;
        while self.group.len() < room && attempts < 4 * room + 16 {
            attempts += 1;
            let r = self.rng.next_f64() * total;
            let i = list.cumulative.partition_point(|&c| c <= r);
            let slot = list.slots[i.min(list.slots.len() - 1)];
            if self.tested.contains(&slot) {
                continue;
            }
            self.tested.push(slot);
            if let Some(protocol) = self.test(slot, keep) {
                self.group.push(Drawn {
                    band: 0,
                    key: self.group.len() as f64,
                    slot,
                    protocol,
                });
            }
        }
        push(&mut self.out, self.d, &self.group, tier);
        self.group.len() == room
    }

    /// Every candidate of `list` not tried yet that can serve, keyed (by band, then a
    /// weighted draw) and the best kept.
    fn draw_all(
        &mut self,
        list: &Group,
        upto: usize,
        tier: Tier,
        keep: &dyn Fn(&Candidate) -> bool,
        band: Option<&dyn Fn(&Candidate) -> u32>,
    ) {
        let room = upto.saturating_sub(self.out.len());
        let d = self.d;
        for &slot in &list.slots {
            if self.tested.contains(&slot) {
                continue;
            }
            let Some(protocol) = self.test(slot, keep) else {
                continue;
            };
            self.group.push(Drawn {
                band: band.map_or(0, |b| b(&d.candidates[slot as usize])),
                key: 0.0,
                slot,
                protocol,
            });
        }
        if band.is_some() && self.group.len() > room {
            // Only the nearest bands can make the list: draw keys for those alone.
            let (_, last, _) = self.group.select_nth_unstable_by_key(room - 1, |g| g.band);
            let last = last.band;
            self.group.retain(|g| g.band <= last);
        }
        for g in self.group.iter_mut() {
            g.key = draw(&mut self.rng, &d.candidates[g.slot as usize]);
        }
        best(&mut self.group, room);
        push(&mut self.out, d, &self.group, tier);
    }
}

/// `acos` within 7e-5 rad (under half a kilometre on the Earth: nothing for 500 km bands),
/// several times cheaper than the exact one (Abramowitz and Stegun 4.4.45).
pub(super) fn fast_acos(x: f64) -> f64 {
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
