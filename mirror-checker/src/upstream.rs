//! The master tree: for every directory of the catalog, read `repodata/repomd.xml` (from a
//! local folder or an http(s) URL), describe it (size, largest timestamp, four checksums) and
//! record it as a version when it is new. Older versions stay as history.

use crate::http::{HttpClient, Validators};
use crate::repomd::{self, MAX_REPOMD_BYTES};
use serde::Deserialize;
use shared::catalog::Catalog;
use shared::model::Family;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use store::Store;
use tokio::task::JoinSet;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MasterConfig {
    /// The master tree: a local folder or an http(s) base URL.
    pub url: String,
    /// Base of each optional module's tree (`kitten = "https://.../almalinux-kitten/"`).
    pub modules: BTreeMap<String, String>,
    /// Where the vault is read (a folder or URL); the catalog's `vault_url` when empty.
    pub vault: String,
}

/// Where a tree is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Dir(PathBuf),
    Url(url::Url),
}

impl Source {
    pub fn parse(text: &str) -> crate::Result<Source> {
        if text.starts_with("http://") || text.starts_with("https://") {
            let mut url = url::Url::parse(text)
                .map_err(|e| crate::Error::Config(format!("[master] URL {text:?}: {e}")))?;
            if !url.path().ends_with('/') {
                url.set_path(&format!("{}/", url.path()));
            }
            Ok(Source::Url(url))
        } else if text.is_empty() {
            Err(crate::Error::NoMaster)
        } else {
            Ok(Source::Dir(PathBuf::from(
                text.strip_prefix("file://").unwrap_or(text),
            )))
        }
    }

    /// Reads a file below the tree, refusing anything over the repomd size limit.
    async fn read(&self, client: &HttpClient, rel: &str) -> Result<Vec<u8>, String> {
        self.read_capped(client, rel, None).await
    }

