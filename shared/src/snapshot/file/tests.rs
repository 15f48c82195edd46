use super::*;
use crate::catalog::Catalog;
use crate::snapshot::{SnapDirectory, Snapshot};
use crate::testing::example;

fn sample() -> Snapshot {
    let catalog = Catalog::load(&example("catalog.toml")).unwrap();
    Snapshot {
        serial: 7,
        created_at: 1_795_000_000,
        generator: "test".into(),
        directories: vec![SnapDirectory::default(); catalog.directories.len()],
        catalog,
        mirrors: Vec::new(),
    }
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("snapfile-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("snapshot.bin")
}

#[test]
fn writes_atomically_and_reads_back() {
    let path = temp("roundtrip");
    let snap = sample();
    let (sha, size) = write_atomic(&snap, &path, None).unwrap();
    assert_eq!(sha.len(), 64);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
    assert_eq!(read(&path).unwrap(), snap);
    let header = read_header(&path).unwrap();
    assert_eq!(
        (
            header.serial,
            header.distribution.as_str(),
            header.format_version
        ),
        (7, "ExampleLinux", FORMAT_VERSION)
    );
    // Replacing leaves exactly one file and no temporaries behind.
    let mut next = snap.clone();
    next.serial = 8;
    write_atomic(&next, &path, None).unwrap();
    assert_eq!(read(&path).unwrap().serial, 8);
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("snapshot.bin")]);
}

#[test]
fn truncated_corrupted_and_foreign_files_are_refused_clearly() {
    let path = temp("damage");
    write_atomic(&sample(), &path, None).unwrap();
    let good = std::fs::read(&path).unwrap();
    let header_end = 16 + u32::from_le_bytes(good[12..16].try_into().unwrap()) as usize;
    for cut in [
        good.len() - 1,
        good.len() - 32,
        header_end + 3,
        header_end - 5,
        12,
    ] {
        let err = decode(&good[..cut], "s.bin").unwrap_err();
        assert!(
            matches!(err, SnapshotError::Truncated { .. }),
            "cut at {cut}: {err}"
        );
        assert!(
            err.to_string().starts_with("s.bin: the file is truncated"),
            "{err}"
        );
    }
    for at in [header_end + 10, good.len() - 40, good.len() - 1, 30] {
        let mut bad = good.clone();
        bad[at] ^= 0x55;
        let err = decode(&bad, "s.bin").unwrap_err();
        assert!(
            err.to_string().starts_with("s.bin: the file is corrupted"),
            "flip at {at}: {err}"
        );
    }
    let mut longer = good.clone();
    longer.extend_from_slice(b"junk");
    assert!(decode(&longer, "s.bin")
        .unwrap_err()
        .to_string()
        .contains("after the end"));
    let mut v9 = good.clone();
    v9[8..12].copy_from_slice(&9u32.to_le_bytes());
    assert_eq!(
        decode(&v9, "s.bin").unwrap_err().to_string(),
        format!("s.bin: snapshot format version 9; this program reads version {FORMAT_VERSION}")
    );
    for foreign in [&b""[..], b"MIRR", b"<?xml version=\"1.0\"?><metalink/>"] {
        assert!(matches!(
            decode(foreign, "x").unwrap_err(),
            SnapshotError::NotASnapshot(_)
        ));
    }
    let missing = read(&path.with_file_name("absent.bin")).unwrap_err();
    assert!(missing.to_string().contains("absent.bin"), "{missing}");
}

/// Re-frames `bytes` with its JSON header changed by `edit` (new length, new checksum).
fn with_header(bytes: &[u8], edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[16..16 + len]).unwrap();
    edit(&mut header);
    let header = serde_json::to_vec(&header).unwrap();
    let payload = &bytes[16 + len..bytes.len() - 32];
    let mut out = bytes[..12].to_vec();
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

