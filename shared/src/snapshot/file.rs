//! The snapshot file format:
//!
//! ```text
//! magic "MIRRSNAP" | format version: u32 LE | header length: u32 LE | header (JSON)
//! | payload (postcard) | SHA-256 of everything before it (32 bytes) [| signature trailer]
//! ```
//!
//! A checker with a signing key appends a signature trailer ([`super::sign`]); a reader given
//! a public key accepts only files carrying a valid one, a reader without ignores it.
//!
//! The JSON header makes a file self-describing (`head -c 600 file` shows what it is) and
//! carries the payload length, so truncation is told apart from corruption. Files are written
//! to a temporary name, synced, and renamed into place: a reader sees the old file or the
//! new one, never a mix.
//!
//! Versions and compatibility:
//! - The format version in the prefix ([`FORMAT_VERSION`]) is the major version. It changes
//!   with any change to the payload's layout: postcard carries no field names, so a field
//!   added, removed or reordered anywhere in [`Snapshot`] is a new major. A reader refuses
//!   every major but its own, older or newer, with an error naming both; a running server
//!   then keeps answering from the snapshot it has (and turns unready once that is older than
//!   `--max-snapshot-age`). So checkers and servers are upgraded together across a major, and
//!   a server that restarts meanwhile needs a snapshot of its own major.
//! - The minor version (`format_minor` in the JSON header, [`FORMAT_MINOR`]) counts additions
//!   to the header alone. A reader accepts any minor of its major, newer ones included, and
//!   ignores header fields it does not know.

use super::sign::{self, PublicKey, SigningKey};
use super::Snapshot;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

pub const MAGIC: &[u8; 8] = b"MIRRSNAP";
pub const FORMAT_VERSION: u32 = 6;
/// Additions to the JSON header within [`FORMAT_VERSION`].
pub const FORMAT_MINOR: u32 = 0;
const PREFIX: usize = 16;
const CHECKSUM: usize = 32;
/// Headers are a few hundred bytes; a larger one means a damaged file.
const MAX_HEADER: usize = 64 * 1024;
/// A snapshot file larger than this is refused unread (the real network's is a few MiB).
const MAX_FILE: u64 = 1 << 30;

/// The readable part of a snapshot file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    pub format: String,
    pub format_version: u32,
    /// Absent (0) in files written before minors were counted.
    #[serde(default)]
    pub format_minor: u32,
    pub serial: u64,
    pub created_at: i64,
    pub generator: String,
    pub distribution: String,
    pub payload_encoding: String,
    pub payload_bytes: u64,
    pub mirrors: u64,
    pub directories: u64,
    pub up_to_date_pairs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}: not a snapshot file (it does not start with \"MIRRSNAP\")")]
    NotASnapshot(String),
    #[error(
        "{path}: snapshot format version {found}; this program reads version {FORMAT_VERSION}"
    )]
    WrongVersion { path: String, found: u32 },
    #[error("{path}: the file is truncated: {found} bytes where the header promises {expected}")]
    Truncated {
        path: String,
        expected: u64,
        found: u64,
    },
    #[error("{path}: the file is corrupted: {detail}")]
    Corrupted { path: String, detail: String },
    #[error("{path}: refused: {detail}")]
    Refused { path: String, detail: String },
}

/// A snapshot's file bytes, signed with `key` when given.
pub fn encode(snapshot: &Snapshot, key: Option<&SigningKey>) -> Vec<u8> {
    let payload = postcard::to_stdvec(snapshot).expect("a snapshot always encodes");
    let header = SnapshotHeader {
        format: "mirror snapshot".into(),
        format_version: FORMAT_VERSION,
        format_minor: FORMAT_MINOR,
        serial: snapshot.serial,
        created_at: snapshot.created_at,
        generator: snapshot.generator.clone(),
        distribution: snapshot.catalog.spec.distribution.clone(),
        payload_encoding: "postcard".into(),
        payload_bytes: payload.len() as u64,
        mirrors: snapshot.mirrors.len() as u64,
        directories: snapshot.directories.len() as u64,
        up_to_date_pairs: snapshot.up_to_date_pairs() as u64,
    };
    let header = serde_json::to_vec(&header).expect("a header always encodes");
    let mut out = Vec::with_capacity(PREFIX + header.len() + payload.len() + CHECKSUM);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&payload);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    match key {
        Some(key) => key.sign_file(out),
        None => out,
    }
}

