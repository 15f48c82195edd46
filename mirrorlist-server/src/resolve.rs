//! Resolving what a request names (a repo id and arch, a path, or AlmaLinux's release and
//! repo) into a [`Target`]: one of the snapshot's directories, or a vault URL. Everything it
//! looks up is built once per snapshot ([`Routes`]), so a request does a hash lookup or two.

use crate::parse::Params;
use crate::refusal::Refusal;
use shared::catalog::{Catalog, ReleaseLookup};
use std::collections::{HashMap, HashSet};

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A directory of the snapshot; `templated` when the arch was not given (path form), so
    /// URLs carry `$basearch` in its place.
    Dir { index: usize, templated: bool },
    /// A release only the vault has: one URL, and the vault directory whose repomd.xml the
    /// checker may have read (a metalink needs its checksums).
    Vault { url: String, dir: Option<usize> },
}

/// How the request named its repo.
#[derive(Debug, Clone, Copy)]
pub enum Form<'a> {
    /// MirrorManager's query form: `?repo=baseos-9&arch=x86_64`, or `?path=9.8/BaseOS/...`.
    Query,
    /// AlmaLinux's path form: `/mirrorlist/9/baseos?arch=x86_64`.
    Path { release: &'a str, repo: &'a str },
}

/// A repo id's directories by arch, and the one answered when no arch is given.
#[derive(Debug)]
struct RepoId {
    by_arch: HashMap<String, usize>,
    first: usize,
}

/// The per-snapshot tables [`resolve`] reads.
#[derive(Debug)]
pub struct Routes {
    /// MirrorManager-style repo id (`baseos-9`, `baseos-9.8`) → its directories.
    repo_ids: HashMap<String, RepoId>,
    /// Names of releases on mirrors (versions and aliases).
    current: HashSet<String>,
    /// Vault release name → its base URL (ending in `/`).
    vault: HashMap<String, String>,
    /// A vault release's directories: (release, repo, arch) → directory.
    vault_dirs: HashMap<(String, String, String), usize>,
    /// Repo name → its path below a release, `{arch}` standing for the arch.
    repo_paths: HashMap<String, String>,
    /// Every valid `repo=...&arch=...` pair, one `# ` line each: the tail of a 404.
    listing: String,
}

impl Routes {
    pub fn build(catalog: &Catalog) -> Routes {
        // Every name of a release on mirrors (the catalog refuses a name used twice), with
        // the release it names.
        let mut current: HashMap<String, &str> = HashMap::new();
        for release in &catalog.spec.releases {
            for name in std::iter::once(&release.version).chain(&release.aliases) {
                current.insert(name.clone(), &release.version);
            }
        }
        let mut repo_ids: HashMap<String, RepoId> = HashMap::new();
        for (i, d) in catalog.directories.iter().enumerate() {
            for name in current
                .iter()
                .filter(|(_, version)| **version == d.release)
                .map(|(name, _)| name)
            {
                let id = repo_ids
                    .entry(format!("{}-{name}", d.repo))
                    .or_insert_with(|| RepoId {
                        by_arch: HashMap::new(),
                        first: i,
                    });
                id.by_arch.entry(d.arch.clone()).or_insert(i);
            }
        }
        let vault = catalog
            .spec
            .vault_releases
            .iter()
            .filter_map(|name| match catalog.resolve_release(name) {
                ReleaseLookup::Vault(base) => Some((name.clone(), base)),
                _ => None,
            })
            .collect();
        let vault_dirs = catalog
            .directories
            .iter()
            .enumerate()
            .filter(|(_, d)| d.vault)
            .map(|(i, d)| ((d.release.clone(), d.repo.clone(), d.arch.clone()), i))
            .collect();
        let mut repo_paths = HashMap::new();
        for r in &catalog.spec.repos {
            repo_paths.entry(r.name.clone()).or_insert(r.path.clone());
        }
        let mut listing = String::new();
        for (repo, arch) in catalog.repo_ids() {
            listing.push_str(&format!("# repo={repo}&arch={arch}\n"));
        }
        Routes {
            repo_ids,
            current: current.into_keys().collect(),
            vault,
            vault_dirs,
            repo_paths,
            listing,
        }
    }

