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
use ipnet::IpNet;
use std::collections::BTreeMap;

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
        let doc = match yaml::parse(text) {
            Ok(doc) => doc,
            Err(e) => {
                self.errors.push(format!(
                    "{}: line {}: not valid YAML: {}",
                    self.shown, e.line, e.message
                ));
                return None;
            }
        };
        let Some(root) = doc.root else {
            self.errors
                .push(format!("{}: the file is empty", self.shown));
            return None;
        };
        let Some(entries) = root.entries() else {
            self.error(
                Some(&root),
                "(document)",
                format!("expected a mapping of fields, found {}", root.value.kind()),
            );
            return None;
        };
        for d in &doc.duplicates {
            self.warnings.push(format!(
                "{}: line {}: {}: repeats the key of line {}; the last value is used",
                self.shown, d.line, d.key, d.first_line
            ));
        }
        // A misspelt `address_optional` (one real file writes `address_options`) is read as it
        // when the right key is absent: losing a module's addresses helps nobody.
        let misspelt_optional = (root.get("address_optional").is_none())
            .then(|| {
                entries.iter().find(|(k, _)| {
                    !KNOWN_KEYS.contains(&k.as_str()) && edit_distance(k, "address_optional") <= 2
                })
            })
            .flatten()
            .map(|(k, n)| (k.clone(), n));
        for (key, node) in entries {
            if misspelt_optional.as_ref().is_some_and(|(k, _)| k == key) {
                self.warn(
                    Some(node),
                    key,
                    "unknown key, read as address_optional (did you mean address_optional?)",
                );
            } else if !KNOWN_KEYS.contains(&key.as_str()) {
                let hint = KNOWN_KEYS
                    .iter()
                    .find(|k| edit_distance(k, key) <= 2)
                    .map_or(String::new(), |k| format!(" (did you mean {k}?)"));
                self.warn(Some(node), key, format!("unknown key, ignored{hint}"));
            }
        }
        let name = self.name(root.get("name"));
        let urls = match root.get("address") {
            None => {
                self.error(
                    None,
                    "address",
                    "missing; a mirror needs an http or https base URL",
                );
                Urls::new()
            }
            Some(node) => self.urls(node, "address"),
        };
        let mut module_urls = BTreeMap::new();
        let optional = root
            .get("address_optional")
            .or(misspelt_optional.as_ref().map(|(_, n)| *n));
        if let Some(node) = optional {
            match node.entries() {
                None => self.error(
                    Some(node),
                    "address_optional",
                    format!("expected a mapping of modules, found {}", node.value.kind()),
                ),
                Some(modules) => {
                    for (module, urls_node) in modules {
                        let field = format!("address_optional.{module}");
                        if !module
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                            || module.is_empty()
                        {
                            self.error(Some(urls_node), &field, "not a module name");
                            continue;
                        }
                        let urls = self.urls(urls_node, &field);
                        if !urls.is_empty() {
                            module_urls.insert(module.clone(), urls);
                        }
                    }
                }
            }
        }
        let sponsor = self.required_text(&root, "sponsor");
        let sponsor_url =
            self.required_text(&root, "sponsor_url")
                .and_then(|u| match url::Url::parse(&u) {
                    Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Some(u),
                    _ if valid_hostname(u.trim_end_matches('/')) => {
                        let read = format!("https://{}/", u.trim_end_matches('/'));
                        self.warn(
                            root.get("sponsor_url"),
                            "sponsor_url",
                            format!("{u:?} has no scheme; read as {read:?}"),
                        );
                        Some(read)
                    }
                    _ => {
                        self.warn(
                            root.get("sponsor_url"),
                            "sponsor_url",
                            format!("{u:?} is not an http(s) URL; ignored"),
                        );
                        None
                    }
                });
        let email = self.optional_text(&root, "email").and_then(|e| {
            let ok = e.split_once('@').is_some_and(|(user, host)| {
                !user.is_empty() && host.contains('.') && !e.contains(char::is_whitespace)
            });
            if ok {
                Some(e)
            } else {
                self.warn(
                    root.get("email"),
                    "email",
                    format!("{e:?} is not an email address; ignored"),
                );
                None
            }
        });
        let update_frequency = match self.optional_text(&root, "update_frequency") {
            None => {
                self.warn(
                    root.get("update_frequency"),
                    "update_frequency",
                    "missing; the checker assumes the mirror syncs at least daily",
                );
                None
            }
            Some(f) => {
                if let Err(e) = crate::duration::parse_duration(&f) {
                    self.warn(
                        root.get("update_frequency"),
                        "update_frequency",
                        format!("{e}; kept as written"),
                    );
                }
                Some(f)
            }
        };
        let geo = self.geo(root.get("geolocation"));
        let private = self.flag(&root, "private", false);
        let monopoly = self.flag(&root, "monopoly", false);
        let enabled = self.flag(&root, "enabled", true);
        let approved = self.flag(&root, "approved", true);
        let checked = self.flag(&root, "checked", true);
        let nested_asn = root.get("geolocation").and_then(|g| g.get("asn"));
        let asns = match (root.get("asn"), nested_asn) {
            (None, Some(nested)) => {
                self.warn(
                    Some(nested),
                    "geolocation.asn",
                    "belongs at the top level; read as asn",
                );
                self.asns(Some(nested))
            }
            (top, _) => self.asns(top),
        };
        if !checked && !private {
            self.error(
                root.get("checked"),
                "checked",
                "checked: false is for private mirrors (private: true) the checker cannot reach; \
                 a public mirror is served only when checks show it up to date",
            );
        }
        let cloud = root.get("cloud_type").is_some();
        if !private && !cloud && geo.country.is_none() && root.get("geolocation").is_none() {
            self.warn(
                None,
                "geolocation",
                "missing; the mirror is placed by GeoIP of its address, and not at all if that \
                 fails: add geolocation.country",
            );
        }
        let (subnets, subnets_url) = self.subnets(root.get("subnets"));
        if private || monopoly {
            // Such networks take every client in them, so none may be as wide as a region.
            for (i, net) in subnets.iter().enumerate() {
                let min = match net {
                    IpNet::V4(_) => self.rules.min_prefix_v4,
                    IpNet::V6(_) => self.rules.min_prefix_v6,
                };
                if net.prefix_len() < min {
                    let field = format!("subnets[{i}]");
                    let node = root.get("subnets").and_then(|n| match &n.value {
                        Value::Seq(items) => items.get(i),
                        _ => None,
                    });
                    self.error(
                        node,
                        &field,
                        format!(
                            "{net} is wider than /{min}: a private or monopoly mirror takes every client in its networks"
                        ),
                    );
                }
            }
        }
        if monopoly && !private {
            self.warn(root.get("monopoly"), "monopoly", "set without private: true; clients that match get this mirror alone, others may still get it");
        }
        if private && asns.is_empty() && subnets.is_empty() && subnets_url.is_none() {
            self.warn(
                root.get("private"),
                "private",
                "a private mirror without subnets or asn matches no client and is never served",
            );
        }
        let bandwidth_mbps = root.get("bandwidth_mbps").and_then(|n| match n.value {
            Value::Int(i) if (1..=i64::from(u32::MAX)).contains(&i) => Some(i as u32),
            _ => {
                self.warn(
                    Some(n),
                    "bandwidth_mbps",
                    "expected a positive whole number of Mbit/s; ignored",
                );
                None
            }
        });
        let countries_allowed = self.countries(root.get("countries_allowed"));
        let cloud_type = self.optional_text(&root, "cloud_type");
        let cloud_regions = self.text_list(root.get("cloud_regions"), "cloud_regions");
        if cloud_type.is_some() && cloud_regions.is_empty() {
            self.warn(
                root.get("cloud_type"),
                "cloud_type",
                "set without cloud_regions",
            );
        }
        if !urls.contains_key(&Protocol::Http)
            && !urls.contains_key(&Protocol::Https)
            && root.get("address").is_some()
        {
            self.error(
                root.get("address"),
                "address",
                "no usable http or https base URL; dnf could not use this mirror",
            );
        }
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
        })
    }
}