    /// Reads a file below the tree of up to `cap` bytes (`None`: the repomd size limit).
    async fn read_capped(
        &self,
        client: &HttpClient,
        rel: &str,
        cap: Option<u64>,
    ) -> Result<Vec<u8>, String> {
        let limit = cap.unwrap_or(MAX_REPOMD_BYTES as u64);
        match self {
            Source::Dir(root) => {
                let path = root.join(rel);
                let meta = tokio::fs::metadata(&path)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                if meta.len() > limit {
                    return Err(format!(
                        "{} is {} bytes, over the {limit} byte limit",
                        path.display(),
                        meta.len()
                    ));
                }
                tokio::fs::read(&path)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display()))
            }
            Source::Url(base) => {
                let url = base.join(rel).map_err(|e| e.to_string())?;
                let fetched = match cap {
                    None => client.get(&url, Family::Any, &Validators::default()).await,
                    Some(cap) => client.get_large(&url, cap).await,
                }
                .map_err(|e| format!("{url}: {e}"))?;
                if fetched.status != 200 {
                    return Err(format!("{url}: HTTP {}", fetched.status));
                }
                Ok(fetched.body.to_vec())
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Master {
    pub root: Source,
    pub modules: BTreeMap<String, Source>,
    /// `[master] vault`, when set.
    pub vault: Option<Source>,
}

impl Master {
    pub fn from_config(config: &MasterConfig) -> crate::Result<Master> {
        Ok(Master {
            vault: match config.vault.as_str() {
                "" => None,
                text => Some(Source::parse(text)?),
            },
            root: Source::parse(&config.url)?,
            modules: config
                .modules
                .iter()
                .map(|(m, u)| Ok((m.clone(), Source::parse(u)?)))
                .collect::<crate::Result<_>>()?,
        })
    }

    fn source(&self, d: &shared::catalog::Directory) -> Result<&Source, String> {
        if d.vault {
            return self.vault.as_ref().ok_or_else(|| {
                "no vault configured ([master] vault or the catalog's vault_url)".into()
            });
        }
        match d.module.as_deref() {
            None => Ok(&self.root),
            Some(m) => self
                .modules
                .get(m)
                .ok_or_else(|| format!("no master URL for module {m} ([master] modules.{m})")),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ScanReport {
    pub directories: usize,
    /// Paths whose repomd.xml changed since the last scan.
    pub new_versions: Vec<String>,
    /// (path, problem)
    pub errors: Vec<(String, String)>,
    /// The master's `TIME` file, when it has one.
    pub master_time: Option<i64>,
    /// Vault directories looked for this scan: found, and not found (not counted as errors:
    /// an old release may lack a repo the current one has).
    pub vault_found: usize,
    pub vault_missing: usize,
}

/// The packages to look for on mirrors' copies of a version: the newest in its primary.xml.
async fn sample_version(
    master: &Master,
    client: &HttpClient,
    d: &shared::catalog::Directory,
    repomd: &[u8],
) -> Result<Vec<(String, u64)>, String> {
    let named = repomd::named_files(repomd)?;
    let primary = named
        .iter()
        .find(|n| n.kind == "primary")
        .ok_or("repomd.xml names no primary")?;
    let bytes = master
        .source(d)?
        .read_capped(
            client,
            &format!("{}/{}", d.path, primary.href),
            Some(crate::packages::MAX_PRIMARY_BYTES),
        )
        .await?;
    let href = primary.href.clone();
    let sample = tokio::task::spawn_blocking(move || {
        crate::packages::sample(&href, &bytes, crate::packages::SAMPLE)
    })
    .await
    .map_err(|e| format!("sampling failed: {e}"))??;
    Ok(sample.into_iter().map(|s| (s.href, s.size)).collect())
}

/// Scans every directory mirrors carry and records new versions as first seen at `now`;
/// with `vault`, also the vault releases' directories whose repomd.xml is not known yet.
pub async fn scan(
    store: &Store,
    catalog: &Catalog,
    master: &Master,
    client: &HttpClient,
    now: i64,
    vault: bool,
) -> crate::Result<ScanReport> {
    let ids = store.directory_ids().await?;
    let mut master = master.clone();
    if master.vault.is_none() {
        master.vault = catalog
            .spec
            .vault_url
            .as_deref()
            .and_then(|u| Source::parse(u).ok());
    }
    let master = Arc::new(master);
    let known: std::collections::HashSet<i64> = if vault {
        store.repomd_history().await?.into_keys().collect()
    } else {
        Default::default()
    };
    let mut report = ScanReport::default();
    let mut jobs = JoinSet::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(16));
    let wanted = catalog.directories.iter().filter(|d| {
        !d.vault_only
            || (vault && d.vault && ids.get(&d.path).is_some_and(|id| !known.contains(id)))
    });
    for d in wanted {
        let Some(&id) = ids.get(&d.path) else {
            continue;
        };
        report.directories += 1;
        let (master, client, limit, d) = (master.clone(), client.clone(), limit.clone(), d.clone());
        jobs.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let result = async {
                let source = master.source(&d)?;
                // The vault holds each release under its name, as the master does.
                let bytes = source
                    .read(&client, &format!("{}/repodata/repomd.xml", d.path))
                    .await?;
                repomd::describe(&bytes, now).map(|v| (v, bytes))
            }
            .await;
            (id, d, result)
        });
    }
    let mut new = Vec::new();
    while let Some(joined) = jobs.join_next().await {
        let (id, d, result) = joined.map_err(|e| {
            if e.is_panic() {
                crate::Error::panicked("the master", e.into_panic())
            } else {
                crate::Error::Interrupted
            }
        })?;
        match result {
            Ok((version, bytes)) => {
                report.vault_found += usize::from(d.vault);
                if store.record_repomd(id, &version).await? {
                    report.new_versions.push(d.path.clone());
                    new.push((id, d, version.sha256, bytes));
                }
            }
            Err(_) if d.vault => report.vault_missing += 1,
            Err(problem) => report.errors.push((d.path, problem)),
        }
    }
    // Each new version's package sample, from its primary.xml (a few at a time: these are
    // megabytes, not kilobytes).
    let mut jobs = JoinSet::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(4));
    for (id, d, sha, bytes) in new {
        let (master, client, limit) = (master.clone(), client.clone(), limit.clone());
        jobs.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let sample = sample_version(&master, &client, &d, &bytes).await;
            (id, d.path, sha, sample)
        });
    }
    while let Some(joined) = jobs.join_next().await {
        let Ok((id, path, sha, sample)) = joined else {
            continue;
        };
        match sample {
            Ok(sample) => store.record_sample(id, &sha, &sample).await?,
            Err(problem) => {
                tracing::warn!(directory = %path, %problem, "no package sample for the new version")
            }
        }
    }
    report.new_versions.sort();
    report.errors.sort();
    report.master_time = master
        .root
        .read(client, "TIME")
        .await
        .ok()
        .and_then(|b| time_file(&b, shared::time::now()).at());
    Ok(report)
}

