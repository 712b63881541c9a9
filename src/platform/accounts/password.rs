//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes, PHC strings).

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;

use crate::platform::auth::AuthError;

/// Shortest password accepted (ASVS 2.1.1); long passphrases beat composition rules.
pub const MIN_PASSWORD_LEN: usize = 12;
/// Longest password accepted (ASVS 2.1.2): argon2 work must not grow with a pasted novel.
pub const MAX_PASSWORD_LEN: usize = 128;

pub fn hash_password(password: &str) -> Result<String, AuthError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AuthError::Invalid(format!("the password must have at least {MIN_PASSWORD_LEN} characters")));
    }
    if password.chars().count() > MAX_PASSWORD_LEN {
        return Err(AuthError::Invalid(format!("the password must have at most {MAX_PASSWORD_LEN} characters")));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hashing(e.to_string()))
}

/// True when `password` matches the stored PHC string; a malformed stored hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), stored).is_ok()
}

/// Argon2 runs at most this many at once: each takes 19 MiB and tens of milliseconds of a
/// core, so a flood of logins queues here instead of exhausting memory or the async runtime.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// [`verify_password`] on the blocking pool, bounded by [`HASHING`].
pub async fn verify_password_async(password: &str, stored: &str) -> bool {
    let (password, stored) = (password.to_string(), stored.to_string());
    let Ok(_permit) = HASHING.acquire().await else { return false };
    tokio::task::spawn_blocking(move || verify_password(&password, &stored)).await.unwrap_or(false)
}

/// [`hash_password`] on the blocking pool, bounded by [`HASHING`].
pub async fn hash_password_async(password: &str) -> Result<String, AuthError> {
    let password = password.to_string();
    let _permit = HASHING.acquire().await.map_err(|e| AuthError::Hashing(e.to_string()))?;
    tokio::task::spawn_blocking(move || hash_password(&password)).await.map_err(|e| AuthError::Hashing(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_reject() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("anything", "not a phc string"));
        assert!(matches!(hash_password("short"), Err(AuthError::Invalid(_))));
    }
}
