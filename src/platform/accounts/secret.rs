//! Random bearer secrets (API tokens, setup links) and how they are stored.
//!
//! Secrets carry 256 random bits, so a plain SHA-256 is enough to store them: unlike
//! passwords there is nothing to brute-force, and lookups by hash stay a single index probe.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new secret: `prefix` followed by 43 URL-safe characters.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a secret.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_digests_stable() {
        let a = generate("bwk_");
        let b = generate("bwk_");
        assert_ne!(a, b);
        assert!(a.starts_with("bwk_") && a.len() == 4 + 43);
        assert_eq!(digest(&a), digest(&a));
        assert_eq!(digest(&a).len(), 64);
    }
}
