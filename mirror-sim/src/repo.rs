//! Complete repositories in createrepo_c's shape, for every directory and version: a
//! repomd.xml and every file it names (primary, filelists, other, updateinfo, and comps for
//! AppStream), gzip-compressed, with the sizes and checksums repomd.xml states, and the
//! packages primary.xml lists under `Packages/`.
//!
//! The packages are real RPM files when the machine has `rpmbuild` and `createrepo_c`
//! ([`Packages::build`]: built once into a cache folder, their metadata taken from
//! createrepo_c's own output), so real dnf can install them; otherwise
//! [`Packages::synthetic`]: files of the size and checksum the metadata states that are not
//! RPMs (dnf can list and download them, not install them).
//!
//! Every version's files differ (each carries its directory and version), so their names,
//! which hold their checksums, are new in each version, as when createrepo_c regenerates a
//! repository: a mirror with a new repomd.xml but the previous version's files is
//! half-synced, and the files it lacks answer 404.

use anyhow::{bail, Context};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The content timestamp of version `v` of the master: one publication an hour.
pub fn version_timestamp(v: u32) -> i64 {
    1_795_000_000 + i64::from(v) * 3600
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One package as the repository lists it.
#[derive(Debug, Clone)]
pub struct Package {
    /// Its file name under `Packages/`.
    pub file: String,
    /// The RPM itself, when real.
    pub rpm: Option<Bytes>,
    /// Its `<package>` element in primary.xml, filelists.xml and other.xml.
    primary: String,
    filelists: String,
    other: String,
}

/// The packages every simulated repository carries.
#[derive(Debug, Clone)]
pub struct Packages {
    pub list: Vec<Package>,
}

/// The names of the packages built.
pub const PACKAGE_NAMES: [&str; 2] = ["sim-hello", "sim-tools"];

impl Packages {
    /// Real RPMs, built with rpmbuild into `cache` unless already there, their metadata from
    /// createrepo_c.
    pub fn build(cache: &Path) -> anyhow::Result<Packages> {
        std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
        let cache = std::fs::canonicalize(cache)?;
        let rpms = cache.join("rpms");
        std::fs::create_dir_all(&rpms)?;
        for name in PACKAGE_NAMES {
            let file = rpms.join(format!("{name}-1.0-1.noarch.rpm"));
            if file.is_file() {
                continue;
            }
            let top = cache.join("rpmbuild");
            std::fs::create_dir_all(&top)?;
            let spec = top.join(format!("{name}.spec"));
            std::fs::write(
                &spec,
                format!(
                    "Name: {name}\nVersion: 1.0\nRelease: 1\nSummary: {name}, a package of the simulated mirror network\n\
                     License: MIT\nBuildArch: noarch\nAutoReqProv: no\n%description\n{name} from mirror-sim.\n\
                     %install\nmkdir -p %{{buildroot}}/usr/share/mirror-sim\n\
                     echo {name} > %{{buildroot}}/usr/share/mirror-sim/{name}\n\
                     %files\n/usr/share/mirror-sim/{name}\n"
                ),
            )?;
            run(Command::new("rpmbuild")
                .arg("-bb")
                .arg("--quiet")
                .arg("--define")
                .arg(format!("_topdir {}", top.display()))
                .arg(&spec))?;
            let built = top
                .join("RPMS/noarch")
                .join(format!("{name}-1.0-1.noarch.rpm"));
            std::fs::copy(&built, &file)
                .with_context(|| format!("rpmbuild made no {}", built.display()))?;
        }
        let repo = cache.join("createrepo");
        let _ = std::fs::remove_dir_all(&repo);
        std::fs::create_dir_all(repo.join("Packages"))?;
        for name in PACKAGE_NAMES {
            let file = format!("{name}-1.0-1.noarch.rpm");
            std::fs::copy(rpms.join(&file), repo.join("Packages").join(&file))?;
        }
        run(Command::new("createrepo_c")
            .arg("--quiet")
            .arg("--no-database")
            .arg(&repo))?;
        let read = |kind: &str| -> anyhow::Result<String> {
            let dir = repo.join("repodata");
            for entry in std::fs::read_dir(&dir)? {
                let path = entry?.path();
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                if name.ends_with(&format!("-{kind}.xml.gz")) {
                    let out = Command::new("gzip").arg("-dc").arg(&path).output()?;
                    if !out.status.success() {
                        bail!("gzip -dc {} failed", path.display());
                    }
                    return Ok(String::from_utf8(out.stdout)?);
                }
            }
            bail!("createrepo_c wrote no {kind} file in {}", dir.display())
        };
        let (primary, filelists, other) = (read("primary")?, read("filelists")?, read("other")?);
        let mut list = Vec::new();
        for name in PACKAGE_NAMES {
            let file = format!("{name}-1.0-1.noarch.rpm");
            let pick = |xml: &str| {
                elements(xml, "package")
                    .into_iter()
                    .find(|p| {
                        p.contains(&format!("name=\"{name}\""))
                            || p.contains(&format!("<name>{name}</name>"))
                    })
                    .with_context(|| format!("createrepo_c's metadata lacks {name}"))
            };
            list.push(Package {
                rpm: Some(Bytes::from(std::fs::read(rpms.join(&file))?)),
                primary: pick(&primary)?,
                filelists: pick(&filelists)?,
                other: pick(&other)?,
                file,
            });
        }
        Ok(Packages { list })
    }

    /// Packages whose files are filler of the size and checksum the metadata states, not
    /// RPMs: for machines without rpmbuild (dnf can list and download them, not install
    /// them), and for tests that need no real packages.
    pub fn synthetic() -> Packages {
        let list = PACKAGE_NAMES
            .iter()
            .map(|name| {
                let file = format!("{name}-1.0-1.noarch.rpm");
                let body = Bytes::from(format!("{name} from mirror-sim\n").repeat(200));
                let (id, len) = (sha256_hex(&body), body.len());
                Package {
                    primary: format!(
                        "<package type=\"rpm\">\n  <name>{name}</name>\n  <arch>noarch</arch>\n  \
                         <version epoch=\"0\" ver=\"1.0\" rel=\"1\"/>\n  \
                         <checksum type=\"sha256\" pkgid=\"YES\">{id}</checksum>\n  \
                         <summary>{name}, a package of the simulated mirror network</summary>\n  \
                         <description>{name} from mirror-sim (metadata only).</description>\n  \
                         <packager></packager>\n  <url></url>\n  \
                         <time file=\"1795000000\" build=\"1795000000\"/>\n  \
                         <size package=\"{len}\" installed=\"10\" archive=\"200\"/>\n  \
                         <location href=\"Packages/{file}\"/>\n  <format>\n    \
                         <rpm:license>MIT</rpm:license>\n    <rpm:group>Unspecified</rpm:group>\n    \
                         <rpm:buildhost>mirror-sim</rpm:buildhost>\n    \
                         <rpm:sourcerpm>{name}-1.0-1.src.rpm</rpm:sourcerpm>\n    \
                         <rpm:header-range start=\"4504\" end=\"5500\"/>\n    <rpm:provides>\n      \
                         <rpm:entry name=\"{name}\" flags=\"EQ\" epoch=\"0\" ver=\"1.0\" rel=\"1\"/>\n    \
                         </rpm:provides>\n    <file>/usr/share/mirror-sim/{name}</file>\n  </format>\n\
                         </package>"
                    ),
                    filelists: format!(
                        "<package pkgid=\"{id}\" name=\"{name}\" arch=\"noarch\">\n  \
                         <version epoch=\"0\" ver=\"1.0\" rel=\"1\"/>\n  \
                         <file>/usr/share/mirror-sim/{name}</file>\n</package>"
                    ),
                    other: format!(
                        "<package pkgid=\"{id}\" name=\"{name}\" arch=\"noarch\">\n  \
                         <version epoch=\"0\" ver=\"1.0\" rel=\"1\"/>\n</package>"
                    ),
                    file,
                    rpm: Some(body),
                }
            })
            .collect();
        Packages { list }
    }

    /// Real packages when the machine can build them, else synthetic ones; says which.
    pub fn build_or_synthetic(cache: &Path) -> (Packages, String) {
        let have = |tool: &str| {
            Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !(have("rpmbuild") && have("createrepo_c")) {
            return (
                Packages::synthetic(),
                "no rpmbuild or createrepo_c: packages are filler, not RPMs (dnf can list them, not install them)"
                    .into(),
            );
        }
        match Packages::build(cache) {
            Ok(p) => (
                p,
                format!("real RPM packages, cached in {}", cache.display()),
            ),
            Err(e) => (
                Packages::synthetic(),
                format!(
                    "building RPM packages failed ({}): packages are filler, not RPMs",
                    shared::text::error_chain(e.as_ref())
                ),
            ),
        }
    }
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{:?} failed: {}",
            cmd.get_program(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The `<tag ...>...</tag>` elements of `xml`, as text (createrepo_c's output: not nested).
fn elements(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag} "), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let Some(len) = rest[start..].find(&close) else {
            break;
        };
        let end = start + len + close.len();
        out.push(rest[start..end].to_string());
        rest = &rest[end..];
    }
    out
}

/// One version of one directory: its repomd.xml and every other file, by path relative to
/// the directory (`repodata/...`, `Packages/...`).
#[derive(Debug)]
pub struct RepoVersion {
    pub repomd: Bytes,
    pub files: HashMap<String, Bytes>,
    /// The paths repomd.xml names, with the sizes it states.
    pub named: Vec<(String, u64)>,
}

fn gzip(data: &[u8]) -> Vec<u8> {
    // No file name and a zero time in the header: the same input, the same bytes.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("writing to memory");
    e.finish().expect("writing to memory")
}

/// Builds `dir` (a catalog path) at master version `v`.
pub fn build(dir: &str, v: u32, packages: &Packages) -> RepoVersion {
    let ts = version_timestamp(v);
    let mark = format!("<!-- mirror-sim: {dir}, version {v} -->\n");
    let n = packages.list.len();
    let join = |f: fn(&Package) -> &str| packages.list.iter().map(f).collect::<Vec<_>>().join("\n");
    let decl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    let mut docs: Vec<(&str, String)> = vec![
        (
            "primary",
            format!(
                "{decl}{mark}<metadata xmlns=\"http://linux.duke.edu/metadata/common\" \
                 xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"{n}\">\n{}\n</metadata>\n",
                join(|p| &p.primary)
            ),
        ),
        (
            "filelists",
            format!(
                "{decl}{mark}<filelists xmlns=\"http://linux.duke.edu/metadata/filelists\" packages=\"{n}\">\n{}\n</filelists>\n",
                join(|p| &p.filelists)
            ),
        ),
        (
            "other",
            format!(
                "{decl}{mark}<otherdata xmlns=\"http://linux.duke.edu/metadata/other\" packages=\"{n}\">\n{}\n</otherdata>\n",
                join(|p| &p.other)
            ),
        ),
        ("updateinfo", format!("{decl}{mark}<updates/>\n")),
    ];
    if dir.contains("AppStream") {
        docs.push((
            "group",
            format!(
                "{decl}{mark}<!DOCTYPE comps PUBLIC \"-//Red Hat, Inc.//DTD Comps info//EN\" \"comps.dtd\">\n\
                 <comps>\n  <group>\n    <id>sim-tools</id>\n    <name>Simulated tools</name>\n    \
                 <description>Packages of the simulated mirror network.</description>\n    \
                 <default>false</default>\n    <uservisible>true</uservisible>\n    <packagelist>\n      \
                 <packagereq type=\"mandatory\">sim-tools</packagereq>\n    </packagelist>\n  </group>\n</comps>\n"
            ),
        ));
    }
    let mut files = HashMap::new();
    let mut named = Vec::new();
    let mut repomd = format!(
        "{decl}<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" \
         xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n  <revision>{ts}</revision>\n"
    );
    for (i, (kind, xml)) in docs.iter().enumerate() {
        let gz = gzip(xml.as_bytes());
        let checksum = sha256_hex(&gz);
        let href = format!("repodata/{checksum}-{kind}.xml.gz");
        repomd.push_str(&format!(
            "  <data type=\"{kind}\">\n    <checksum type=\"sha256\">{checksum}</checksum>\n    \
             <open-checksum type=\"sha256\">{}</open-checksum>\n    <location href=\"{href}\"/>\n    \
             <timestamp>{}</timestamp>\n    <size>{}</size>\n    <open-size>{}</open-size>\n  </data>\n",
            sha256_hex(xml.as_bytes()),
            ts - i as i64,
            gz.len(),
            xml.len()
        ));
        named.push((href.clone(), gz.len() as u64));
        files.insert(href, Bytes::from(gz));
    }
    repomd.push_str("</repomd>\n");
    for p in &packages.list {
        if let Some(rpm) = &p.rpm {
            files.insert(format!("Packages/{}", p.file), rpm.clone());
        }
    }
    RepoVersion {
        repomd: Bytes::from(repomd),
        files,
        named,
    }
}

/// Built versions, kept while they may be asked for.
#[derive(Debug)]
pub struct Repos {
    packages: Packages,
    built: std::sync::Mutex<HashMap<(String, u32), std::sync::Arc<RepoVersion>>>,
}

/// Versions kept before the cache starts over (the real catalog's directories at a few
/// versions each fit many times over).
const KEPT: usize = 20_000;

impl Repos {
    pub fn new(packages: Packages) -> Repos {
        Repos {
            packages,
            built: Default::default(),
        }
    }

    pub fn packages(&self) -> &Packages {
        &self.packages
    }

    /// `dir` at version `v`, built on first use.
    pub fn get(&self, dir: &str, v: u32) -> std::sync::Arc<RepoVersion> {
        let key = (dir.to_string(), v);
        if let Some(r) = self
            .built
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return r.clone();
        }
        let r = std::sync::Arc::new(build(dir, v, &self.packages));
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        if built.len() >= KEPT {
            built.clear();
        }
        built.entry(key).or_insert(r).clone()
    }
}

/// Where real packages are cached by default: `$XDG_CACHE_HOME/mirror-sim`, else
/// `~/.cache/mirror-sim`, else a folder under the system's temporary one.
pub fn default_cache() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("mirror-sim")
}

#[cfg(test)]
mod tests;
