//! A registration as the control plane's form or API gives it: plain named fields, written
//! as a registry file so that the very judge the YAML registry goes through reads it, and
//! the judge's messages read back as (field, problem) so each is shown beside its field.

use super::{judge_with, Mirror, Rules};
use std::collections::BTreeMap;
use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlEmitter};

/// The fields a registration has, in the form's order. Lists (`subnets`, `asn`,
/// `countries_allowed`) are written one per line or separated by commas or spaces.
pub const FIELDS: &[&str] = &[
    "name",
    "sponsor",
    "sponsor_url",
    "email",
    "http",
    "https",
    "rsync",
    "country",
    "state_province",
    "city",
    "bandwidth_mbps",
    "update_frequency",
    "subnets",
    "asn",
    "countries_allowed",
    "private",
];

/// What the judge made of a registration.
#[derive(Debug, Clone)]
pub struct Judged {
    /// The mirror, unless a rejection stopped it.
    pub mirror: Option<Mirror>,
    /// The registry file the fields were written as (what is stored and exported).
    pub yaml: String,
    /// Rejections: (form field, problem).
    pub errors: Vec<(String, String)>,
    /// Warnings (the value was normalised or ignored): (form field, problem).
    pub warnings: Vec<(String, String)>,
}

/// Judges a registration's fields under `rules`, exactly as a registry file is judged.
pub fn judge_fields(fields: &BTreeMap<String, String>, rules: &Rules) -> Judged {
    let yaml = to_yaml(fields);
    let shown = "registration";
    let (report, mirror) = judge_with(&yaml, shown, rules);
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for (i, message) in report.messages.iter().enumerate() {
        let pair = field_of(message, shown);
        if i < report.errors {
            errors.push(pair);
        } else {
            warnings.push(pair);
        }
    }
    Judged {
        mirror,
        yaml,
        errors,
        warnings,
    }
}

/// `registration: line 3: address.https: problem` as (`https`, `problem`).
pub fn field_of(message: &str, shown: &str) -> (String, String) {
    let rest = message
        .strip_prefix(shown)
        .and_then(|r| r.strip_prefix(": "))
        .unwrap_or(message);
    let rest = match rest.strip_prefix("line ") {
        Some(r) => r.split_once(": ").map_or(rest, |(_, after)| after),
        None => rest,
    };
    match rest.split_once(": ") {
        Some((field, problem)) if !field.contains(' ') => (form_field(field), problem.to_string()),
        _ => (String::new(), rest.to_string()),
    }
}

/// The form field a registry key is entered in.
fn form_field(key: &str) -> String {
    let key = key.split('[').next().unwrap_or(key);
    let short = key
        .strip_prefix("address.")
        .or_else(|| key.strip_prefix("geolocation."))
        .unwrap_or(key);
    if FIELDS.contains(&short) {
        short.to_string()
    } else {
        String::new()
    }
}

fn s(text: &str) -> Yaml {
    Yaml::String(text.to_string())
}

/// A list field's items: one per line, or separated by commas or spaces.
pub fn items(text: &str) -> Vec<&str> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|i| !i.is_empty())
        .collect()
}

/// A number where the text is one, else the text (which the judge then names).
fn number_or_text(text: &str) -> Yaml {
    text.parse::<i64>().map_or_else(|_| s(text), Yaml::Integer)
}

