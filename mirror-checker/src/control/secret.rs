//! Secrets the control plane hands out (sign-in links, session ids): random, shown once,
//! stored only as their SHA-256.

use base64::Engine;
use sha2::Digest;

/// 32 random bytes from the system's generator, URL-safe base64.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .expect("the system's random generator works");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored of a secret: its SHA-256, hex.
pub fn hash(secret: &str) -> String {
    hex(&sha2::Sha256::digest(secret.as_bytes()))
}

/// The CSRF token of a session: derived from its id, which only its holder knows, so it is
/// neither stored nor guessable.
pub fn csrf_of(session_id: &str) -> String {
    hash(&format!("csrf:{session_id}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashes_hide_them() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash(&a).len(), 64);
        assert!(!hash(&a).contains(&a));
        assert_ne!(csrf_of(&a), hash(&a));
        assert!(same(&a, &a.clone()) && !same(&a, &b) && !same(&a, ""));
    }
}
