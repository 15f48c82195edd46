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
];

pub(super) struct Judge<'a> {
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
        for (key, node) in entries {
            if !KNOWN_KEYS.contains(&key.as_str()) {
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
        if let Some(node) = root.get("address_optional") {
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
        let asns = self.asns(root.get("asn"));
        let (subnets, subnets_url) = self.subnets(root.get("subnets"));
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
        })
    }

    fn name(&mut self, node: Option<&Node>) -> Option<String> {
        let Some(node) = node else {
            self.error(
                None,
                "name",
                "missing; the mirror's host name is its identity",
            );
            return None;
        };
        let Some(raw) = node.text() else {
            self.error(
                Some(node),
                "name",
                format!("expected a host name, found {}", node.value.kind()),
            );
            return None;
        };
        let name = raw.trim().to_ascii_lowercase();
        if !valid_hostname(&name) {
            self.error(
                Some(node),
                "name",
                format!("{raw:?} is not a host name (no scheme, no slash, no port)"),
            );
            return None;
        }
        if name != raw {
            self.warn(Some(node), "name", format!("{raw:?} written as {name:?}"));
        }
        Some(name)
    }

    fn text_of(&mut self, node: &Node, field: &str) -> Option<String> {
        match node.text() {
            Some(t) if !t.trim().is_empty() => Some(t.trim().to_string()),
            _ if node.value == Value::Null => None,
            _ => {
                self.warn(
                    Some(node),
                    field,
                    format!("expected text, found {}; ignored", node.value.kind()),
                );
                None
            }
        }
    }

    fn optional_text(&mut self, root: &Node, field: &str) -> Option<String> {
        let node = root.get(field)?;
        self.text_of(node, field)
    }

    fn required_text(&mut self, root: &Node, field: &str) -> Option<String> {
        let value = match root.get(field) {
            None => None,
            Some(node) => match node.text() {
                Some(t) if !t.trim().is_empty() => Some(t.trim().to_string()),
                _ => None,
            },
        };
        if value.is_none() {
            self.error(
                root.get(field),
                field,
                "missing or empty; the registry requires it",
            );
        }
        value
    }

    fn flag(&mut self, root: &Node, field: &str, default: bool) -> bool {
        match root.get(field) {
            None => default,
            Some(Node {
                value: Value::Bool(b),
                ..
            }) => *b,
            Some(Node {
                value: Value::Null, ..
            }) => default,
            Some(node) => {
                let raw = node.raw.as_deref().unwrap_or(node.value.kind());
                // The registry is read by YAML 1.1 parsers elsewhere, where these are booleans.
                let yaml11 = match raw.to_ascii_lowercase().as_str() {
                    "yes" | "y" | "on" => Some(true),
                    "no" | "n" | "off" => Some(false),
                    _ => None,
                };
                match yaml11 {
                    Some(b) if matches!(node.value, Value::Str(_)) => {
                        self.warn(
                            Some(node),
                            field,
                            format!("{raw} read as {b}; write true or false"),
                        );
                        b
                    }
                    _ => {
                        self.error(
                            Some(node),
                            field,
                            format!("expected true or false, found {raw}"),
                        );
                        default
                    }
                }
            }
        }
    }

    fn text_list(&mut self, node: Option<&Node>, field: &str) -> Vec<String> {
        let Some(node) = node else { return Vec::new() };
        match &node.value {
            Value::Null => Vec::new(),
            Value::Seq(items) => items
                .iter()
                .filter_map(|i| self.text_of(i, field))
                .collect(),
            _ => match self.text_of(node, field) {
                Some(t) => vec![t],
                None => Vec::new(),
            },
        }
    }

    fn urls(&mut self, node: &Node, field: &str) -> Urls {
        let mut urls = Urls::new();
        let Some(entries) = node.entries() else {
            self.error(
                Some(node),
                field,
                format!(
                    "expected a mapping of protocol to URL, found {}",
                    node.value.kind()
                ),
            );
            return urls;
        };
        for (key, value) in entries {
            let f = format!("{field}.{key}");
            let Some(protocol) = Protocol::parse(key) else {
                self.warn(
                    Some(value),
                    &f,
                    "unknown protocol, ignored (http, https, rsync, ftp)",
                );
                continue;
            };
            let Some(raw) = value.text() else {
                if value.value != Value::Null {
                    self.error(
                        Some(value),
                        &f,
                        format!("expected a URL, found {}", value.value.kind()),
                    );
                }
                continue;
            };
            if let Some(url) = self.base_url(value, &f, protocol, raw.trim()) {
                urls.insert(protocol, url);
            }
        }
        // A web URL filed under the other web protocol is used where it belongs when that
        // slot is free (`http: https://...` on a mirror that lists no https).
        for (key, value) in entries {
            let Some(wrong) = Protocol::parse(key).filter(|p| p.is_web()) else {
                continue;
            };
            let Some(raw) = value.text() else { continue };
            let right = if raw.trim().starts_with("https://") {
                Protocol::Https
            } else {
                Protocol::Http
            };
            if right == wrong || !raw.trim().starts_with(right.as_str()) {
                continue;
            }
            let f = format!("{field}.{key}");
            match urls.entry(right) {
                std::collections::btree_map::Entry::Occupied(_) => self.warn(
                    Some(value),
                    &f,
                    format!("{raw:?} is not a {wrong} URL; ignored (the {right} address is given)"),
                ),
                std::collections::btree_map::Entry::Vacant(slot) => {
                    if let Some(url) = self.base_url(value, &f, right, raw.trim()) {
                        self.warn(
                            Some(value),
                            &f,
                            format!("{raw:?} is a {right} URL; used as the {right} address"),
                        );
                        slot.insert(url);
                    }
                }
            }
        }
        urls
    }

    fn base_url(
        &mut self,
        node: &Node,
        field: &str,
        protocol: Protocol,
        raw: &str,
    ) -> Option<String> {
        // rsync's daemon notation host::module.
        let mut text = raw.to_string();
        if protocol == Protocol::Rsync {
            let rest = raw.strip_prefix("rsync://").unwrap_or(raw);
            if let Some((host, module)) = rest.split_once("::") {
                text = format!("rsync://{host}/{}", module.trim_start_matches('/'));
                self.warn(Some(node), field, format!("{raw:?} read as {text:?}"));
            }
        }
        let url = match url::Url::parse(&text) {
            Ok(u) => u,
            Err(e) => {
                let problem = format!("{raw:?} is not a URL ({e})");
                if protocol.is_web() {
                    self.error(Some(node), field, problem);
                } else {
                    self.warn(Some(node), field, format!("{problem}; ignored"));
                }
                return None;
            }
        };
        if url.scheme() != protocol.as_str() {
            let moved = protocol.is_web() && matches!(url.scheme(), "http" | "https");
            if !moved {
                self.warn(
                    Some(node),
                    field,
                    format!("{raw:?} is not a {protocol} URL; ignored"),
                );
            }
            return None;
        }
        if url.password().is_some() || (protocol.is_web() && !url.username().is_empty()) {
            self.error(
                Some(node),
                field,
                "the URL carries credentials; remove them (and change the password if it was real)",
            );
            return None;
        }
        if url.query().is_some() || url.fragment().is_some() {
            self.error(
                Some(node),
                field,
                format!("{raw:?}: a base URL has no query or fragment"),
            );
            return None;
        }
        match url.host_str() {
            Some(host) if !host.is_empty() => {}
            _ => {
                self.error(Some(node), field, format!("{raw:?} has no host"));
                return None;
            }
        }
        let mut s = url.to_string();
        if !s.ends_with('/') {
            s.push('/');
        }
        Some(s)
    }

    fn geo(&mut self, node: Option<&Node>) -> Geo {
        let mut geo = Geo::default();
        let Some(node) = node else { return geo };
        if node.value == Value::Null {
            return geo;
        }
        if node.entries().is_none() {
            self.warn(
                Some(node),
                "geolocation",
                format!("expected a mapping, found {}; ignored", node.value.kind()),
            );
            return geo;
        }
        for (key, value) in node.entries().unwrap_or_default() {
            if !matches!(
                key.as_str(),
                "country" | "state_province" | "city" | "latitude" | "longitude"
            ) {
                self.warn(
                    Some(value),
                    &format!("geolocation.{key}"),
                    "unknown key, ignored",
                );
            }
        }
        if let Some(c) = node.get("country") {
            if let Some(raw) = self.text_of(c, "geolocation.country") {
                match match_country(&raw) {
                    CountryMatch::Code(code) => geo.country = Some(code.to_string()),
                    CountryMatch::Normalized(code) => {
                        self.warn(Some(c), "geolocation.country", format!("{raw:?} is not an ISO 3166 code; read as {code}"));
                        geo.country = Some(code.to_string());
                    }
                    CountryMatch::Unknown => self.warn(
                        Some(c),
                        "geolocation.country",
                        format!("{raw:?} is not a known country; ignored, the mirror will be placed by the address of its host"),
                    ),
                }
            }
        }
        geo.state_province = node
            .get("state_province")
            .and_then(|n| self.text_of(n, "geolocation.state_province"));
        geo.city = node
            .get("city")
            .and_then(|n| self.text_of(n, "geolocation.city"));
        let coordinate = |n: Option<&Node>| match n.map(|n| &n.value) {
            Some(Value::Float(f)) => Some(Some(*f)),
            Some(Value::Int(i)) => Some(Some(*i as f64)),
            None | Some(Value::Null) => Some(None),
            _ => None,
        };
        match (
            coordinate(node.get("latitude")),
            coordinate(node.get("longitude")),
        ) {
            (Some(Some(lat)), Some(Some(lon)))
                if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) =>
            {
                geo.latitude = Some(lat);
                geo.longitude = Some(lon);
            }
            (Some(None), Some(None)) => {}
            _ => self.warn(
                node.get("latitude").or(node.get("longitude")),
                "geolocation.latitude/longitude",
                "expected both, as degrees within -90..90 and -180..180; ignored",
            ),
        }
        geo
    }

    fn asns(&mut self, node: Option<&Node>) -> Vec<u32> {
        let Some(node) = node else { return Vec::new() };
        let items: Vec<&Node> = match &node.value {
            Value::Null => return Vec::new(),
            Value::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        let mut asns = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let field = if node.items().is_some() {
                format!("asn[{i}]")
            } else {
                "asn".into()
            };
            let parsed = match &item.value {
                Value::Int(n) => u32::try_from(*n).ok().filter(|n| *n > 0),
                Value::Str(s) => s
                    .trim()
                    .trim_start_matches("AS")
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0),
                _ => None,
            };
            match parsed {
                Some(n) if !asns.contains(&n) => asns.push(n),
                Some(n) => self.warn(Some(item), &field, format!("AS{n} is listed twice")),
                None => self.error(
                    Some(item),
                    &field,
                    format!(
                        "{} is not an AS number (1 to 4294967295)",
                        item.raw.as_deref().unwrap_or(item.value.kind())
                    ),
                ),
            }
        }
        asns
    }

    fn subnets(&mut self, node: Option<&Node>) -> (Vec<IpNet>, Option<String>) {
        let Some(node) = node else {
            return (Vec::new(), None);
        };
        match &node.value {
            Value::Null => (Vec::new(), None),
            Value::Str(s) if s.contains("://") => match url::Url::parse(s) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.password().is_none() => {
                    (Vec::new(), Some(u.to_string()))
                }
                _ => {
                    self.error(
                        Some(node),
                        "subnets",
                        format!(
                            "{s:?} is neither a list of CIDRs nor an http(s) URL returning one"
                        ),
                    );
                    (Vec::new(), None)
                }
            },
            Value::Seq(items) => {
                let mut nets: Vec<IpNet> = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let field = format!("subnets[{i}]");
                    let Some(text) = item.text() else {
                        self.error(
                            Some(item),
                            &field,
                            format!("expected a CIDR, found {}", item.value.kind()),
                        );
                        continue;
                    };
                    match parse_cidr(text.trim()) {
                        Ok(net) => {
                            if net.trunc() != net {
                                self.warn(
                                    Some(item),
                                    &field,
                                    format!("{text} has host bits set; read as {}", net.trunc()),
                                );
                            }
                            let net = net.trunc();
                            if nets.contains(&net) {
                                self.warn(Some(item), &field, format!("{net} is listed twice"));
                            } else {
                                nets.push(net);
                            }
                        }
                        Err(problem) => {
                            self.error(Some(item), &field, format!("{text:?}: {problem}"))
                        }
                    }
                }
                (nets, None)
            }
            _ => {
                self.error(
                    Some(node),
                    "subnets",
                    format!(
                        "expected a list of CIDRs or a URL, found {}",
                        node.value.kind()
                    ),
                );
                (Vec::new(), None)
            }
        }
    }

    fn countries(&mut self, node: Option<&Node>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (i, raw) in self
            .text_list(node, "countries_allowed")
            .into_iter()
            .enumerate()
        {
            match match_country(&raw) {
                CountryMatch::Code(c) | CountryMatch::Normalized(c)
                    if !out.iter().any(|o| o == c) =>
                {
                    out.push(c.to_string())
                }
                CountryMatch::Code(_) | CountryMatch::Normalized(_) => {}
                CountryMatch::Unknown => self.error(
                    node,
                    &format!("countries_allowed[{i}]"),
                    format!("{raw:?} is not a country code"),
                ),
            }
        }
        out
    }
}

/// A CIDR, or a bare address taken as a single-host network.
fn parse_cidr(text: &str) -> Result<IpNet, String> {
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net);
    }
    if let Ok(addr) = text.parse::<std::net::IpAddr>() {
        return Ok(IpNet::from(addr));
    }
    Err("not a CIDR such as 192.0.2.0/24 or 2001:db8::/32".into())
}