/// The fields written as a registry file. Empty fields are left out, as a file would.
pub fn to_yaml(fields: &BTreeMap<String, String>) -> String {
    let get = |k: &str| fields.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut h = Hash::new();
    for key in [
        "name",
        "sponsor",
        "sponsor_url",
        "email",
        "update_frequency",
    ] {
        if let Some(v) = get(key) {
            h.insert(s(key), s(v));
        }
    }
    let mut address = Hash::new();
    for key in ["http", "https", "rsync"] {
        if let Some(v) = get(key) {
            address.insert(s(key), s(v));
        }
    }
    h.insert(s("address"), Yaml::Hash(address));
    let mut geo = Hash::new();
    for key in ["country", "state_province", "city"] {
        if let Some(v) = get(key) {
            geo.insert(s(key), s(v));
        }
    }
    if !geo.is_empty() {
        h.insert(s("geolocation"), Yaml::Hash(geo));
    }
    if let Some(v) = get("bandwidth_mbps") {
        h.insert(s("bandwidth_mbps"), number_or_text(v));
    }
    for key in ["subnets", "countries_allowed"] {
        if let Some(v) = get(key) {
            h.insert(s(key), Yaml::Array(items(v).into_iter().map(s).collect()));
        }
    }
    if let Some(v) = get("asn") {
        let list = items(v).into_iter().map(number_or_text).collect();
        h.insert(s("asn"), Yaml::Array(list));
    }
    if let Some(v) = get("private") {
        let flag = match v.to_ascii_lowercase().as_str() {
            "true" | "on" | "yes" | "1" => Yaml::Boolean(true),
            "false" | "off" | "no" | "0" => Yaml::Boolean(false),
            _ => s(v),
        };
        h.insert(s("private"), flag);
    }
    let mut out = String::new();
    YamlEmitter::new(&mut out)
        .dump(&Yaml::Hash(h))
        .expect("writing YAML to a String cannot fail");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_good_registration_is_the_mirror_a_registry_file_would_be() {
        let f = fields(&[
            ("name", "mirror.example.org"),
            ("sponsor", "Example"),
            ("sponsor_url", "https://example.org/"),
            ("email", "ops@example.org"),
            ("https", "https://mirror.example.org/almalinux/"),
            ("country", "DE"),
            ("bandwidth_mbps", "1000"),
            ("subnets", "192.0.2.0/24\n198.51.100.0/24"),
            ("asn", "64500, 64501"),
        ]);
        let judged = judge_fields(&f, &Rules::default());
        assert!(judged.errors.is_empty(), "{:?}", judged.errors);
        let m = judged.mirror.expect("accepted");
        assert_eq!(m.name, "mirror.example.org");
        assert_eq!(m.bandwidth_mbps, Some(1000));
        assert_eq!(m.subnets.len(), 2);
        assert_eq!(m.asns, vec![64500, 64501]);
        assert_eq!(m.geo.country.as_deref(), Some("DE"));
        // The same text read as a registry file gives the same mirror.
        let (_, again) = judge_with(&judged.yaml, "again", &Rules::default());
        assert_eq!(again, Some(m));
    }

    #[test]
    fn each_problem_is_named_by_its_form_field() {
        let f = fields(&[
            ("name", "not a host"),
            ("sponsor", "Example"),
            ("sponsor_url", "https://example.org/"),
            ("https", "https://user:pw@mirror.example.org/almalinux/"),
            ("bandwidth_mbps", "lots"),
            ("country", "Narnia"),
        ]);
        let judged = judge_fields(&f, &Rules::default());
        assert!(judged.mirror.is_none());
        let named = |list: &[(String, String)], field: &str| list.iter().any(|(f, _)| f == field);
        assert!(named(&judged.errors, "name"), "{:?}", judged.errors);
        assert!(named(&judged.errors, "https"), "{:?}", judged.errors);
        assert!(
            named(&judged.warnings, "bandwidth_mbps"),
            "{:?}",
            judged.warnings
        );
        assert!(named(&judged.warnings, "country"), "{:?}", judged.warnings);
    }

    #[test]
    fn messages_split_into_field_and_problem() {
        assert_eq!(
            field_of(
                "registration: line 3: address.https: no host",
                "registration"
            ),
            ("https".to_string(), "no host".to_string())
        );
        assert_eq!(
            field_of("registration: sponsor: missing", "registration"),
            ("sponsor".to_string(), "missing".to_string())
        );
        assert_eq!(
            field_of("registration: not one YAML mapping", "registration").0,
            ""
        );
    }
}