#[test]
fn a_newer_minor_is_read_and_another_major_refused() {
    let bytes = encode(&sample(), None);
    let newer = with_header(&bytes, |h| {
        h["format_minor"] = (FORMAT_MINOR + 5).into();
        h["a_field_from_the_future"] = "ignored".into();
    });
    assert_eq!(decode(&newer, "newer").unwrap(), sample());
    // Files from before minors were counted have none: minor 0.
    let older = with_header(&bytes, |h| {
        h.as_object_mut().unwrap().remove("format_minor");
    });
    assert_eq!(decode(&older, "older").unwrap(), sample());
    let mut major = bytes.clone();
    major[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let err = decode(&major, "major").unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "format version {}; this program reads version {FORMAT_VERSION}",
            FORMAT_VERSION + 1
        )),
        "{err}"
    );
}

#[test]
fn signed_snapshots_are_accepted_by_their_key_only() {
    use crate::snapshot::sign::{PublicKey, SigningKey};
    let dir = tempfile::tempdir().unwrap();
    let key = |name: &str| {
        let (private, public) = SigningKey::generate();
        std::fs::write(dir.path().join(name), private).unwrap();
        std::fs::write(dir.path().join(format!("{name}.pub")), public).unwrap();
        (
            SigningKey::read(&dir.path().join(name)).unwrap(),
            PublicKey::read(&dir.path().join(format!("{name}.pub"))).unwrap(),
        )
    };
    let (signer, public) = key("ours");
    let (forger, _) = key("theirs");
    let path = dir.path().join("snapshot.bin");
    let snap = sample();

    write_atomic(&snap, &path, Some(&signer)).unwrap();
    assert_eq!(read_verified(&path, Some(&public)).unwrap(), snap);
    // A reader without a key reads a signed file too.
    assert_eq!(read(&path).unwrap(), snap);

    write_atomic(&snap, &path, None).unwrap();
    let err = read_verified(&path, Some(&public)).unwrap_err().to_string();
    assert!(err.contains("refused: not signed"), "{err}");

    write_atomic(&snap, &path, Some(&forger)).unwrap();
    let err = read_verified(&path, Some(&public)).unwrap_err().to_string();
    assert!(err.contains("refused: signed by key"), "{err}");

    // A signed file altered after signing (its checksum made to match again).
    let mut altered = snap.clone();
    altered.generator = "forged".into();
    let mut bytes = encode(&altered, None);
    let signed = encode(&snap, Some(&signer));
    bytes.extend_from_slice(&signed[signed.len() - crate::snapshot::sign::TRAILER..]);
    let err = decode_verified(&bytes, "x", Some(&public))
        .unwrap_err()
        .to_string();
    assert!(err.contains("forged or altered"), "{err}");

    // Heartbeats: signed ones are read with the key, unsigned ones only without.
    write_freshness(&path, 7, 1000, Some(&signer)).unwrap();
    assert_eq!(read_freshness(&path, Some(&public)), Some((7, 1000)));
    write_freshness(&path, 7, 1000, None).unwrap();
    assert_eq!(read_freshness(&path, Some(&public)), None);
    assert_eq!(read_freshness(&path, None), Some((7, 1000)));
}

/// A sparse 4 GB file that begins as a snapshot was read to 1 GiB before being refused:
/// its header says how long it may be, and a longer file is refused from that.
#[test]
fn a_file_longer_than_its_header_declares_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.bin");
    write_atomic(&sample(), &path, None).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(4 << 30).unwrap();
    for err in [
        read(&path).unwrap_err().to_string(),
        read_header(&path).unwrap_err().to_string(),
    ] {
        assert!(err.contains("its header declares at most"), "{err}");
    }
}

/// The first bytes of a download say whether it can be a snapshot, and how long it is.
#[test]
fn a_snapshots_first_bytes_declare_its_length() {
    let bytes = encode(&sample(), None);
    assert_eq!(declared_len(&bytes[..3], "x").unwrap(), None);
    assert_eq!(declared_len(&bytes[..20], "x").unwrap(), None);
    let max = declared_len(&bytes, "x").unwrap().unwrap();
    assert_eq!(
        max,
        bytes.len() as u64 + crate::snapshot::sign::TRAILER as u64
    );
    let err = declared_len(b"<html>", "x").unwrap_err().to_string();
    assert!(err.contains("not a snapshot"), "{err}");
    let err = declared_len(b"MIRX", "x").unwrap_err().to_string();
    assert!(err.contains("not a snapshot"), "{err}");
}
