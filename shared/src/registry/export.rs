//! Writing mirrors back as registry files, in the same format the importer reads, so that
//! import → store → export → import gives back the same mirrors.

use super::{Mirror, Urls};
use std::path::Path;
use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlEmitter};

fn s(text: &str) -> Yaml {
    Yaml::String(text.to_string())
}

fn urls(urls: &Urls) -> Yaml {
    let mut h = Hash::new();
    for (protocol, url) in urls {
        h.insert(s(protocol.as_str()), s(url));
    }
    Yaml::Hash(h)
}

fn list<T: ToString>(items: &[T]) -> Yaml {
    Yaml::Array(items.iter().map(|i| Yaml::String(i.to_string())).collect())
}

/// The registry file text for one mirror.
pub fn mirror_to_yaml(m: &Mirror) -> String {
    let mut h = Hash::new();
    h.insert(s("name"), s(&m.name));
    h.insert(s("address"), urls(&m.urls));
    if !m.module_urls.is_empty() {
        let mut modules = Hash::new();
        for (module, u) in &m.module_urls {
            modules.insert(s(module), urls(u));
        }
        h.insert(s("address_optional"), Yaml::Hash(modules));
    }
    if let Some(f) = &m.update_frequency {
        h.insert(s("update_frequency"), s(f));
    }
    let g = &m.geo;
    if g.country.is_some() || g.state_province.is_some() || g.city.is_some() || g.latitude.is_some()
    {
        let mut geo = Hash::new();
        for (key, value) in [
            ("country", &g.country),
            ("state_province", &g.state_province),
            ("city", &g.city),
        ] {
            if let Some(v) = value {
                geo.insert(s(key), s(v));
            }
        }
        if let (Some(lat), Some(lon)) = (g.latitude, g.longitude) {
            geo.insert(s("latitude"), Yaml::Real(format!("{lat:?}")));
            geo.insert(s("longitude"), Yaml::Real(format!("{lon:?}")));
        }
        h.insert(s("geolocation"), Yaml::Hash(geo));
    }
    h.insert(s("sponsor"), s(&m.sponsor));
    if let Some(u) = &m.sponsor_url {
        h.insert(s("sponsor_url"), s(u));
    }
    if let Some(e) = &m.email {
        h.insert(s("email"), s(e));
    }
    if m.private {
        h.insert(s("private"), Yaml::Boolean(true));
    }
    if m.monopoly {
        h.insert(s("monopoly"), Yaml::Boolean(true));
    }
    if !m.asns.is_empty() {
        h.insert(
            s("asn"),
            Yaml::Array(
                m.asns
                    .iter()
                    .map(|a| Yaml::Integer(i64::from(*a)))
                    .collect(),
            ),
        );
    }
    if let Some(u) = &m.subnets_url {
        h.insert(s("subnets"), s(u));
    } else if !m.subnets.is_empty() {
        h.insert(s("subnets"), list(&m.subnets));
    }
    if let Some(c) = &m.cloud_type {
        h.insert(s("cloud_type"), s(c));
    }
    if !m.cloud_regions.is_empty() {
        h.insert(s("cloud_regions"), list(&m.cloud_regions));
    }
    if let Some(b) = m.bandwidth_mbps {
        h.insert(s("bandwidth_mbps"), Yaml::Integer(i64::from(b)));
    }
    if !m.countries_allowed.is_empty() {
        h.insert(s("countries_allowed"), list(&m.countries_allowed));
    }
    if !m.enabled {
        h.insert(s("enabled"), Yaml::Boolean(false));
    }
    if !m.approved {
        h.insert(s("approved"), Yaml::Boolean(false));
    }
    if !m.checked {
        h.insert(s("checked"), Yaml::Boolean(false));
    }
    let mut out = String::new();
    YamlEmitter::new(&mut out)
        .dump(&Yaml::Hash(h))
        .expect("writing YAML to a String cannot fail");
    out.push('\n');
    out
}

/// Writes `<name>.yml` for every mirror into `dir` (created if needed). Returns the count.
/// The file a mirror is written to: the one it was read from (a registry kept in git
/// round-trips with no renames), else `<name>.yml`.
pub fn file_name(m: &Mirror) -> String {
    m.source_file
        .as_deref()
        .filter(|f| {
            !f.contains(['/', '\\'])
                && !f.starts_with('.')
                && (f.ends_with(".yml") || f.ends_with(".yaml"))
        })
        .map_or_else(|| format!("{}.yml", m.name), str::to_string)
}

pub fn export_dir(mirrors: &[Mirror], dir: &Path) -> std::io::Result<usize> {
    export_dir_marking(mirrors, &|_| false, dir)
}

/// The first lines of a file whose mirror was registered through the control plane: a
/// comment (the importer reads past it), saying what importing the file does.
pub const CONTROL_MARK: &str =
    "# Registered through the control plane (managed_by: control). Importing this file\n\
# hands the mirror to the registry: from then on it is changed in its file, not there.\n";

/// [`export_dir`], marking the files of the mirrors `control` says the control plane
/// manages with [`CONTROL_MARK`].
pub fn export_dir_marking(
    mirrors: &[Mirror],
    control: &dyn Fn(&str) -> bool,
    dir: &Path,
) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    for m in mirrors {
        let file = file_name(m);
        let path = dir.join(&file);
        let tmp = dir.join(format!(".{file}.tmp"));
        let mut text = mirror_to_yaml(m);
        if control(&m.name) {
            text.insert_str(0, CONTROL_MARK);
        }
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(mirrors.len())
}
