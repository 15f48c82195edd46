//! Who behaves how: a deterministic (seeded) assignment of behaviours and address families to
//! the mirrors of a registry, with explicit overrides for tests.

use std::collections::HashMap;
use std::time::Duration;

/// What a simulated mirror does when asked for files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// Serves the master's current version.
    Current,
    /// Serves the version this many publications behind the master (never below the first).
    Behind(u32),
    /// Lacks some repos: their directories answer 404.
    MissingRepos,
    /// Answers 404 to everything.
    NotFound,
    /// Answers 500 to everything.
    ServerError,
    /// Answers correctly after a delay.
    Slow(Duration),
    /// Sends headers, then never the body.
    HangAfterHeaders,
    /// Announces the full length, sends half, closes the connection.
    Truncated,
    /// Sends a body of this many bytes instead of the file.
    Oversized(u64),
    /// Redirects back and forth between two URLs.
    RedirectLoop,
    /// Presents a self-signed certificate over HTTPS (HTTP works).
    SelfSigned,
    /// Nothing listens: connections are refused.
    Refused,
    /// Half-synced: the master's current repomd.xml, but only the previous version's files
    /// (those the new repomd.xml names answer 404).
    HalfSynced,
    /// Current metadata, but no packages: everything under `Packages/` answers 404.
    PackagesMissing,
    /// Current, but every metadata file repomd.xml names is longer than it says.
    WrongSize,
    /// Syncs this long after each publication: serves the newest version published at least
    /// that long ago (propagation).
    Delayed(Duration),
}

impl Behavior {
    pub fn label(&self) -> String {
        match self {
            Behavior::Behind(n) => format!("behind-{n}"),
            Behavior::Slow(d) => format!("slow-{}ms", d.as_millis()),
            Behavior::Oversized(n) => format!("oversized-{n}"),
            Behavior::HalfSynced => "half-synced".into(),
            Behavior::PackagesMissing => "packages-missing".into(),
            Behavior::WrongSize => "wrong-size".into(),
            Behavior::Delayed(d) => format!("delayed-{}ms", d.as_millis()),
            other => format!("{other:?}").to_lowercase(),
        }
    }
}

/// Address families a simulated mirror answers on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Families {
    V4,
    V6,
    Dual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub behavior: Behavior,
    pub families: Families,
}

/// How behaviours are spread over mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// Every mirror current, dual-stack where the machine has IPv6: the benchmark's network.
    AllCurrent,
    /// Mostly current, with a few of every failure: the realistic network.
    Realistic,
    /// Every mirror current but answering each request after a delay: crawls that take a
    /// while, for tests that interrupt them.
    AllSlow(Duration),
}

/// SplitMix64: a tiny, fast, seedable generator; good enough to spread behaviours.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

/// Percent shares of the realistic mix; what is left over is `Current`.
const REALISTIC: &[(u64, Behavior)] = &[
    (7, Behavior::Behind(1)),
    (4, Behavior::Behind(3)),
    (4, Behavior::MissingRepos),
    (2, Behavior::NotFound),
    (2, Behavior::ServerError),
    (2, Behavior::Slow(Duration::from_millis(300))),
    (1, Behavior::HangAfterHeaders),
    (1, Behavior::Truncated),
    (1, Behavior::Oversized(100 << 20)),
    (1, Behavior::RedirectLoop),
    (2, Behavior::SelfSigned),
    (3, Behavior::Refused),
    (2, Behavior::HalfSynced),
    (1, Behavior::PackagesMissing),
    (1, Behavior::WrongSize),
];

/// Assigns a profile to every name, deterministically for a seed; `overrides` win.
pub fn assign(
    names: &[String],
    seed: u64,
    mix: Mix,
    ipv6: bool,
    overrides: &HashMap<String, Profile>,
) -> HashMap<String, Profile> {
    let mut out = HashMap::new();
    for name in names {
        // Seed per name, so adding a mirror does not reshuffle the others.
        let mut rng = Rng::new(seed ^ shared::model::stable_hash(name));
        let behavior = match mix {
            Mix::AllCurrent => Behavior::Current,
            Mix::AllSlow(d) => Behavior::Slow(d),
            Mix::Realistic => {
                let roll = rng.below(100);
                let mut acc = 0;
                REALISTIC
                    .iter()
                    .find(|(share, _)| {
                        acc += share;
                        roll < acc
                    })
                    .map_or(Behavior::Current, |(_, b)| *b)
            }
        };
        let families = if !ipv6 {
            Families::V4
        } else {
            match (mix, rng.below(100)) {
                (Mix::AllCurrent | Mix::AllSlow(_), _) => Families::Dual,
                (_, r) if r < 60 => Families::Dual,
                (_, r) if r < 95 => Families::V4,
                _ => Families::V6,
            }
        };
        let profile = overrides
            .get(name)
            .copied()
            .unwrap_or(Profile { behavior, families });
        let families = if ipv6 { profile.families } else { Families::V4 };
        out.insert(
            name.clone(),
            Profile {
                families,
                ..profile
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_is_deterministic_and_mixed() {
        let names: Vec<String> = (0..1000).map(|i| format!("m{i}.example.org")).collect();
        let a = assign(&names, 7, Mix::Realistic, true, &HashMap::new());
        assert_eq!(a, assign(&names, 7, Mix::Realistic, true, &HashMap::new()));
        assert_ne!(a, assign(&names, 8, Mix::Realistic, true, &HashMap::new()));
        let current = a
            .values()
            .filter(|p| p.behavior == Behavior::Current)
            .count();
        assert!((600..800).contains(&current), "{current}");
        for (_, b) in REALISTIC {
            assert!(a.values().any(|p| p.behavior == *b), "{b:?} never assigned");
        }
        let forced = HashMap::from([(
            names[0].clone(),
            Profile {
                behavior: Behavior::Refused,
                families: Families::V6,
            },
        )]);
        let b = assign(&names, 7, Mix::Realistic, false, &forced);
        assert_eq!(b[&names[0]].behavior, Behavior::Refused);
        assert!(
            shared::testing::AllOf::all_of(b.values(), |p| p.families == Families::V4),
            "no IPv6 on the machine"
        );
    }
}
