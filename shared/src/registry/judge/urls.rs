//! Judging base URLs: schemes, hosts, credentials, paths, per-protocol and per-module.

use super::*;

impl Judge<'_> {
    pub(super) fn urls(&mut self, node: &Node, field: &str) -> Urls {
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

    pub(super) fn base_url(
        &mut self,
        node: &Node,
        field: &str,
        protocol: Protocol,
        raw: &str,
    ) -> Option<String> {
        // rsync's daemon notation host::module.
        let mut text = raw.to_string();
        let mut said = false;
        if protocol == Protocol::Rsync {
            let rest = raw.strip_prefix("rsync://").unwrap_or(raw);
            if let Some((host, module)) = rest.split_once("::") {
                text = format!("rsync://{host}/{}", module.trim_start_matches('/'));
                self.warn(Some(node), field, format!("{raw:?} read as {text:?}"));
                said = true;
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
        let literal = match url.host() {
            Some(url::Host::Ipv4(a)) => Some(std::net::IpAddr::V4(a)),
            Some(url::Host::Ipv6(a)) => Some(std::net::IpAddr::V6(a)),
            _ => None,
        };
        if let Some(ip) =
            literal.filter(|ip| crate::net::is_forbidden(*ip, &self.rules.allow_internal))
        {
            self.error(
                Some(node),
                field,
                format!(
                    "{raw:?} is at an internal address ({ip}: loopback, private, link-local or reserved); a mirror must be reachable on the Internet"
                ),
            );
            return None;
        }
        let mut s = url.to_string();
        if !s.ends_with('/') {
            s.push('/');
        }
        // Parsing normalises (`host:/path` loses its empty port, a host is lower-cased): a
        // reading that differs from what was written, beyond the final slash, is said.
        if !said && s.trim_end_matches('/') != text.trim_end_matches('/') {
            self.warn(Some(node), field, format!("{raw:?} read as {s:?}"));
        }
        Some(s)
    }
}
