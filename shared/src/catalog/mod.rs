//! The catalog: what the distribution publishes. Releases (with the aliases clients use, such
//! as `9` for `9.8`), repos per release and arch, optional modules with their own trees, the
//! vault, and the concrete directories every mirror is expected to carry.

mod almalinux;

pub use almalinux::{import_almalinux, import_almalinux_str};

use crate::duration::Human;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The arch name of directories that hold no per-arch content (source repos), as
/// MirrorManager names it.
pub const SOURCE_ARCH: &str = "source";

/// The catalog as written in the project's TOML (`deploy/examples/catalog.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSpec {
    /// Name of the distribution, shown in headers and pages.
    pub distribution: String,
    /// Older repomd.xml versions the master published within this window (`3d`) stay valid:
    /// the metalink offers them as alternates, so a mirror a sync or two behind is used.
    #[serde(default = "default_alternates_window")]
    pub alternates_window: Human,
    /// A mirror whose `TIME` file is older than this (`12h`) is reported as not syncing.
    #[serde(default = "default_max_sync_age")]
    pub max_sync_age: Human,
    /// Where releases no longer on mirrors are served from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_url: Option<String>,
    /// Releases answered with a vault URL.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vault_releases: Vec<String>,
    #[serde(rename = "release")]
    pub releases: Vec<ReleaseSpec>,
    #[serde(rename = "repo")]
    pub repos: Vec<RepoSpec>,
}

fn default_alternates_window() -> Human {
    Human::secs(3 * 86_400)
}

fn default_max_sync_age() -> Human {
    Human::secs(12 * 3600)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseSpec {
    /// The directory name on mirrors: `9.8`, or `10-kitten` for a module's release.
    pub version: String,
    /// Other names clients use for it: the major, `9`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    pub arches: Vec<String>,
    /// An optional module (its tree lives under the mirror's module base URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoSpec {
    /// The mirrorlist name: `baseos`.
    pub name: String,
    /// Directory below the release, `{arch}` standing for the arch: `BaseOS/{arch}/os`.
    pub path: String,
    /// Releases (versions or aliases) that have the repo; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub releases: Vec<String>,
    /// Arches that have the repo; empty means all the release's arches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<String>,
    /// Served from the vault only (sources, debug info): never expected on mirrors.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vault_only: bool,
}

/// One concrete directory, e.g. `9.8/BaseOS/x86_64/os`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    /// Relative to the mirror's base URL (or module base URL); no leading or trailing slash.
    pub path: String,
    pub release: String,
    pub repo: String,
    pub arch: String,
    pub module: Option<String>,
    pub vault_only: bool,
    /// A directory of a vault release (`9.4/BaseOS/x86_64/os`): on the vault only, whose
    /// repomd.xml the checker reads there so that a metalink for it carries checksums.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vault: bool,
}

/// A validated catalog with its directories expanded. Directory indexes are stable for a
/// given spec (sorted by path).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub spec: CatalogSpec,
    pub directories: Vec<Directory>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid catalog: {0}")]
    Invalid(String),
}

/// How a release name in a request resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseLookup<'a> {
    Current(&'a ReleaseSpec),
    Vault(String),
    Unknown,
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
}

impl CatalogSpec {
    pub fn from_toml(text: &str, path: &str) -> Result<Self, CatalogError> {
        toml::from_str(text).map_err(|e| CatalogError::Parse {
            path: path.to_string(),
            message: e.to_string(),
        })
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a catalog spec always serializes")
    }
}

