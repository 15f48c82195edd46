//! Signed snapshots: the checker signs each snapshot file (and each freshness heartbeat) with
//! an Ed25519 key; servers configured with the public key refuse a snapshot that is unsigned
//! or signed by another key, so a replica fed through a cache, an object store or a mirror of
//! the snapshot can never be given a forged mirror list.
//!
//! A signed file is the snapshot file followed by a trailer:
//!
//! ```text
//! snapshot file (ends with its SHA-256) | "MIRRSIG1" | key id (8 bytes) | signature (64 bytes)
//! ```
//!
//! The signature covers every byte before the trailer; the key id is the first 8 bytes of the
//! SHA-256 of the public key, so a refusal can say which key signed. Keys are PEM files as
//! OpenSSL writes them (`openssl genpkey -algorithm ed25519`, `openssl pkey -pubout`), or as
//! `mirror-checker keygen` does.

use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use sha2::{Digest, Sha256};
use std::path::Path;

pub const SIGNATURE_MAGIC: &[u8; 8] = b"MIRRSIG1";
/// Magic, key id, signature.
pub const TRAILER: usize = 8 + 8 + 64;
/// DER prefix of a PKCS#8 version 1 Ed25519 private key; the 32-byte seed follows.
const PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32-byte key follows.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {detail}")]
    Invalid { path: String, detail: String },
}

/// The checker's signing key.
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

/// The key servers verify with.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    bytes: [u8; 32],
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.public().id_hex())
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.id_hex())
    }
}

/// The base64 body of the PEM block labelled `label`.
fn pem_body(text: &str, label: &str, path: &Path) -> Result<Vec<u8>, KeyError> {
    use base64::Engine;
    let invalid = |detail: String| KeyError::Invalid {
        path: path.display().to_string(),
        detail,
    };
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text
        .find(&begin)
        .ok_or_else(|| invalid(format!("no \"{begin}\" block")))?;
    let rest = &text[start + begin.len()..];
    let stop = rest
        .find(&end)
        .ok_or_else(|| invalid(format!("the block has no \"{end}\"")))?;
    let b64: String = rest[..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| invalid(format!("the PEM block is not base64: {e}")))
}

fn read_text(path: &Path) -> Result<String, KeyError> {
    let bytes = crate::fsread::read_regular(path, 64 * 1024).map_err(|source| KeyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| KeyError::Invalid {
        path: path.display().to_string(),
        detail: "not a PEM text file".into(),
    })
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

impl SigningKey {
    /// Reads a PKCS#8 Ed25519 private key (`-----BEGIN PRIVATE KEY-----`).
    pub fn read(path: &Path) -> Result<SigningKey, KeyError> {
        let der = pem_body(&read_text(path)?, "PRIVATE KEY", path)?;
        let pair =
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|e| KeyError::Invalid {
                path: path.display().to_string(),
                detail: format!("not an Ed25519 private key ({e})"),
            })?;
        Ok(SigningKey { pair })
    }

    /// A new key: its private PEM and its public PEM.
    pub fn generate() -> (String, String) {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("the system has randomness");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("a key just made reads");
        let public = PublicKey {
            bytes: pair.public_key().as_ref().try_into().expect("32 bytes"),
        };
        // Written as PKCS#8 version 1 (the seed alone), the form OpenSSL reads and writes:
        // ring's document is version 2, the seed at bytes 16..48.
        let mut v1 = PKCS8_V1_PREFIX.to_vec();
        v1.extend_from_slice(&pkcs8.as_ref()[16..48]);
        (pem("PRIVATE KEY", &v1), public.to_pem())
    }

    pub fn public(&self) -> PublicKey {
        PublicKey {
            bytes: self
                .pair
                .public_key()
                .as_ref()
                .try_into()
                .expect("32 bytes"),
        }
    }

    /// `file` with the signature trailer appended.
    pub fn sign_file(&self, mut file: Vec<u8>) -> Vec<u8> {
        let signature = self.pair.sign(&file);
        file.extend_from_slice(SIGNATURE_MAGIC);
        file.extend_from_slice(&self.public().id());
        file.extend_from_slice(signature.as_ref());
        file
    }

    /// The signature of a freshness heartbeat, base64.
    pub fn sign_freshness(&self, serial: u64, fresh_at: i64) -> String {
        use base64::Engine;
        let signature = self
            .pair
            .sign(freshness_message(serial, fresh_at).as_bytes());
        base64::engine::general_purpose::STANDARD.encode(signature.as_ref())
    }
}

fn freshness_message(serial: u64, fresh_at: i64) -> String {
    format!("mirror snapshot {serial} fresh at {fresh_at}")
}

impl PublicKey {
    /// Reads an Ed25519 public key (`-----BEGIN PUBLIC KEY-----`, SubjectPublicKeyInfo).
    pub fn read(path: &Path) -> Result<PublicKey, KeyError> {
        let der = pem_body(&read_text(path)?, "PUBLIC KEY", path)?;
        match der.strip_prefix(&SPKI_PREFIX[..]) {
            Some(key) if key.len() == 32 => Ok(PublicKey {
                bytes: key.try_into().expect("32 bytes"),
            }),
            _ => Err(KeyError::Invalid {
                path: path.display().to_string(),
                detail: "not an Ed25519 public key".into(),
            }),
        }
    }

