//! The rules registry files are judged by, field by field.
//!
//! Rejected: a file that is not one YAML mapping; no valid `name`; no usable http or https
//! base URL; credentials in a web URL; a query or fragment in a base URL; `sponsor` or
//! `sponsor_url` missing; invalid ASNs, CIDRs or a subnets URL; a routing flag (`private`,
//! `monopoly`, `enabled`, `approved`) that is not a boolean; a name registered by an earlier
//! file. These change who gets the mirror, or identify it, so guessing would be wrong.
//!
//! Accepted with warnings (the value is normalised or ignored, and the warning says which):
//! unknown keys, repeated keys, country names or aliases instead of codes, unknown countries,
//! an address under the wrong protocol, rsync `host::module` notation, bad optional fields
//! (email, coordinates, update frequency), `monopoly` without `private`, a private mirror
//! nobody can match, CIDRs with host bits set.

use super::{Geo, Mirror, Protocol, Urls};
use crate::geo::{match_country, CountryMatch};
use crate::yaml::{self, Node, Value};
use document::Reach;
use ipnet::IpNet;
use std::collections::BTreeMap;

mod document;
mod fields;
mod network;
mod urls;

const KNOWN_KEYS: &[&str] = &[
    "name",
    "address",
    "address_optional",
    "geolocation",
    "update_frequency",
    "sponsor",
    "sponsor_url",
    "email",
    "asn",
    "subnets",
    "private",
    "monopoly",
    "cloud_type",
    "cloud_regions",
    "bandwidth_mbps",
    "countries_allowed",
    "enabled",
    "approved",
    "checked",
];

pub(super) struct Judge<'a> {
    pub(super) rules: &'a super::Rules,
    pub(super) shown: &'a str,
    pub(super) errors: Vec<String>,
    pub(super) warnings: Vec<String>,
    /// The text the file expanded to, aliases included.
    pub(super) expanded: usize,
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A host name: dot-separated labels of letters, digits and dashes.
pub(crate) fn valid_hostname(name: &str) -> bool {
    name.len() <= 253
        && name.contains('.')
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

impl Judge<'_> {
    fn error(&mut self, node: Option<&Node>, field: &str, problem: impl std::fmt::Display) {
        let at = node.map_or(String::new(), |n| format!("line {}: ", n.line));
        self.errors
            .push(format!("{}: {at}{field}: {problem}", self.shown));
    }

    fn warn(&mut self, node: Option<&Node>, field: &str, problem: impl std::fmt::Display) {
        let at = node.map_or(String::new(), |n| format!("line {}: ", n.line));
        self.warnings
            .push(format!("{}: {at}{field}: {problem}", self.shown));
    }

    pub(super) fn name_hint(&self, text: &str) -> Option<String> {
        let root = yaml::parse(text).ok()?.root?;
        root.get("name")?.text()
    }

    pub(super) fn mirror(&mut self, text: &str) -> Option<Mirror> {
        let root = self.root(text)?;
        let misspelt_optional = self.keys(&root);
        let name = self.name(root.get("name"));
        let (urls, module_urls) = self.addresses(&root, misspelt_optional);
        let sponsor = self.required_text(&root, "sponsor");
        let sponsor_url = self.sponsor_url(&root);
        let email = self.email(&root);
        let update_frequency = self.update_frequency(&root);
        let geo = self.geo(root.get("geolocation"));
        let private = self.flag(&root, "private", false);
        let monopoly = self.flag(&root, "monopoly", false);
        let enabled = self.flag(&root, "enabled", true);
        let approved = self.flag(&root, "approved", true);
        let mut reach = Reach {
            private,
            monopoly,
            checked: self.flag(&root, "checked", true),
            asns: self.top_asns(&root),
            subnets: Vec::new(),
            subnets_url: None,
            country_unknown: geo.country.is_none(),
        };
        self.placement_rules(&root, &reach);
        (reach.subnets, reach.subnets_url) = self.subnets(root.get("subnets"));
        self.network_rules(&root, &reach);
        let bandwidth_mbps = self.bandwidth(&root);
        let countries_allowed = self.countries(root.get("countries_allowed"));
        let (cloud_type, cloud_regions) = self.cloud(&root);
        self.usable_address(&root, &urls);
        let Reach {
            private,
            monopoly,
            checked,
            asns,
            subnets,
            subnets_url,
            ..
        } = reach;
        Some(Mirror {
            name: name?,
            sponsor: sponsor?,
            sponsor_url,
            email,
            urls,
            module_urls,
            geo,
            bandwidth_mbps,
            private,
            monopoly,
            asns,
            subnets,
            subnets_url,
            countries_allowed,
            cloud_type,
            cloud_regions,
            update_frequency,
            enabled,
            approved,
            checked,
            source_file: None,
            held: None,
        })
    }
}
