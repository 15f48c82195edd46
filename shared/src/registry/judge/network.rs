//! Judging where a mirror is and whom it serves: geolocation, ASNs, subnets, allowed
//! countries.

use super::*;

impl Judge<'_> {
    pub(super) fn geo(&mut self, node: Option<&Node>) -> Geo {
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
                "country" | "state_province" | "city" | "latitude" | "longitude" | "asn"
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

    pub(super) fn asns(&mut self, node: Option<&Node>) -> Vec<u32> {
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

    pub(super) fn subnets(&mut self, node: Option<&Node>) -> (Vec<IpNet>, Option<String>) {
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

    pub(super) fn countries(&mut self, node: Option<&Node>) -> Vec<String> {
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