/// Checks framing, version, length, checksum and (with `key`) the signature; returns the
/// header and the payload slice.
fn frame<'a>(
    bytes: &'a [u8],
    path: &str,
    key: Option<&PublicKey>,
) -> Result<(SnapshotHeader, &'a [u8]), SnapshotError> {
    let corrupted = |detail: String| SnapshotError::Corrupted {
        path: path.to_string(),
        detail,
    };
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(SnapshotError::NotASnapshot(path.to_string()));
    }
    if bytes.len() < PREFIX {
        return Err(SnapshotError::Truncated {
            path: path.into(),
            expected: PREFIX as u64,
            found: bytes.len() as u64,
        });
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(SnapshotError::WrongVersion {
            path: path.into(),
            found: version,
        });
    }
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")) as usize;
    if header_len > MAX_HEADER {
        return Err(corrupted(format!(
            "header length {header_len} is implausible"
        )));
    }
    if bytes.len() < PREFIX + header_len {
        return Err(SnapshotError::Truncated {
            path: path.into(),
            expected: (PREFIX + header_len) as u64,
            found: bytes.len() as u64,
        });
    }
    let header: SnapshotHeader = serde_json::from_slice(&bytes[PREFIX..PREFIX + header_len])
        .map_err(|e| corrupted(format!("header: {e}")))?;
    let expected = (PREFIX + header_len) as u64 + header.payload_bytes + CHECKSUM as u64;
    if (bytes.len() as u64) < expected {
        return Err(SnapshotError::Truncated {
            path: path.into(),
            expected,
            found: bytes.len() as u64,
        });
    }
    let extra = bytes.len() as u64 - expected;
    let signed = extra == sign::TRAILER as u64 && sign::trailer(bytes).is_some();
    if extra > 0 && !signed {
        return Err(corrupted(format!(
            "{extra} bytes after the end of the snapshot"
        )));
    }
    if let Some(key) = key {
        if let Some(detail) = sign::refusal(bytes, key) {
            return Err(SnapshotError::Refused {
                path: path.into(),
                detail,
            });
        }
    }
    let body_end = expected as usize - CHECKSUM;
    if Sha256::digest(&bytes[..body_end]).as_slice() != &bytes[body_end..expected as usize] {
        return Err(corrupted("checksum mismatch".into()));
    }
    Ok((header, &bytes[PREFIX + header_len..body_end]))
}

/// Decodes a snapshot from bytes, verifying everything but a signature.
pub fn decode(bytes: &[u8], path: &str) -> Result<Snapshot, SnapshotError> {
    decode_verified(bytes, path, None)
}

