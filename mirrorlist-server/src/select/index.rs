//! What selection needs that depends on the snapshot only, built once per snapshot: the
//! mirrors' netblocks ([`NetblockIndex`]), an ASN map, and per directory its candidates reduced to
//! flags and integer codes, the public ones grouped by country and continent with cumulative
//! bandwidth weights.

use crate::netblocks::NetblockIndex;
use shared::snapshot::{SnapMirror, Snapshot, HTTP, HTTPS};
use std::collections::HashMap;

pub use shared::geo::code;

pub(super) fn unit_vector((lat, lon): (f64, f64)) -> [f64; 3] {
    let (lat, lon) = (lat.to_radians(), lon.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

pub(super) const V4: u8 = 1;
pub(super) const V6: u8 = 2;

/// A mirror as a candidate for one directory: what a request tests, precomputed.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub mirror: u32,
    /// [`HTTP`] | [`HTTPS`]: up to date over it here, and a URL for it.
    pub protocols: u8,
    pub(super) families: u8,
    pub(super) private: bool,
    pub(super) monopoly: bool,
    /// The countries it may serve, as [`code`]s; empty: everyone.
    pub(super) allowed: Box<[u16]>,
    pub(crate) country: u16,
    pub(crate) continent: u16,
    /// 1 / bandwidth weight.
    pub(super) inv_weight: f64,
    pub(super) position: Option<[f64; 3]>,
}

/// One directory's candidates, and the public ones by country and continent.
#[derive(Debug, Default)]
pub struct DirIndex {
    pub candidates: Vec<Candidate>,
    /// Mirror → position in `candidates` (for netblock and ASN matches).
    pub(crate) slot: HashMap<u32, u32>,
    pub(super) by_country: HashMap<u16, Group>,
    pub(super) by_continent: HashMap<u16, Group>,
    pub(super) public: Group,
    /// Cloud mirrors: (slot, provider, regions).
    pub(super) cloud: Vec<(u32, String, Vec<String>)>,
}

/// Candidates (positions in [`DirIndex::candidates`]) with their running bandwidth weights,
/// for drawing by weight.
#[derive(Debug, Default)]
pub(super) struct Group {
    pub(super) slots: Vec<u32>,
    pub(super) cumulative: Vec<f64>,
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
    /// A release/repo with several arches, under its first directory: the mirrors holding
    /// any of them (the path form without `arch`, as AlmaLinux answers it).
    pub any_arch: HashMap<usize, DirIndex>,
}

impl Index {
    /// The candidates of directory `dir`, or of every arch of its release/repo.
    pub fn candidates(&self, dir: usize, any_arch: bool) -> &DirIndex {
        match any_arch {
            true => self.any_arch.get(&dir).unwrap_or(&self.dirs[dir]),
            false => &self.dirs[dir],
        }
    }
}

impl DirIndex {
    /// The candidates of the directories `dirs` (of one release/repo, so one module), a
    /// mirror once with every protocol it is current over in any of them.
    fn build(snap: &Snapshot, dirs: &[usize]) -> DirIndex {
        let mut d = DirIndex::default();
        for &i in dirs {
            let (dir, sd) = (&snap.catalog.directories[i], &snap.directories[i]);
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
                if let Some(&at) = d.slot.get(&dm.mirror) {
                    d.candidates[at as usize].protocols |= protocols;
                    continue;
                }
                let c = Candidate {
                    mirror: dm.mirror,
                    protocols,
                    families: if m.ipv4 { V4 } else { 0 } | if m.ipv6 { V6 } else { 0 },
                    // Private and cloud mirrors are reached only through their own tiers.
                    private: m.private || !m.audience.is_public(),
                    monopoly: m.monopoly,
                    allowed: m.countries_allowed.iter().map(|c| code(c)).collect(),
                    country: m.country.as_deref().map_or(0, code),
                    continent: m.continent.as_deref().map_or(0, code),
                    inv_weight: 1.0 / weight(m),
                    position: m.latitude.zip(m.longitude).map(unit_vector),
                };
                let at = d.candidates.len() as u32;
                d.slot.insert(dm.mirror, at);
                if let shared::snapshot::Audience::Cloud { provider, regions } = &m.audience {
                    d.cloud
                        .push((at, provider.to_ascii_lowercase(), regions.clone()));
                }
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
        }
        d
    }
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
        let dirs: Vec<DirIndex> = (0..snap.directories.len())
            .map(|i| DirIndex::build(snap, &[i]))
            .collect();
        // Each release/repo's arches together, under its first directory.
        let mut arches: HashMap<(&str, &str, Option<&str>), Vec<usize>> = HashMap::new();
        for (i, d) in snap.catalog.directories.iter().enumerate() {
            arches
                .entry((&d.release, &d.repo, d.module.as_deref()))
                .or_default()
                .push(i);
        }
        let any_arch = arches
            .into_values()
            .filter(|all| all.len() > 1)
            .map(|all| (all[0], DirIndex::build(snap, &all)))
            .collect();
        Index {
            netblocks: NetblockIndex::build(&snap.mirrors),
            by_asn,
            dirs,
            any_arch,
        }
    }
}
