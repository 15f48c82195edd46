//! What selection needs that depends on the snapshot only, built once per snapshot: the
//! mirrors' netblocks ([`NetblockIndex`]), an ASN map, and per directory its candidates reduced to
//! flags and integer codes, the public ones grouped by country and continent with cumulative
//! bandwidth weights. What a candidate takes from its mirror is worked out once per mirror
//! ([`Facts`]), not once per directory; a release/repo's all-arches index is built on its
//! first request.

use crate::netblocks::NetblockIndex;
use shared::registry::Protocol;
use shared::snapshot::{SnapMirror, Snapshot, HTTP, HTTPS};
use std::collections::HashMap;
use std::sync::OnceLock;

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
    /// Mirror → position in `candidates` (for netblock and ASN matches): [`NONE`] for a
    /// mirror that is not one.
    slots: Vec<u32>,
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

const NONE: u32 = u32::MAX;

/// Everything selection needs that depends on the snapshot only.
#[derive(Debug)]
pub struct Index {
    pub netblocks: NetblockIndex,
    pub by_asn: HashMap<u32, Vec<u32>>,
    /// Parallel to the snapshot's directories.
    pub dirs: Vec<DirIndex>,
    /// A release/repo with several arches, under its first directory: the mirrors holding
    /// any of them (the path form without `arch`, as AlmaLinux answers it), built on its
    /// first request.
    any_arch: HashMap<usize, AllArches>,
    facts: Vec<Facts>,
}

#[derive(Debug)]
struct AllArches {
    dirs: Vec<usize>,
    index: OnceLock<DirIndex>,
}

/// What a candidate takes from its mirror, the same in every directory.
#[derive(Debug)]
struct Facts {
    /// The mirror as a candidate, over no protocol yet.
    candidate: Candidate,
    weight: f64,
    cloud: Option<(String, Vec<String>)>,
    /// The protocols it has a URL for: in its tree, and in each module's.
    urls: u8,
    module_urls: HashMap<String, u8>,
}

fn url_bits(urls: &std::collections::BTreeMap<Protocol, String>) -> u8 {
    let has = |p| urls.contains_key(&p);
    let bit = |p, b| if has(p) { b } else { 0 };
    bit(Protocol::Http, HTTP) | bit(Protocol::Https, HTTPS)
}

impl Facts {
    fn of(at: u32, m: &SnapMirror) -> Facts {
        let candidate = Candidate {
            mirror: at,
            protocols: 0,
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
        let cloud = match &m.audience {
            shared::snapshot::Audience::Cloud { provider, regions } => {
                Some((provider.to_ascii_lowercase(), regions.clone()))
            }
            _ => None,
        };
        Facts {
            candidate,
            weight: weight(m),
            cloud,
            urls: url_bits(&m.urls),
            module_urls: m
                .module_urls
                .iter()
                .map(|(k, u)| (k.clone(), url_bits(u)))
                .collect(),
        }
    }

    /// The protocols it has a URL for in a directory of `module`.
    fn urls(&self, module: Option<&str>) -> u8 {
        match module {
            None => self.urls,
            Some(module) => self.module_urls.get(module).copied().unwrap_or(0),
        }
    }
}

impl Index {
    /// The candidates of directory `dir`, or of every arch of its release/repo.
    pub fn candidates(&self, snap: &Snapshot, dir: usize, any_arch: bool) -> &DirIndex {
        match any_arch.then(|| self.any_arch.get(&dir)).flatten() {
            Some(all) => all
                .index
                .get_or_init(|| DirIndex::build(snap, &self.facts, &all.dirs)),
            None => &self.dirs[dir],
        }
    }
}

impl DirIndex {
    /// Where mirror `m` is in [`DirIndex::candidates`], if it is one.
    pub fn slot(&self, m: u32) -> Option<u32> {
        self.slots.get(m as usize).copied().filter(|&s| s != NONE)
    }

    /// The candidates of the directories `dirs` (of one release/repo, so one module), a
    /// mirror once with every protocol it is current over in any of them.
    fn build(snap: &Snapshot, facts: &[Facts], dirs: &[usize]) -> DirIndex {
        let mut d = DirIndex {
            slots: vec![NONE; snap.mirrors.len()],
            ..DirIndex::default()
        };
        for &i in dirs {
            let (dir, sd) = (&snap.catalog.directories[i], &snap.directories[i]);
            for dm in &sd.mirrors {
                let f = &facts[dm.mirror as usize];
                let protocols = dm.protocols & f.urls(dir.module.as_deref());
                if protocols == 0 {
                    continue;
                }
                d.add(dm.mirror, f, protocols);
            }
        }
        d
    }

    fn add(&mut self, mirror: u32, f: &Facts, protocols: u8) {
        let known = self.slots[mirror as usize];
        if known != NONE {
            self.candidates[known as usize].protocols |= protocols;
            return;
        }
        let at = self.candidates.len() as u32;
        self.slots[mirror as usize] = at;
        if let Some((provider, regions)) = &f.cloud {
            self.cloud.push((at, provider.clone(), regions.clone()));
        }
        let c = Candidate {
            protocols,
            ..f.candidate.clone()
        };
        if !c.private {
            self.public.push(at, f.weight);
            if c.country != 0 {
                self.by_country
                    .entry(c.country)
                    .or_default()
                    .push(at, f.weight);
            }
            if c.continent != 0 {
                self.by_continent
                    .entry(c.continent)
                    .or_default()
                    .push(at, f.weight);
            }
        }
        self.candidates.push(c);
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
        let facts: Vec<Facts> = (snap.mirrors.iter().enumerate())
            .map(|(i, m)| Facts::of(i as u32, m))
            .collect();
        let dirs: Vec<DirIndex> = (0..snap.directories.len())
            .map(|i| DirIndex::build(snap, &facts, &[i]))
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
            .map(|dirs| {
                let index = OnceLock::new();
                (dirs[0], AllArches { dirs, index })
            })
            .collect();
        Index {
            netblocks: NetblockIndex::build(&snap.mirrors),
            by_asn,
            dirs,
            any_arch,
            facts,
        }
    }
}
