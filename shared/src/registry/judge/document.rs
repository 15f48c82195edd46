//! Judging a registry file as a whole: the document and its keys, and the fields whose
//! rules read several keys at once (addresses, the audience flags, cloud).

use super::*;

impl Judge<'_> {
    /// The file's root mapping, with its repeated keys warned about.
    pub(super) fn root(&mut self, text: &str) -> Option<Node> {
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
        self.expanded = doc.expanded_bytes;
        let Some(root) = doc.root else {
            self.errors
                .push(format!("{}: the file is empty", self.shown));
            return None;
        };
        if root.entries().is_none() {
            self.error(
                Some(&root),
                "(document)",
                format!("expected a mapping of fields, found {}", root.value.kind()),
            );
            return None;
        }
        self.hidden_text(&root, "");
        for d in &doc.duplicates {
            self.warnings.push(format!(
                "{}: line {}: {}: repeats the key of line {}; the last value is used",
                self.shown, d.line, d.key, d.first_line
            ));
        }
        Some(root)
    }

    /// Every text value holding control characters or bidirectional overrides is refused
    /// (registry text reaches operators' terminals and the pages), and so is one longer than
    /// [`MAX_TEXT`] characters or a list of more than [`MAX_ITEMS`]: one registry file must
    /// not swell the store and every snapshot.
    fn hidden_text(&mut self, node: &Node, path: &str) {
        let field = if path.is_empty() { "(document)" } else { path };
        match &node.value {
            Value::Str(text) if text.chars().any(hidden) => {
                let shown = crate::text::bounded(text, 80);
                self.error(
                    Some(node),
                    field,
                    format!("\"{shown}\" holds control or direction-changing characters"),
                );
            }
            Value::Str(text) if text.chars().count() > MAX_TEXT => {
                self.error(
                    Some(node),
                    field,
                    format!("longer than {MAX_TEXT} characters"),
                );
            }
            Value::Seq(items) if items.len() > MAX_ITEMS => {
                self.error(
                    Some(node),
                    field,
                    format!("{} items, more than the {MAX_ITEMS} accepted", items.len()),
                );
            }
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.hidden_text(item, &format!("{path}[{i}]"));
                }
            }
            Value::Map(entries) => {
                for (key, value) in entries {
                    let path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    self.hidden_text(value, &path);
                }
            }
            _ => {}
        }
    }

    /// Unknown keys warned about (with a suggestion); a misspelt `address_optional`, which
    /// is read as it.
    pub(super) fn keys<'n>(&mut self, root: &'n Node) -> Option<&'n Node> {
        let entries = root.entries().unwrap_or_default();
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
        misspelt_optional.map(|(_, n)| n)
    }

    /// The main tree's URLs and each module's.
    pub(super) fn addresses(
        &mut self,
        root: &Node,
        misspelt_optional: Option<&Node>,
    ) -> (Urls, BTreeMap<String, Urls>) {
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
        let optional = root.get("address_optional").or(misspelt_optional);
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
        (urls, module_urls)
    }

    pub(super) fn sponsor_url(&mut self, root: &Node) -> Option<String> {
        self.required_text(root, "sponsor_url")
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
            })
    }

    pub(super) fn email(&mut self, root: &Node) -> Option<String> {
        self.optional_text(root, "email").and_then(|e| {
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
        })
    }

    pub(super) fn update_frequency(&mut self, root: &Node) -> Option<String> {
        match self.optional_text(root, "update_frequency") {
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
        }
    }

    /// `asn`, or `geolocation.asn` where some files put it.
    pub(super) fn top_asns(&mut self, root: &Node) -> Vec<u32> {
        let nested_asn = root.get("geolocation").and_then(|g| g.get("asn"));
        match (root.get("asn"), nested_asn) {
            (None, Some(nested)) => {
                self.warn(
                    Some(nested),
                    "geolocation.asn",
                    "belongs at the top level; read as asn",
                );
                self.asns(Some(nested))
            }
            (top, _) => self.asns(top),
        }
    }

    /// The rules that tie `checked`, `private` and the placement together.
    pub(super) fn placement_rules(&mut self, root: &Node, reach: &Reach) {
        let (private, checked) = (reach.private, reach.checked);
        if !checked && !private {
            self.error(
                root.get("checked"),
                "checked",
                "checked: false is for private mirrors (private: true) the checker cannot reach; \
                 a public mirror is served only when checks show it up to date",
            );
        }
        let cloud = root.get("cloud_type").is_some();
        if !private && !cloud && reach.country_unknown && root.get("geolocation").is_none() {
            self.warn(
                None,
                "geolocation",
                "missing; the mirror is placed by GeoIP of its address, and not at all if that \
                 fails: add geolocation.country",
            );
        }
    }

    /// The rules for a private or monopoly mirror's networks.
    pub(super) fn network_rules(&mut self, root: &Node, reach: &Reach) {
        let Reach {
            private,
            monopoly,
            ref asns,
            ref subnets,
            ref subnets_url,
            ..
        } = *reach;
        if private || monopoly {
            // Such networks take every client in them, so none may be as wide as a region.
            for (i, net) in subnets.iter().enumerate() {
                // A form that embeds IPv4 (`::ffff:0.0.0.0/96`) is as wide as its IPv4 network.
                let judged = crate::net::embedded_v4(net).map_or(*net, IpNet::V4);
                let min = match judged {
                    IpNet::V4(_) => self.rules.min_prefix_v4,
                    IpNet::V6(_) => self.rules.min_prefix_v6,
                };
                if judged.prefix_len() < min {
                    let field = format!("subnets[{i}]");
                    let node = root.get("subnets").and_then(|n| match &n.value {
                        Value::Seq(items) => items.get(i),
                        _ => None,
                    });
                    self.error(
                        node,
                        &field,
                        format!(
                            "{net}{} is wider than /{min}: a private or monopoly mirror takes every client in its networks",
                            if judged == *net { String::new() } else { format!(" (the IPv4 network {judged})") }
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
    }

    pub(super) fn bandwidth(&mut self, root: &Node) -> Option<u32> {
        root.get("bandwidth_mbps").and_then(|n| match n.value {
            Value::Int(i) if (1..=i64::from(u32::MAX)).contains(&i) => Some(i as u32),
            _ => {
                self.warn(
                    Some(n),
                    "bandwidth_mbps",
                    "expected a positive whole number of Mbit/s; ignored",
                );
                None
            }
        })
    }

    pub(super) fn cloud(&mut self, root: &Node) -> (Option<String>, Vec<String>) {
        let cloud_type = self.optional_text(root, "cloud_type");
        let cloud_regions = self.text_list(root.get("cloud_regions"), "cloud_regions");
        if cloud_type.is_some() && cloud_regions.is_empty() {
            self.warn(
                root.get("cloud_type"),
                "cloud_type",
                "set without cloud_regions",
            );
        }
        (cloud_type, cloud_regions)
    }

    pub(super) fn usable_address(&mut self, root: &Node, urls: &Urls) {
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
    }
}

/// A mirror's fields that decide whom it serves, as read.
pub(super) struct Reach {
    pub private: bool,
    pub monopoly: bool,
    pub checked: bool,
    pub asns: Vec<u32>,
    pub subnets: Vec<IpNet>,
    pub subnets_url: Option<String>,
    /// Neither the file nor a `geolocation` says where it is.
    pub country_unknown: bool,
}

/// A character registry text may not hold: controls (C0, DEL, C1) and bidirectional
/// overrides and isolates.
fn hidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The longest text a registry field may hold (a URL, a sponsor's name).
pub(super) const MAX_TEXT: usize = 2048;
/// The most items a registry list may hold (networks, regions, countries).
pub(super) const MAX_ITEMS: usize = 10_000;