    /// The directory of a repo id and arch (what [`Catalog::find_repo_id`] finds, by one
    /// hash lookup).
    pub fn find_repo_id(&self, repo_id: &str, arch: &str) -> Option<usize> {
        self.repo_ids.get(repo_id)?.by_arch.get(arch).copied()
    }

    /// The 404 for an unknown repo or arch, listing the valid pairs as MirrorManager does.
    fn invalid_repo(&self, why: &str) -> Refusal {
        Refusal::not_found(format!(
            "error: invalid repo or arch ({why})\n{}",
            self.listing
        ))
    }

    /// The vault target of `repo` in vault release `release`.
    fn vault_url(&self, release: &str, repo: &str, arch: &str) -> Option<Target> {
        let base = self.vault.get(release)?;
        let path = self.repo_paths.get(repo)?;
        Some(Target::Vault {
            url: format!("{base}{}/", path.replace("{arch}", arch)),
            dir: self
                .vault_dirs
                .get(&(release.to_string(), repo.to_string(), arch.to_string()))
                .copied(),
        })
    }
}

/// The directory (or vault release) a request names, by the routes and catalog of the
/// snapshot in use.
pub fn resolve(
    routes: &Routes,
    catalog: &Catalog,
    form: Form<'_>,
    p: &Params,
) -> Result<Target, Refusal> {
    match form {
        Form::Query => resolve_query(routes, catalog, p),
        Form::Path { release, repo } => resolve_path(routes, release, repo, p.arch.as_deref()),
    }
}

fn resolve_query(routes: &Routes, catalog: &Catalog, p: &Params) -> Result<Target, Refusal> {
    if let Some(path) = &p.path {
        let path = path.trim_matches('/');
        let path = path.strip_suffix("/repodata/repomd.xml").unwrap_or(path);
        return catalog
            .directory_index(path)
            .map(|index| Target::Dir {
                index,
                templated: false,
            })
            .ok_or_else(|| {
                Refusal::not_found(format!("error: no directory {path} in the catalog"))
            });
    }
    let (Some(repo), Some(arch)) = (&p.repo, &p.arch) else {
        return Err(Refusal::bad_request(
            "error: a repo and an arch are required: ?repo=baseos-9&arch=x86_64",
        ));
    };
    if repo.contains('$') || arch.contains('$') {
        return Err(Refusal::not_found(format!(
            "error: repo={repo}&arch={arch} holds a variable dnf did not substitute (is $releasever set?)"
        )));
    }
    if let Some(index) = routes.find_repo_id(repo, arch) {
        return Ok(Target::Dir {
            index,
            templated: false,
        });
    }
    // A vault release: `baseos-8.5`.
    for (i, _) in repo.match_indices('-') {
        if let Some(target) = routes.vault_url(&repo[i + 1..], &repo[..i], arch) {
            return Ok(target);
        }
    }
    Err(routes.invalid_repo(&format!("repo={repo}&arch={arch}")))
}

fn resolve_path(
    routes: &Routes,
    release: &str,
    repo: &str,
    arch: Option<&str>,
) -> Result<Target, Refusal> {
    if release.contains('$') {
        return Err(Refusal::not_found(format!(
            "error: release {release:?} is a variable dnf did not substitute (is $releasever set?)"
        )));
    }
    if routes.current.contains(release) {
        let found = routes.repo_ids.get(&format!("{repo}-{release}"));
        let index = match (found, arch) {
            (Some(id), Some(a)) => id.by_arch.get(a).copied(),
            (Some(id), None) => Some(id.first),
            (None, _) => None,
        };
        return index
            .map(|index| Target::Dir {
                index,
                templated: arch.is_none(),
            })
            .ok_or_else(|| {
                routes.invalid_repo(&format!(
                    "release {release}, repo {repo}, arch {}",
                    arch.unwrap_or("any")
                ))
            });
    }
    if routes.vault.contains_key(release) {
        return routes
            .vault_url(release, repo, arch.unwrap_or("$basearch"))
            .ok_or_else(|| {
                routes.invalid_repo(&format!("repo {repo} in vault release {release}"))
            });
    }
    Err(Refusal::not_found(format!(
        "error: unknown release {release:?}"
    )))
}