impl Catalog {
    /// Reads the project's TOML catalog file.
    pub fn load(path: &Path) -> Result<Self, CatalogError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: shown.clone(),
            source,
        })?;
        Catalog::from_spec(CatalogSpec::from_toml(&text, &shown)?)
    }

    /// Validates a spec and expands its directories.
    pub fn from_spec(spec: CatalogSpec) -> Result<Self, CatalogError> {
        let invalid = |m: String| Err(CatalogError::Invalid(m));
        if spec.releases.is_empty() {
            return invalid("no releases".into());
        }
        if let Some(vault) = &spec.vault_url {
            match url::Url::parse(vault) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => return invalid(format!("vault_url {vault:?} is not an http(s) URL")),
            }
        }
        // Every name a release answers to must be unique.
        let mut names: BTreeMap<&str, &str> = BTreeMap::new();
        for release in &spec.releases {
            if !valid_segment(&release.version) {
                return invalid(format!(
                    "release version {:?} is not a directory name",
                    release.version
                ));
            }
            if release.arches.is_empty() {
                return invalid(format!("release {} has no arches", release.version));
            }
            for arch in &release.arches {
                if !valid_segment(arch) || arch == SOURCE_ARCH {
                    return invalid(format!(
                        "release {}: arch {arch:?} is not allowed",
                        release.version
                    ));
                }
            }
            for name in std::iter::once(&release.version).chain(&release.aliases) {
                if let Some(other) = names.insert(name, &release.version) {
                    return invalid(format!(
                        "release name {name:?} is used by both {other} and {}",
                        release.version
                    ));
                }
            }
        }
        for vault in &spec.vault_releases {
            if names.contains_key(vault.as_str()) {
                return invalid(format!("release {vault} is both current and in the vault"));
            }
        }
        let mut directories: Vec<Directory> = Vec::new();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut repo_names: BTreeSet<(&str, &str)> = BTreeSet::new();
        for repo in &spec.repos {
            if !valid_segment(&repo.name) {
                return invalid(format!("repo name {:?} is not allowed", repo.name));
            }
            let path = repo.path.trim_matches('/');
            let segments_ok = path
                .split('/')
                .all(|s| valid_segment(&s.replace("{arch}", "x")));
            if path.is_empty() || !segments_ok {
                return invalid(format!(
                    "repo {}: path {:?} is not a relative directory",
                    repo.name, repo.path
                ));
            }
            let mut releases: Vec<&ReleaseSpec> = Vec::new();
            if repo.releases.is_empty() {
                releases.extend(&spec.releases);
            } else {
                for name in &repo.releases {
                    let Some(version) = names.get(name.as_str()) else {
                        return invalid(format!("repo {}: unknown release {name:?}", repo.name));
                    };
                    let release = spec
                        .releases
                        .iter()
                        .find(|r| r.version == *version)
                        .expect("name map points at a release");
                    if !releases.contains(&release) {
                        releases.push(release);
                    }
                }
            }
            for release in releases {
                if !repo_names.insert((repo.name.as_str(), release.version.as_str())) {
                    return invalid(format!(
                        "repo {} is defined twice for release {}",
                        repo.name, release.version
                    ));
                }
                let arches: Vec<&str> = if path.contains("{arch}") {
                    release
                        .arches
                        .iter()
                        .filter(|a| repo.arches.is_empty() || repo.arches.contains(a))
                        .map(String::as_str)
                        .collect()
                } else {
                    vec![SOURCE_ARCH]
                };
                for arch in arches {
                    let dir_path = format!("{}/{}", release.version, path.replace("{arch}", arch));
                    if let Some(other) = seen.insert(dir_path.clone(), repo.name.clone()) {
                        return invalid(format!(
                            "repos {other} and {} both use directory {dir_path}",
                            repo.name
                        ));
                    }
                    directories.push(Directory {
                        path: dir_path,
                        release: release.version.clone(),
                        repo: repo.name.clone(),
                        arch: arch.to_string(),
                        module: release.module.clone(),
                        vault_only: repo.vault_only,
                        vault: false,
                    });
                }
            }
        }
        // Each vault release has the mirrored repos and arches of the current release of its
        // major (`9.4`, `9.4-beta` → `9.8`), each on the vault only.
        for vault in &spec.vault_releases {
            if !valid_segment(vault) {
                return invalid(format!("vault release {vault:?} is not a directory name"));
            }
            let major = vault.split(['.', '-']).next().unwrap_or(vault);
            let Some(current) = names.get(major) else {
                continue;
            };
            let of_current: Vec<Directory> = directories
                .iter()
                .filter(|d| d.release == *current && d.module.is_none() && !d.vault_only)
                .cloned()
                .collect();
            for d in of_current {
                let path = format!("{vault}{}", &d.path[current.len()..]);
                if seen.insert(path.clone(), d.repo.clone()).is_some() {
                    continue;
                }
                directories.push(Directory {
                    path,
                    release: vault.clone(),
                    vault_only: true,
                    vault: true,
                    ..d
                });
            }
        }
        directories.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Catalog { spec, directories })
    }

    /// Older versions published within this many seconds stay valid (the alternates).
    pub fn alternates_window_secs(&self) -> u64 {
        self.spec.alternates_window.as_secs()
    }

    /// A `TIME` file older than this many seconds means the mirror is not syncing.
    pub fn max_sync_age_secs(&self) -> u64 {
        self.spec.max_sync_age.as_secs()
    }

    /// Directories mirrors are expected to carry (everything not vault-only).
    pub fn mirrored(&self) -> impl Iterator<Item = (usize, &Directory)> {
        self.directories
            .iter()
            .enumerate()
            .filter(|(_, d)| !d.vault_only)
    }

    pub fn directory_index(&self, path: &str) -> Option<usize> {
        self.directories
            .binary_search_by(|d| d.path.as_str().cmp(path))
            .ok()
    }

    /// Resolves what a client names a release: `9`, `9.8`, a vault release, or anything else.
    pub fn resolve_release(&self, name: &str) -> ReleaseLookup<'_> {
        if let Some(r) = self
            .spec
            .releases
            .iter()
            .find(|r| r.version == name || r.aliases.iter().any(|a| a == name))
        {
            return ReleaseLookup::Current(r);
        }
        match (
            &self.spec.vault_url,
            self.spec.vault_releases.iter().any(|v| v == name),
        ) {
            (Some(base), true) => {
                ReleaseLookup::Vault(format!("{}/{name}/", base.trim_end_matches('/')))
            }
            _ => ReleaseLookup::Unknown,
        }
    }

    /// The directory for a release name (any alias), repo and arch.
    pub fn find(&self, release: &str, repo: &str, arch: &str) -> Option<usize> {
        let ReleaseLookup::Current(r) = self.resolve_release(release) else {
            return None;
        };
        self.directories
            .iter()
            .position(|d| d.release == r.version && d.repo == repo && d.arch == arch)
    }

    /// MirrorManager-style repo ids: `baseos-9` (alias), `baseos-9.8`, `baseos-10-kitten`.
    /// Returns the directory for `repo_id` and `arch`.
    pub fn find_repo_id(&self, repo_id: &str, arch: &str) -> Option<usize> {
        // Repo names may contain dashes (`extras-common`), and so may releases (`10-kitten`):
        // try every split point.
        repo_id
            .match_indices('-')
            .find_map(|(i, _)| self.find(&repo_id[i + 1..], &repo_id[..i], arch))
    }

    /// Every valid MirrorManager-style (repo id, arch) pair, for error messages. Ids use the
    /// release's first alias (its major) when it has one.
    pub fn repo_ids(&self) -> Vec<(String, String)> {
        let mut ids: Vec<(String, String)> = self
            .directories
            .iter()
            .filter(|d| !d.vault)
            .map(|d| {
                let release = self
                    .spec
                    .releases
                    .iter()
                    .find(|r| r.version == d.release)
                    .and_then(|r| r.aliases.first())
                    .unwrap_or(&d.release);
                (format!("{}-{}", d.repo, release), d.arch.clone())
            })
            .collect();
        ids.sort();
        ids
    }
}

#[cfg(test)]
mod tests;
