//! Tiny RPMs built with rpmbuild and repositories made from them with createrepo_c.

use super::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Builds tiny noarch RPMs with rpmbuild: one per name, installing `/usr/share/e2e/NAME`.
pub fn build_rpms(dir: &Path, names: &[&str]) -> Vec<PathBuf> {
    let top = dir.join("rpmbuild");
    fs::create_dir_all(&top).unwrap();
    names
        .iter()
        .map(|name| {
            let spec = top.join(format!("{name}.spec"));
            fs::write(
                &spec,
                format!(
                    "Name: {name}\nVersion: 1\nRelease: 1\nSummary: {name} for end-to-end tests\n\
                     License: MIT\nBuildArch: noarch\nAutoReqProv: no\n%description\n{name}\n\
                     %install\nmkdir -p %{{buildroot}}/usr/share/e2e\n\
                     echo {name} > %{{buildroot}}/usr/share/e2e/{name}\n\
                     %files\n/usr/share/e2e/{name}\n"
                ),
            )
            .unwrap();
            let mut cmd = Command::new("rpmbuild");
            cmd.arg("-bb")
                .arg("--define")
                .arg(format!("_topdir {}", top.display()))
                .arg(&spec);
            run_ok(cmd, Duration::from_secs(120));
            let rpm = top
                .join("RPMS/noarch")
                .join(format!("{name}-1-1.noarch.rpm"));
            assert!(rpm.exists(), "rpmbuild made no {}", rpm.display());
            rpm
        })
        .collect()
}

/// A repository in `dir`: the RPMs under Packages/ and repodata from createrepo_c.
pub fn make_repo(dir: &Path, rpms: &[PathBuf], revision: u32) {
    let packages = dir.join("Packages");
    fs::create_dir_all(&packages).unwrap();
    for rpm in rpms {
        fs::copy(rpm, packages.join(rpm.file_name().unwrap())).unwrap();
    }
    let mut cmd = Command::new("createrepo_c");
    cmd.arg("--revision").arg(revision.to_string()).arg(dir);
    run_ok(cmd, Duration::from_secs(120));
}

/// Points the symlink `link` at `target`, atomically (a reader sees one or the other).
pub fn switch_link(link: &Path, target: &Path) {
    let tmp = link.with_extension("new");
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    fs::rename(&tmp, link).unwrap();
}
