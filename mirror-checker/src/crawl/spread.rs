//! Where a run's failures fall. The 70% rule sets a run aside when most checks fail, as they
//! do when the checker's own network is down; then they fail everywhere. Failures that
//! cluster on a few registrations (one domain's mirrors, or one network's) are those mirrors'
//! own, however many checks they make up: hostile mirrors registered in bulk must not be
//! able to set every run aside.

use super::{CrawlInput, MirrorSummary};
use shared::model::CheckOutcome;
use shared::registry::Mirror;
use std::collections::BTreeMap;

/// Fewer registrations than this in a run say nothing about clustering: the rule judges by
/// the share of failed checks alone.
pub const MIN_GROUPS: usize = 5;

/// A run's mirrors by registration, and who failed.
#[derive(Debug, Default)]
pub struct Spread {
    /// Registrations the run checked.
    pub groups: usize,
    /// Registrations with a failing mirror (more than half its checks failed), with how
    /// many of their mirrors failed, most first.
    pub failing: Vec<(String, usize)>,
    /// The mirrors with the most failed checks: (name, failed, checks), most first.
    pub worst: Vec<(String, usize, usize)>,
}

impl Spread {
    /// The share of registrations with a failing mirror.
    pub fn failing_share(&self) -> f64 {
        self.failing.len() as f64 / self.groups.max(1) as f64
    }

    /// "evil.test (15 mirrors), other.test (1 mirror)", at most `n`.
    pub fn failing_groups(&self, n: usize) -> String {
        let named: Vec<String> = self
            .failing
            .iter()
            .take(n)
            .map(|(g, k)| format!("{g} ({k} mirror{})", if *k == 1 { "" } else { "s" }))
            .collect();
        named.join(", ")
    }

    /// "a (36 of 36), b (30 of 36)", at most `n`.
    pub fn worst_mirrors(&self, n: usize) -> String {
        let named: Vec<String> = self
            .worst
            .iter()
            .take(n)
            .map(|(m, f, c)| format!("{m} ({f} of {c})"))
            .collect();
        named.join(", ")
    }
}

/// Where the failures of `summaries` fall.
pub fn spread(input: &CrawlInput, summaries: &[MirrorSummary]) -> Spread {
    let mirrors: BTreeMap<i64, &Mirror> = input.mirrors.iter().map(|(id, m)| (*id, m)).collect();
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    let mut worst = Vec::new();
    for s in summaries {
        let Some(mirror) = mirrors.get(&s.mirror_id) else {
            continue;
        };
        let errors = s.by_outcome.get(&CheckOutcome::Error).copied().unwrap_or(0);
        let checks = s.by_outcome.values().sum::<usize>() + s.time_checks as usize;
        let failed = errors + s.time_failures as usize;
        let failing = groups.entry(registration(mirror)).or_default();
        if checks > 0 && failed * 2 > checks {
            *failing += 1;
        }
        if failed > 0 {
            worst.push((mirror.name.clone(), failed, checks));
        }
    }
    worst.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut failing: Vec<(String, usize)> = groups
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(g, n)| (g.clone(), *n))
        .collect();
    failing.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Spread {
        groups: groups.len(),
        failing,
        worst,
    }
}

/// Whose a mirror is: its host's domain (the last two labels, three under a country's
/// second-level domain such as `ac.uk`), or for an address its /24 or /48.
pub fn registration(mirror: &Mirror) -> String {
    let host = mirror
        .urls
        .values()
        .find_map(|u| url::Url::parse(u).ok()?.host().map(|h| h.to_owned()));
    match host {
        Some(url::Host::Domain(d)) => domain_of(&d.to_ascii_lowercase()),
        Some(url::Host::Ipv4(a)) => {
            let net = ipnet::Ipv4Net::new(a, 24).expect("24 is a prefix");
            net.trunc().to_string()
        }
        Some(url::Host::Ipv6(a)) => {
            let net = ipnet::Ipv6Net::new(a, 48).expect("48 is a prefix");
            net.trunc().to_string()
        }
        None => mirror.name.clone(),
    }
}

fn domain_of(host: &str) -> String {
    let labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
    let n = labels.len();
    let country_second_level = n >= 3 && labels[n - 1].len() == 2 && labels[n - 2].len() <= 3;
    let keep = if country_second_level { 3 } else { 2 };
    labels[n.saturating_sub(keep)..].join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_are_domains_or_networks() {
        let of = |url: &str| {
            let mut m = Mirror::new("m", "s");
            m.urls.insert(shared::registry::Protocol::Https, url.into());
            registration(&m)
        };
        assert_eq!(of("https://mirror.example.org/alma/"), "example.org");
        assert_eq!(of("https://a.b.example.org/"), "example.org");
        assert_eq!(of("https://mirror.bris.ac.uk/"), "bris.ac.uk");
        assert_eq!(of("https://almalinux.mirror.com.br/"), "mirror.com.br");
        assert_eq!(of("https://ftp.example.de/"), "example.de");
        assert_eq!(of("http://192.0.2.77/alma/"), "192.0.2.0/24");
        assert_eq!(of("http://[2001:db8:1:2::5]/"), "2001:db8:1::/48");
    }
}
