//! Import of AlmaLinux's service configuration (`config.yml` of its mirrors repository) into a
//! catalog spec. The rules, as AlmaLinux's service applies them:
//! - `versions` minus the keys of `duplicated_versions` are the current releases; the keys are
//!   their aliases (`9` → `9.8`).
//! - `optional_module_versions: {kitten: ["10"]}` adds the release `10-kitten` of module
//!   `kitten`, whose tree lives under each mirror's `address_optional.kitten` URL.
//! - `arches` is keyed by major (or by module release); a release takes its alias's arches.
//! - A repo without `versions` exists in every release; `versions` may name an alias.
//! - `vault: true` repos (sources, debug info) are served from the vault only.

use super::{CatalogError, CatalogSpec, ReleaseSpec, RepoSpec};
use crate::yaml::{self, Node};
use std::path::Path;

pub fn import_almalinux(path: &Path) -> Result<CatalogSpec, CatalogError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
        path: shown.clone(),
        source,
    })?;
    import_almalinux_str(&text, &shown)
}

pub fn import_almalinux_str(text: &str, shown: &str) -> Result<CatalogSpec, CatalogError> {
    let fail = |line: usize, message: String| CatalogError::Parse {
        path: shown.to_string(),
        message: format!("line {line}: {message}"),
    };
    let doc = yaml::parse(text).map_err(|e| fail(e.line, e.message))?;
    let root = doc
        .root
        .ok_or_else(|| fail(1, "the file is empty".into()))?;
    let strings = |key: &str| -> Result<Vec<String>, CatalogError> {
        match root.get(key) {
            None => Ok(Vec::new()),
            Some(node) => string_list(node).map_err(|m| fail(node.line, format!("{key}: {m}"))),
        }
    };
    let versions = strings("versions")?;
    if versions.is_empty() {
        return Err(fail(root.line, "no versions".into()));
    }
    let mut aliases: Vec<(String, String)> = Vec::new();
    if let Some(node) = root.get("duplicated_versions") {
        for (alias, full) in node
            .entries()
            .ok_or_else(|| fail(node.line, "duplicated_versions: expected a mapping".into()))?
        {
            let full = full.text().ok_or_else(|| {
                fail(
                    full.line,
                    format!("duplicated_versions.{alias}: expected a version"),
                )
            })?;
            aliases.push((alias.clone(), full));
        }
    }
    let arches_node = root
        .get("arches")
        .ok_or_else(|| fail(root.line, "no arches".into()))?;
    let arches_of = |key: &str| -> Result<Option<Vec<String>>, CatalogError> {
        arches_node
            .get(key)
            .map(|n| string_list(n).map_err(|m| fail(n.line, format!("arches.{key}: {m}"))))
            .transpose()
    };
    let mut releases: Vec<ReleaseSpec> = Vec::new();
    for version in versions
        .iter()
        .filter(|v| !aliases.iter().any(|(a, _)| a == *v))
    {
        let own: Vec<String> = aliases
            .iter()
            .filter(|(_, f)| f == version)
            .map(|(a, _)| a.clone())
            .collect();
        let mut arches = arches_of(version)?;
        for alias in &own {
            if arches.is_none() {
                arches = arches_of(alias)?;
            }
        }
        let arches = arches
            .ok_or_else(|| fail(arches_node.line, format!("no arches for version {version}")))?;
        releases.push(ReleaseSpec {
            version: version.clone(),
            aliases: own,
            arches,
            module: None,
        });
    }
    if let Some(node) = root.get("optional_module_versions") {
        for (module, majors) in node.entries().ok_or_else(|| {
            fail(
                node.line,
                "optional_module_versions: expected a mapping".into(),
            )
        })? {
            for major in string_list(majors).map_err(|m| fail(majors.line, m))? {
                let version = format!("{major}-{module}");
                let arches = arches_of(&version)?
                    .ok_or_else(|| fail(arches_node.line, format!("no arches for {version}")))?;
                releases.push(ReleaseSpec {
                    version,
                    aliases: Vec::new(),
                    arches,
                    module: Some(module.clone()),
                });
            }
        }
    }
    let repos_node = root
        .get("repos")
        .ok_or_else(|| fail(root.line, "no repos".into()))?;
    let mut repos = Vec::new();
    for repo in repos_node
        .items()
        .ok_or_else(|| fail(repos_node.line, "repos: expected a list".into()))?
    {
        let field = |key: &str| -> Result<Vec<String>, CatalogError> {
            repo.get(key)
                .map(|n| string_list(n).map_err(|m| fail(n.line, format!("{key}: {m}"))))
                .transpose()
                .map(Option::unwrap_or_default)
        };
        let name = repo
            .get("name")
            .and_then(Node::text)
            .ok_or_else(|| fail(repo.line, "repo without a name".into()))?;
        let path = repo
            .get("path")
            .and_then(Node::text)
            .ok_or_else(|| fail(repo.line, format!("repo {name} has no path")))?;
        let vault_only = match repo.get("vault") {
            None => false,
            Some(n) => match n.value {
                yaml::Value::Bool(b) => b,
                _ => {
                    return Err(fail(
                        n.line,
                        format!("repo {name}: vault must be true or false"),
                    ))
                }
            },
        };
        repos.push(RepoSpec {
            name,
            path: path
                .replace("$basearch", "{arch}")
                .trim_matches('/')
                .to_string(),
            releases: field("versions")?,
            arches: field("arches")?,
            vault_only,
        });
    }
    let max_sync_age = match root.get("allowed_outdate").and_then(Node::text) {
        None => super::default_max_sync_age(),
        Some(text) => text
            .parse()
            .map_err(|e| CatalogError::Invalid(format!("allowed_outdate: {e}")))?,
    };
    Ok(CatalogSpec {
        distribution: "AlmaLinux".into(),
        alternates_window: super::default_alternates_window(),
        max_sync_age,
        vault_url: root.get("vault_mirror").and_then(Node::text),
        vault_releases: strings("vault_versions")?,
        releases,
        repos,
    })
}

fn string_list(node: &Node) -> Result<Vec<String>, String> {
    node.items()
        .ok_or_else(|| format!("expected a list, found {}", node.value.kind()))?
        .iter()
        .map(|item| {
            item.text().ok_or_else(|| {
                format!(
                    "line {}: expected text, found {}",
                    item.line,
                    item.value.kind()
                )
            })
        })
        .collect()
}
