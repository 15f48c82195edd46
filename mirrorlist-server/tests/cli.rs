//! The server program loading snapshots as an operator runs it: a valid one is described, a
//! damaged or foreign one is refused with a clear message and a failing exit.

use shared::catalog::Catalog;
use shared::registry;
use shared::snapshot::{self, SnapshotInput};
use shared::testing::example;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

fn server(snapshot: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mirrorlist-server"))
        .args(["--snapshot", &snapshot.display().to_string()])
        .env_remove("MIRRORLIST_SNAPSHOT")
        .output()
        .unwrap()
}

#[test]
fn loads_a_valid_snapshot_and_refuses_damaged_ones() {
    let catalog = Catalog::load(&example("catalog.toml")).unwrap();
    let mirrors = registry::import_dir(&example("mirrors.d")).unwrap().mirrors;
    let input = SnapshotInput {
        directory_ids: catalog
            .directories
            .iter()
            .enumerate()
            .map(|(i, d)| (d.path.clone(), i as i64))
            .collect(),
        catalog,
        mirrors: mirrors
            .into_iter()
            .enumerate()
            .map(|(i, m)| (i as i64, m))
            .collect(),
        history: HashMap::new(),
        checks: Vec::new(),
        health: Vec::new(),
        fetched_subnets: HashMap::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.bin");
    snapshot::write_atomic(&snapshot::build(&input, 5, 1_795_000_000, "test"), &path).unwrap();

    let out = server(&path);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(
            "snapshot 5 of ExampleLinux by test: 8 mirrors, 22 directories (19 on mirrors)"
        ),
        "{text}"
    );

    let good = std::fs::read(&path).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated.bin",
            good[..good.len() / 2].to_vec(),
            "the file is truncated",
        ),
        (
            "corrupted.bin",
            good.iter()
                .enumerate()
                .map(|(i, b)| if i == good.len() - 40 { b ^ 1 } else { *b })
                .collect(),
            "the file is corrupted",
        ),
        (
            "foreign.bin",
            b"<metalink/>".to_vec(),
            "not a snapshot file",
        ),
    ];
    for (name, bytes, expected) in cases {
        let bad = dir.path().join(name);
        std::fs::write(&bad, bytes).unwrap();
        let out = server(&bad);
        assert!(!out.status.success(), "{name} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("cannot load the snapshot") && err.contains(expected),
            "{name}: {err}"
        );
    }
    let out = server(&dir.path().join("absent.bin"));
    assert!(!out.status.success());
}