/// What a `TIME` file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeFile {
    /// When the tree was last synced (Unix seconds).
    At(i64),
    /// Not a plausible sync time: what the file holds, escaped and bounded, and why.
    Unreadable(String),
}

impl TimeFile {
    pub fn at(&self) -> Option<i64> {
        match self {
            TimeFile::At(t) => Some(*t),
            TimeFile::Unreadable(_) => None,
        }
    }
}

/// A clock this far ahead of the checker's is still believed.
const CLOCK_SKEW: i64 = 300;
/// Before this (2000-01-01) no tree of this network was synced.
const EARLIEST: i64 = 946_684_800;

/// A `TIME` file's content, as mirrors write it: Unix seconds, possibly with a fraction
/// (`date +%s`, `date +%s.%N`). Anything else (exponents, signs, NaN, a number past any
/// date, a time before 2000 or ahead of `now`) is no sync time.
pub fn time_file(body: &[u8], now: i64) -> TimeFile {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let shown = || shared::text::bounded(text, 40);
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if text.is_empty() {
        return TimeFile::Unreadable("nothing".into());
    }
    let Some(t) = (digits(whole) && digits(fraction) && whole.len() <= 12)
        .then(|| whole.parse::<i64>().ok())
        .flatten()
    else {
        return TimeFile::Unreadable(format!("\"{}\", which is not a Unix time", shown()));
    };
    if t < EARLIEST {
        return TimeFile::Unreadable(format!("{t}, before 2000"));
    }
    if t > now + CLOCK_SKEW {
        return TimeFile::Unreadable(format!(
            "{} ({t}), in the future",
            shared::duration::utc_minute(t)
        ));
    }
    TimeFile::At(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_000_000;

    /// What mirrors really write is read; anything else, or a time from the future, is not a
    /// sync time, and says what the file said.
    #[test]
    fn a_time_file_is_a_plausible_unix_time_or_says_what_it_holds() {
        for (body, want) in [
            ("1795990000\n", Some(1_795_990_000)),
            (" 1795990000.123456 ", Some(1_795_990_000)),
            ("1796000200", Some(1_796_000_200)),
        ] {
            assert_eq!(time_file(body.as_bytes(), NOW).at(), want, "{body:?}");
        }
        for (body, says) in [
            ("-1e30", "-1e30"),
            ("99999999999999999999999", "99999999999999999999999"),
            ("NaN", "NaN"),
            ("inf", "inf"),
            ("1e9", "1e9"),
            ("", "nothing"),
            ("1827536000", "in the future"),
            ("100", "before 2000"),
            ("\u{1b}[31m1795990000", "\\u{1b}"),
        ] {
            match time_file(body.as_bytes(), NOW) {
                TimeFile::At(t) => panic!("{body:?} read as {t}"),
                TimeFile::Unreadable(why) => assert!(why.contains(says), "{body:?}: {why}"),
            }
        }
    }
}
