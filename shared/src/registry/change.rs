//! An edit of a mirror the control plane manages: its fields as the form shows them, and
//! what in a change needs an admin. A new or changed URL (it must be proven again) and a
//! wider audience (private made public, more countries, a private mirror's networks grown)
//! wait for one; the rest (contacts, sponsor, bandwidth, narrower audiences) apply at once.

use super::Mirror;
use std::collections::BTreeMap;

/// `m`'s fields as the registration form takes them.
pub fn fields_of(m: &Mirror) -> BTreeMap<String, String> {
    let mut f = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            f.insert(k.to_string(), v);
        }
    };
    put("name", Some(m.name.clone()));
    put("sponsor", Some(m.sponsor.clone()));
    put("sponsor_url", m.sponsor_url.clone());
    put("email", m.email.clone());
    for (protocol, url) in &m.urls {
        put(protocol.as_str(), Some(url.clone()));
    }
    put("country", m.geo.country.clone());
    put("state_province", m.geo.state_province.clone());
    put("city", m.geo.city.clone());
    put("bandwidth_mbps", m.bandwidth_mbps.map(|b| b.to_string()));
    put("update_frequency", m.update_frequency.clone());
    let lines = |items: Vec<String>| Some(items.join("\n"));
    put(
        "subnets",
        lines(m.subnets.iter().map(ToString::to_string).collect()),
    );
    put(
        "asn",
        lines(m.asns.iter().map(ToString::to_string).collect()),
    );
    put("countries_allowed", lines(m.countries_allowed.clone()));
    put("private", m.private.then(|| "true".to_string()));
    f
}

/// Why changing `old` into `new` needs an admin; empty when it applies at once.
pub fn needs_admin(old: &Mirror, new: &Mirror) -> Vec<String> {
    let mut why = Vec::new();
    for (protocol, url) in &new.urls {
        if old.urls.get(protocol) != Some(url) {
            why.push(format!(
                "{}: a new URL ({url}) is proven again and approved by an admin",
                protocol.as_str()
            ));
        }
    }
    if old.private && !new.private {
        why.push("private: a private mirror made public serves everyone".into());
    }
    let old_all = old.countries_allowed.is_empty();
    let more = new
        .countries_allowed
        .iter()
        .filter(|c| !old.countries_allowed.contains(c))
        .cloned()
        .collect::<Vec<_>>();
    if !old_all && (new.countries_allowed.is_empty() || !more.is_empty()) {
        let to = if new.countries_allowed.is_empty() {
            "every country".into()
        } else {
            more.join(", ")
        };
        why.push(format!(
            "countries_allowed: the mirror would serve {to} too"
        ));
    }
    if new.private {
        let wider_nets = new
            .subnets
            .iter()
            .any(|n| !old.subnets.iter().any(|o| o.contains(n)));
        let wider_asns = new.asns.iter().any(|a| !old.asns.contains(a));
        if wider_nets {
            why.push("subnets: a private mirror's new networks widen whom it serves".into());
        }
        if wider_asns {
            why.push("asn: a private mirror's new ASNs widen whom it serves".into());
        }
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{form, Protocol, Rules};

    fn mirror() -> Mirror {
        let mut m = Mirror::new("m.example.org", "Example");
        m.sponsor_url = Some("https://example.org/".into());
        m.email = Some("ops@example.org".into());
        m.urls
            .insert(Protocol::Https, "https://m.example.org/almalinux/".into());
        m.geo.country = Some("DE".into());
        m.bandwidth_mbps = Some(1000);
        m.private = true;
        m.subnets = vec!["192.0.2.0/24".parse().unwrap()];
        m.asns = vec![64500];
        m.countries_allowed = vec!["DE".into(), "AT".into()];
        m
    }

    #[test]
    fn a_mirrors_fields_judge_back_to_the_same_mirror() {
        let m = mirror();
        let judged = form::judge_fields(&fields_of(&m), &Rules::default());
        assert!(judged.errors.is_empty(), "{:?}", judged.errors);
        let again = judged.mirror.unwrap();
        assert_eq!(
            (again.urls, again.subnets, again.asns),
            (m.urls.clone(), m.subnets.clone(), m.asns.clone())
        );
        assert_eq!(
            (again.private, again.countries_allowed, again.bandwidth_mbps),
            (true, m.countries_allowed, Some(1000))
        );
    }

    #[test]
    fn urls_and_wider_audiences_need_an_admin_and_the_rest_does_not() {
        let old = mirror();
        let mut narrow = old.clone();
        narrow.email = Some("new@example.org".into());
        narrow.bandwidth_mbps = Some(10);
        narrow.countries_allowed = vec!["DE".into()];
        narrow.subnets = vec!["192.0.2.0/25".parse().unwrap()];
        assert!(
            needs_admin(&old, &narrow).is_empty(),
            "{:?}",
            needs_admin(&old, &narrow)
        );
        type Change = fn(&mut Mirror);
        let cases: [(&str, Change); 6] = [
            ("https:", |m| {
                m.urls
                    .insert(Protocol::Https, "https://other.example.org/".into());
            }),
            ("http:", |m| {
                m.urls
                    .insert(Protocol::Http, "http://m.example.org/almalinux/".into());
            }),
            ("private:", |m| m.private = false),
            ("countries_allowed:", |m| m.countries_allowed.clear()),
            ("subnets:", |m| {
                m.subnets = vec!["192.0.0.0/16".parse().unwrap()]
            }),
            ("asn:", |m| m.asns.push(64501)),
        ];
        for (field, change) in cases {
            let mut new = old.clone();
            change(&mut new);
            let why = needs_admin(&old, &new);
            assert!(
                why.len() == 1 && why[0].starts_with(field),
                "{field} {why:?}"
            );
        }
    }
}