/// Decodes a snapshot from bytes, verifying everything; with `key`, refuses one that is not
/// signed by it.
pub fn decode_verified(
    bytes: &[u8],
    path: &str,
    key: Option<&PublicKey>,
) -> Result<Snapshot, SnapshotError> {
    let (header, payload) = frame(bytes, path, key)?;
    let snapshot: Snapshot =
        postcard::from_bytes(payload).map_err(|e| SnapshotError::Corrupted {
            path: path.into(),
            detail: format!("payload: {e}"),
        })?;
    if snapshot.serial != header.serial
        || snapshot.directories.len() != snapshot.catalog.directories.len()
    {
        return Err(SnapshotError::Corrupted {
            path: path.into(),
            detail: "payload disagrees with its header".into(),
        });
    }
    let mirrors = snapshot.mirrors.len();
    if snapshot
        .directories
        .iter()
        .flat_map(|d| &d.mirrors)
        .any(|m| m.mirror as usize >= mirrors)
    {
        return Err(SnapshotError::Corrupted {
            path: path.into(),
            detail: "a directory names a mirror that is not there".into(),
        });
    }
    Ok(snapshot)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Reads and verifies a snapshot file (a signature is not required).
pub fn read(path: &Path) -> Result<Snapshot, SnapshotError> {
    read_verified(path, None)
}

/// Reads and verifies a snapshot file; with `key`, refuses one that is not signed by it.
pub fn read_verified(path: &Path, key: Option<&PublicKey>) -> Result<Snapshot, SnapshotError> {
    let bytes = read_bytes(path)?;
    decode_verified(&bytes, &path.display().to_string(), key)
}

/// How long a snapshot beginning with `prefix` is at most (signed), once enough of it is
/// there to say (`None`: not yet); an error as soon as it cannot be a snapshot. What a
/// download checks as its first bytes arrive, and a file before it is read whole.
pub fn declared_len(prefix: &[u8], origin: &str) -> Result<Option<u64>, SnapshotError> {
    let seen = prefix.len().min(MAGIC.len());
    if prefix[..seen] != MAGIC[..seen] {
        return Err(SnapshotError::NotASnapshot(origin.to_string()));
    }
    if prefix.len() < PREFIX {
        return Ok(None);
    }
    let version = u32::from_le_bytes(prefix[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(SnapshotError::WrongVersion {
            path: origin.into(),
            found: version,
        });
    }
    let header_len = u32::from_le_bytes(prefix[12..16].try_into().expect("4 bytes")) as usize;
    let corrupted = |detail: String| SnapshotError::Corrupted {
        path: origin.to_string(),
        detail,
    };
    if header_len > MAX_HEADER {
        return Err(corrupted(format!(
            "header length {header_len} is implausible"
        )));
    }
    let Some(header) = prefix.get(PREFIX..PREFIX + header_len) else {
        return Ok(None);
    };
    let header: SnapshotHeader =
        serde_json::from_slice(header).map_err(|e| corrupted(format!("header: {e}")))?;
    let whole = (PREFIX + header_len + CHECKSUM + sign::TRAILER) as u64;
    Ok(Some(whole.saturating_add(header.payload_bytes)))
}

/// A snapshot file's bytes, its length first checked against what its header declares (a
/// sparse or padded file is refused unread).
fn read_bytes(path: &Path) -> Result<Vec<u8>, SnapshotError> {
    use std::io::Read;
    let origin = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(io(path))?;
    // Not a regular file (a FIFO would block the open): refused by `read_regular` below.
    if meta.is_file() {
        let len = meta.len();
        let mut head = Vec::new();
        let file = std::fs::File::open(path).map_err(io(path))?;
        let head_len = len.min((PREFIX + MAX_HEADER) as u64);
        file.take(head_len)
            .read_to_end(&mut head)
            .map_err(io(path))?;
        if let Some(max) = declared_len(&head, &origin)? {
            if len > max {
                return Err(SnapshotError::Corrupted {
                    path: origin,
                    detail: format!("the file is {len} bytes; its header declares at most {max}"),
                });
            }
        }
    }
    crate::fsread::read_regular(path, MAX_FILE).map_err(io(path))
}

/// Reads a snapshot file's header after verifying the whole file.
pub fn read_header(path: &Path) -> Result<SnapshotHeader, SnapshotError> {
    let bytes = read_bytes(path)?;
    frame(&bytes, &path.display().to_string(), None).map(|(h, _)| h)
}

/// Verifies a snapshot file's bytes as [`decode_verified`] does and returns its header
/// without decoding the payload.
pub fn verify_bytes(
    bytes: &[u8],
    origin: &str,
    key: Option<&PublicKey>,
) -> Result<SnapshotHeader, SnapshotError> {
    frame(bytes, origin, key).map(|(h, _)| h)
}

/// Writes a snapshot atomically: temporary file in the same folder, fsync, rename, fsync of
/// the folder; signed with `key` when given. Returns the file's SHA-256 (hex) and size.
pub fn write_atomic(
    snapshot: &Snapshot,
    path: &Path,
    key: Option<&SigningKey>,
) -> Result<(String, u64), SnapshotError> {
    write_bytes(&encode(snapshot, key), path)
}

/// Writes a snapshot's bytes (from [`encode`]) atomically as [`write_atomic`] does; returns
/// their SHA-256 (hex) and size.
pub fn write_bytes(bytes: &[u8], path: &Path) -> Result<(String, u64), SnapshotError> {
    write_bytes_atomic(bytes, path)?;
    let digest = Sha256::digest(bytes);
    Ok((
        digest.iter().map(|b| format!("{b:02x}")).collect(),
        bytes.len() as u64,
    ))
}

/// Where the heartbeat of the snapshot at `path` is kept: `PATH.fresh`.
pub fn freshness_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".fresh");
    name.into()
}

