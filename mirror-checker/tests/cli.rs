//! The programs as an operator runs them: real binaries, a real SQLite file, the example and
//! the real AlmaLinux registries.

use shared::testing::{example, shared_data};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Env {
    dir: PathBuf,
}

impl Env {
    fn new(name: &str) -> Env {
        let dir = std::env::temp_dir().join(format!("checker-cli-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        Env { dir }
    }

    fn checker(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mirror-checker"))
            .args([
                "--database",
                &format!("sqlite://{}", self.dir.join("db/mirrors.db").display()),
            ])
            .args(args)
            .env_remove("MIRROR_CHECKER_CONFIG")
            .env_remove("MIRROR_CHECKER_DATABASE")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.checker(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?} failed:\n{text}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command that must fail; returns (stdout, stderr).
    fn fails(&self, args: &[&str]) -> (String, String) {
        let out = self.checker(args);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(
            !out.status.success(),
            "{args:?} succeeded:\n{stdout}{stderr}"
        );
        (stdout, stderr)
    }

    /// The example catalog and registry in the store.
    fn load_example(&self) {
        self.ok(&[
            "catalog",
            "load",
            &example("catalog.toml").display().to_string(),
        ]);
        self.ok(&[
            "import-registry",
            &example("mirrors.d").display().to_string(),
        ]);
    }

    fn path(&self, rel: &str) -> String {
        self.dir.join(rel).display().to_string()
    }
}

#[test]
fn example_registry_and_catalog_to_a_snapshot_the_server_loads() {
    let env = Env::new("example");
    let catalog = env.ok(&[
        "catalog",
        "load",
        &example("catalog.toml").display().to_string(),
    ]);
    assert!(
        catalog
            .contains("ExampleLinux: 22 directories, 19 on mirrors; 17 more of 2 vault releases"),
        "{catalog}"
    );
    let import = env.ok(&[
        "import-registry",
        &example("mirrors.d").display().to_string(),
    ]);
    assert!(
        import.contains("10 files: 10 accepted, 0 accepted with warnings, 0 rejected"),
        "{import}"
    );
    assert!(
        import.contains("store: 10 added, 0 updated, 0 unchanged, 0 removed"),
        "{import}"
    );
    let again = env.ok(&[
        "import-registry",
        &example("mirrors.d").display().to_string(),
    ]);
    assert!(
        again.contains("store: 0 added, 0 updated, 10 unchanged, 0 removed"),
        "{again}"
    );

    // An emergency expiry names directories by prefix, or all of them.
    let expired = env.ok(&["expire-alternates", "9.8/BaseOS"]);
    assert!(
        expired.starts_with("expired the alternates of 3 directories"),
        "{expired}"
    );
    let (_, err) = env.fails(&["expire-alternates", "9.8/NoSuchRepo"]);
    assert!(err.contains("9.8/NoSuchRepo"), "{err}");
    let (_, err) = env.fails(&["expire-alternates"]);
    assert!(err.contains("or give --all"), "{err}");

    let snap = env.path("out/snapshot.bin");
    let published = env.ok(&["snapshot", "--out", &snap]);
    assert!(
        published.starts_with("published snapshot 1 to"),
        "{published}"
    );
    assert!(
        published.contains("0 mirrors served"),
        "nothing is checked yet: {published}"
    );
    assert!(env
        .ok(&["snapshot", "--out", &snap])
        .starts_with("published snapshot 2 to"));

    // The published file is a complete, valid snapshot.
    let loaded = shared::snapshot::read(Path::new(&snap)).unwrap();
    assert_eq!((loaded.serial, loaded.mirrors.len()), (2, 10));
    use shared::snapshot::NotServed;
    let count = |r: NotServed| {
        loaded
            .mirrors
            .iter()
            .filter(|m| m.refused.as_ref() == Some(&r))
            .count()
    };
    assert_eq!(
        (
            count(NotServed::Disabled),
            count(NotServed::NotApproved),
            count(NotServed::NotCheckedYet)
        ),
        (1, 1, 8),
        "every mirror is in the snapshot, with why it is not served"
    );
    assert_eq!(loaded.catalog.spec.distribution, "ExampleLinux");

    // Export writes every mirror back as a registry file.
    let exported = env.ok(&["export-registry", &env.path("export")]);
    assert!(exported.contains("wrote 10 registry files"), "{exported}");
    assert!(Path::new(&env.path("export/private.example.org.yml")).exists());
}

#[test]
fn the_real_registry_imports_with_its_report_and_syncs() {
    let Some(dir) = shared_data("almalinux-mirrors/mirrors.d") else {
        return;
    };
    let Some(config) = shared_data("almalinux-mirrors/config.yml") else {
        return;
    };
    let env = Env::new("real");
    let toml = env.path("almalinux.toml");
    let catalog = env.ok(&[
        "catalog",
        "import-almalinux",
        &config.display().to_string(),
        "--write-toml",
        &toml,
    ]);
    assert!(
        catalog
            .contains("AlmaLinux: 344 directories, 151 on mirrors; 1417 more of 32 vault releases"),
        "{catalog}"
    );
    assert!(
        catalog.contains("9.8 (also 9): 43 directories on mirrors"),
        "{catalog}"
    );
    // The written TOML loads to the same catalog.
    assert!(env
        .ok(&["catalog", "load", &toml])
        .contains("AlmaLinux: 344 directories, 151 on mirrors; 1417 more of 32 vault releases"));

    let report = env.ok(&["import-registry", &dir.display().to_string()]);
    assert!(
        report.contains("530 files: 403 accepted, 127 accepted with warnings, 0 rejected"),
        "{report}"
    );
    assert!(report.contains("warnings: almalinux.mirror.sofia.incognet.io.yml\n  almalinux.mirror.sofia.incognet.io.yml: line 8: address_options: unknown key, read as address_optional"), "{report}");
    assert!(report.contains("store: 530 added"), "{report}");

    // A registry with one file fewer and one bad file: without --sync the stored mirror stays.
    let partial = env.dir.join("partial");
    std::fs::create_dir_all(&partial).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "mirror.fcix.net.yml" {
            std::fs::copy(entry.path(), partial.join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(partial.join("zz-broken.yml"), "name: [oops\n").unwrap();
    // A rejected file fails the import (a registry's CI sees it), and what was accepted is
    // still stored.
    let (kept, error) = env.fails(&["import-registry", &partial.display().to_string()]);
    assert!(kept.contains("rejected: zz-broken.yml"), "{kept}");
    assert!(error.contains("1 registry file was rejected"), "{error}");
    assert!(
        kept.contains(
            "529 unchanged, 0 removed; 1 stored mirror is not in the registry and was kept"
        ),
        "{kept}"
    );
    let (synced, _) = env.fails(&["import-registry", "--sync", &partial.display().to_string()]);
    assert!(
        synced.contains("0 added, 0 updated, 529 unchanged, 1 removed"),
        "{synced}"
    );

    let (json, _) = env.fails(&["import-registry", "--json", &partial.display().to_string()]);
    let parsed: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(parsed["files"].as_array().unwrap().len(), 530);
}

/// `registry check DIR` judges a registry without a store: what a registry kept in git runs on
/// each pull request.
#[test]
fn registry_check_needs_no_store_and_fails_on_a_rejected_file() {
    let env = Env::new("check");
    let out = Command::new(env!("CARGO_BIN_EXE_mirror-checker"))
        .args([
            "registry",
            "check",
            &example("mirrors.d").display().to_string(),
        ])
        .env_remove("MIRROR_CHECKER_CONFIG")
        .env_remove("MIRROR_CHECKER_DATABASE")
        .current_dir(&env.dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("10 files: "), "{stdout}");
    assert!(
        std::fs::read_dir(&env.dir).unwrap().next().is_none(),
        "no store was created"
    );
    let bad = env.dir.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::copy(
        example("mirrors.d/mirror1.example.org.yml"),
        bad.join("a.yml"),
    )
    .unwrap();
    std::fs::write(bad.join("b.yml"), "name: b.example.org\naddress: {}\n").unwrap();
    let (stdout, stderr) = env.fails(&["registry", "check", &bad.display().to_string()]);
    assert!(stdout.contains("rejected: b.yml"), "{stdout}");
    assert!(stderr.contains("1 registry file was rejected"), "{stderr}");
}

#[test]
fn operator_mistakes_get_clear_errors() {
    let env = Env::new("mistakes");
    let out = env.checker(&["snapshot", "--out", &env.path("s.bin")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no catalog is stored yet"));
    let out = env.checker(&["import-registry", &env.path("nowhere")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the registry folder"));
    let out = Command::new(env!("CARGO_BIN_EXE_mirror-checker"))
        .args(["--database", "mysql://x/y", "catalog", "show"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unsupported database URL"),
        "{out:?}"
    );
    let bad_config = env.dir.join("bad.toml");
    std::fs::write(&bad_config, "databse = \"sqlite://x\"\n").unwrap();
    let out = env.checker(&[
        "--config",
        &bad_config.display().to_string(),
        "catalog",
        "show",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown field `databse`"),
        "{out:?}"
    );
}

/// A read-only command pointed at a store that does not exist says so and creates nothing
/// (`status` with a mistyped `--database` path created the folder and an empty database).
#[test]
fn read_only_commands_never_create_a_store() {
    let env = Env::new("readonly");
    for args in [
        vec!["status", "a-mirror"],
        vec!["catalog", "show"],
        vec!["export-registry", &env.path("out")],
    ] {
        let (_, stderr) = env.fails(&args);
        assert!(stderr.contains("no store at"), "{args:?}: {stderr}");
        assert!(!env.dir.join("db").exists(), "{args:?} created the store");
    }
}

/// `status NAME | head` ends quietly when the reader goes away (it panicked on the closed
/// pipe).
#[test]
fn status_into_a_closed_pipe_does_not_panic() {
    let env = Env::new("pipe");
    env.load_example();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_mirror-checker"))
        .args([
            "--database",
            &format!("sqlite://{}", env.dir.join("db/mirrors.db").display()),
            "status",
            "au.mirror.example",
        ])
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}

/// `status --json` prints the server's `/api/v1/mirrors/NAME` document, from the store now:
/// a mirror never checked is not served, and says so.
#[test]
fn status_json_is_the_apis_mirror_document() {
    let env = Env::new("json");
    env.load_example();
    let out = env.ok(&["status", "au.mirror.example", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["api_version"], 1);
    assert_eq!(json["name"], "au.mirror.example");
    assert_eq!(json["state"], "not_served", "{out}");
    assert_eq!(json["reason"], "not checked yet", "{out}");
    let (_, stderr) = env.fails(&["status", "nobody.example", "--json"]);
    assert!(
        stderr.contains("no mirror is registered as nobody.example"),
        "{stderr}"
    );
}

/// `mirrors` lists every mirror with its state, filters by state and country, and prints
/// the API's rows as JSON.
#[test]
fn mirrors_lists_and_filters() {
    let env = Env::new("list");
    env.load_example();
    let all = env.ok(&["mirrors"]);
    assert!(all.contains("10 of 10 mirrors listed; 0 served"), "{all}");
    assert!(all.contains("not checked yet"), "{all}");
    assert!(all.lines().next().unwrap().contains("CHECKED"), "{all}");
    assert!(all.contains("  never  "), "{all}");
    assert!(all.contains("disabled in the registry"), "{all}");
    let de = env.ok(&["mirrors", "--country", "de", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&de).unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["country"] == "DE"), "{de}");
    let served = env.ok(&["mirrors", "--state", "served"]);
    assert!(served.contains("0 of 10 mirrors listed"), "{served}");
    let (_, stderr) = env.fails(&["mirrors", "--state", "sideways"]);
    assert!(stderr.contains("invalid value 'sideways'"), "{stderr}");
}

/// `propagation` lists each directory's current version, one directory's versions with
/// `DIR`, as JSON with `--json`, and says plainly when a directory is not in the catalog.
#[test]
fn propagation_lists_directories_and_one_directorys_versions() {
    let env = Env::new("propagation");
    env.load_example();
    let all = env.ok(&["propagation"]);
    assert!(
        all.lines().next().unwrap().starts_with("DIRECTORY"),
        "{all}"
    );
    assert!(all.contains("`propagation DIR`"), "{all}");
    let json = env.ok(&["propagation", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert!(rows.is_empty(), "nothing scanned yet: {json}");
    let one = env.ok(&["propagation", "9.8/BaseOS/x86_64/os", "--json"]);
    let versions: Vec<serde_json::Value> = serde_json::from_str(&one).unwrap();
    assert!(versions.is_empty(), "{one}");
    let (_, stderr) = env.fails(&["propagation", "9.8/Nothing/x86_64/os"]);
    assert!(
        stderr.contains("no directory \"9.8/Nothing/x86_64/os\" in the catalog"),
        "{stderr}"
    );
}

/// One registry file inflated within every field's bound (here 9,000 ASNs; aliases took the
/// issue's file to 289 MB) made the snapshot jump, and every replica fed over HTTP then
/// refused it as too large. A snapshot more than `snapshot_growth_max`
/// (4) times the size of the last one published is not published, and says so.
#[test]
fn a_snapshot_that_jumps_in_size_is_not_published() {
    let env = Env::new("growth");
    env.load_example();
    let snap = env.path("out/snapshot.bin");
    env.ok(&["snapshot", "--out", &snap]);
    let registry = env.dir.join("registry");
    std::fs::create_dir_all(&registry).unwrap();
    for entry in std::fs::read_dir(example("mirrors.d")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, registry.join(path.file_name().unwrap())).unwrap();
    }
    let inflated = registry.join("mirror1.example.org.yml");
    let mut text = std::fs::read_to_string(&inflated).unwrap();
    let asns: Vec<String> = (0..9_000).map(|i| (100_000 + i).to_string()).collect();
    text.push_str(&format!("asn: [{}]\n", asns.join(", ")));
    std::fs::write(&inflated, text).unwrap();
    env.ok(&["import-registry", &registry.display().to_string()]);
    // The example network is small: the bound applies from the first byte here.
    let config = env.path("checker.toml");
    std::fs::write(&config, "snapshot_growth_floor_bytes = 0\n").unwrap();
    let (_, err) = env.fails(&["--config", &config, "snapshot", "--out", &snap]);
    assert!(
        err.contains("times the size of snapshot 1") && err.contains("snapshot_growth_max"),
        "{err}"
    );
    assert_eq!(shared::snapshot::read(Path::new(&snap)).unwrap().serial, 1);
}

/// A store rebuilt from scratch started its serials at 1 again, and every server, holding a
/// higher one, took each new snapshot for an older one and never loaded it: the serial
/// continues above the snapshot already at the path.
#[test]
fn a_rebuilt_store_continues_the_published_serials() {
    let env = Env::new("rebuilt");
    env.load_example();
    let snap = env.path("out/snapshot.bin");
    env.ok(&["snapshot", "--out", &snap]);
    env.ok(&["snapshot", "--out", &snap]);
    std::fs::remove_dir_all(env.dir.join("db")).unwrap();
    env.load_example();
    let published = env.ok(&["snapshot", "--out", &snap]);
    assert!(
        published.starts_with("published snapshot 3 to"),
        "{published}"
    );
}