    pub fn to_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.bytes);
        pem("PUBLIC KEY", &der)
    }

    /// The first 8 bytes of the key's SHA-256.
    pub fn id(&self) -> [u8; 8] {
        Sha256::digest(self.bytes)[..8].try_into().expect("8 bytes")
    }

    pub fn id_hex(&self) -> String {
        self.id().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `signature` (base64) signs this heartbeat.
    pub fn verify_freshness(&self, serial: u64, fresh_at: i64, signature: &str) -> bool {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(signature)
            .is_ok_and(|sig| {
                UnparsedPublicKey::new(&ED25519, self.bytes)
                    .verify(freshness_message(serial, fresh_at).as_bytes(), &sig)
                    .is_ok()
            })
    }
}

/// A trailer found at the end of `bytes`: (key id, signature, length of what it signs).
pub(super) fn trailer(bytes: &[u8]) -> Option<([u8; 8], &[u8], usize)> {
    let at = bytes.len().checked_sub(TRAILER)?;
    let t = &bytes[at..];
    (&t[..8] == SIGNATURE_MAGIC).then(|| (t[8..16].try_into().expect("8 bytes"), &t[16..], at))
}

/// Why a snapshot's signature is not accepted by `key`, or `None` when it is.
pub(super) fn refusal(bytes: &[u8], key: &PublicKey) -> Option<String> {
    let Some((id, signature, end)) = trailer(bytes) else {
        return Some(format!(
            "not signed (this server accepts only snapshots signed by key {})",
            key.id_hex()
        ));
    };
    if id != key.id() {
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        return Some(format!(
            "signed by key {hex}, not by key {} that this server trusts",
            key.id_hex()
        ));
    }
    UnparsedPublicKey::new(&ED25519, key.bytes)
        .verify(&bytes[..end], signature)
        .is_err()
        .then(|| {
            format!(
                "the signature by key {} does not match its content (forged or altered)",
                key.id_hex()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(dir: &Path, name: &str) -> (SigningKey, PublicKey) {
        let (private, public) = SigningKey::generate();
        let (p, q) = (dir.join(name), dir.join(format!("{name}.pub")));
        std::fs::write(&p, private).unwrap();
        std::fs::write(&q, public).unwrap();
        (SigningKey::read(&p).unwrap(), PublicKey::read(&q).unwrap())
    }

    #[test]
    fn signatures_verify_with_their_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let (signer, public) = keys(dir.path(), "a");
        let (_, other) = keys(dir.path(), "b");
        assert_eq!(signer.public(), public);
        let signed = signer.sign_file(b"MIRRSNAP some content".to_vec());
        assert_eq!(refusal(&signed, &public), None);
        let why = refusal(&signed, &other).unwrap();
        assert!(why.contains("not by key"), "{why}");
        let why = refusal(b"MIRRSNAP some content", &public).unwrap();
        assert!(why.starts_with("not signed"), "{why}");
        let mut altered = signed.clone();
        altered[10] ^= 1;
        let why = refusal(&altered, &public).unwrap();
        assert!(why.contains("forged or altered"), "{why}");

        let sig = signer.sign_freshness(7, 1000);
        assert!(public.verify_freshness(7, 1000, &sig));
        assert!(!public.verify_freshness(7, 1001, &sig));
        assert!(!public.verify_freshness(8, 1000, &sig));
        assert!(!other.verify_freshness(7, 1000, &sig));
        assert!(!public.verify_freshness(7, 1000, "not base64!"));
    }

    #[test]
    fn openssl_keys_are_read_and_bad_files_refused_clearly() {
        // `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` of the RFC 8032
        // test key 1 (PKCS#8 version 1, without the public key).
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("key.pem");
        std::fs::write(
            &private,
            "-----BEGIN PRIVATE KEY-----\n\
             MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
             -----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let public = dir.path().join("key.pub");
        std::fs::write(
            &public,
            "-----BEGIN PUBLIC KEY-----\n\
             MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n\
             -----END PUBLIC KEY-----\n",
        )
        .unwrap();
        let signer = SigningKey::read(&private).unwrap();
        assert_eq!(signer.public(), PublicKey::read(&public).unwrap());

        let err = PublicKey::read(&private).unwrap_err().to_string();
        assert!(
            err.contains("no \"-----BEGIN PUBLIC KEY-----\" block"),
            "{err}"
        );
        let err = SigningKey::read(&public).unwrap_err().to_string();
        assert!(err.contains("PRIVATE KEY"), "{err}");
        let err = PublicKey::read(&dir.path().join("absent"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("absent"), "{err}");
        let bad = dir.path().join("bad.pub");
        std::fs::write(
            &bad,
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        )
        .unwrap();
        let err = PublicKey::read(&bad).unwrap_err().to_string();
        assert!(err.ends_with("not an Ed25519 public key"), "{err}");
    }
}