/// Says that the snapshot with `serial` at `path` is still the network's state as of `at`
/// (the checker found nothing to change): `PATH.fresh`, a line of JSON (signed with `key`
/// when given), written atomically. Servers read it to know their snapshot is fresh without
/// loading a new one.
pub fn write_freshness(
    path: &Path,
    serial: u64,
    at: i64,
    key: Option<&SigningKey>,
) -> Result<(), SnapshotError> {
    let line = match key {
        Some(key) => format!(
            "{{\"serial\":{serial},\"fresh_at\":{at},\"signature\":\"{}\"}}\n",
            key.sign_freshness(serial, at)
        ),
        None => format!("{{\"serial\":{serial},\"fresh_at\":{at}}}\n"),
    };
    write_bytes_atomic(line.as_bytes(), &freshness_path(path))
}

/// The heartbeat beside the snapshot at `path`: (serial, fresh as of), or `None` when there
/// is none, it is unreadable, or (with `key`) it is not signed by `key`.
pub fn read_freshness(path: &Path, key: Option<&PublicKey>) -> Option<(u64, i64)> {
    let bytes = crate::fsread::read_regular(&freshness_path(path), 4096).ok()?;
    parse_freshness(&bytes, key)
}

/// A heartbeat's (serial, fresh as of) from its bytes, as [`read_freshness`] reads them.
pub fn parse_freshness(bytes: &[u8], key: Option<&PublicKey>) -> Option<(u64, i64)> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let (serial, at) = (v["serial"].as_u64()?, v["fresh_at"].as_i64()?);
    match key {
        Some(key) => key
            .verify_freshness(serial, at, v["signature"].as_str()?)
            .then_some((serial, at)),
        None => Some((serial, at)),
    }
}

/// Writes a heartbeat already verified (fetched from elsewhere) beside the snapshot at `path`.
pub fn write_freshness_bytes(bytes: &[u8], path: &Path) -> Result<(), SnapshotError> {
    write_bytes_atomic(bytes, &freshness_path(path))
}

/// Moves a snapshot already verified, downloaded to `part` in the same folder, to `path`:
/// the download synced, renamed into place, the folder synced.
pub fn install_verified(part: &Path, path: &Path) -> Result<(), SnapshotError> {
    let result = (|| {
        std::fs::File::open(part)?.sync_all()?;
        std::fs::rename(part, path)?;
        std::fs::File::open(folder_of(path))?.sync_all()
    })();
    result.map_err(io(path))
}

/// The folder `path` is in (`.` for a bare name).
fn folder_of(path: &Path) -> std::path::PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, synced.
fn write_bytes_atomic(bytes: &[u8], path: &Path) -> Result<(), SnapshotError> {
    let dir = folder_of(path);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let file_name = path
        .file_name()
        .map_or_else(|| "snapshot".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // The rename is durable only once the folder is synced.
        std::fs::File::open(&dir)?.sync_all()
    })();
    if let Err(e) = result {
        std::fs::remove_file(&tmp).ok();
        return Err(io(path)(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
