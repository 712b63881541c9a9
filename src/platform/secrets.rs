//! Secrets the catalog keeps (storage credentials, repository keys), sealed with the server's
//! secret key so a copy of the catalog alone reveals none of them.
//!
//! The key comes from `BULWARK_SECRET_KEY` (64 hex characters; every node of a shared
//! PostgreSQL catalog needs the same one) or from `secret.key` in the data directory, created
//! with mode 0600 on first start.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::error::{Classify, Kind};
use crate::engine::repo::crypto::{self, Key};
use crate::engine::repo::format::{Compression, ObjectType};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the server secret key is invalid: {0}")]
    BadKey(String),
    #[error("cannot read or create the secret key file {path}: {source}")]
    KeyFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("a stored secret cannot be opened: it was sealed with another server secret key, or is damaged")]
    Open,
    #[error("the secret key file {path} can be read by other users (mode {mode:o}): make it the server user's alone with `chmod 600 {path}`")]
    Exposed { path: String, mode: u32 },
}

impl Classify for SecretError {
    fn kind(&self) -> Kind {
        Kind::Internal
    }
}

/// Seals and opens catalog secrets.
#[derive(Clone)]
pub struct SecretBox {
    key: Key,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(…)")
    }
}

impl SecretBox {
    pub fn new(key: Key) -> SecretBox {
        SecretBox { key }
    }

    /// From `BULWARK_SECRET_KEY` if set, else `data_dir/secret.key` (created if missing).
    pub fn load(env_value: Option<&str>, data_dir: &Path) -> Result<SecretBox, SecretError> {
        let parse = |text: &str| -> Result<SecretBox, SecretError> {
            let bytes = hex::decode(text.trim()).map_err(|e| SecretError::BadKey(e.to_string()))?;
            let key: [u8; 32] = bytes.try_into().map_err(|_| SecretError::BadKey("it must be 64 hex characters".into()))?;
            Ok(SecretBox::new(Key(key)))
        };
        if let Some(text) = env_value.filter(|t| !t.trim().is_empty()) {
            return parse(text);
        }
        let path = data_dir.join("secret.key");
        let io = |source| SecretError::KeyFile { path: path.display().to_string(), source };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).map_err(io)?.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(SecretError::Exposed { path: path.display().to_string(), mode });
                }
                parse(&text)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700).create(data_dir).map_err(io)?;
                let text = hex::encode(Key::random().0);
                let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(io)?;
                writeln!(f, "{text}").map_err(io)?;
                parse(&text)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The key of the audit chain's HMAC ([`crate::platform::catalog::Catalog::with_audit_key`]): derived
    /// from the server secret key, so it lives outside the catalog like every other secret.
    pub fn audit_key(&self) -> [u8; 32] {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.key.0).expect("HMAC takes any key length");
        mac.update(b"bulwark audit chain v1");
        mac.finalize().into_bytes().into()
    }

    /// Seals `plain`, bound to `context` (e.g. "location:<id>:secret_key"), as base64 text.
    pub fn seal(&self, context: &str, plain: &str) -> String {
        B64.encode(crypto::seal(&self.key, 0, ObjectType::CatalogSecret, Compression::None, context.as_bytes(), plain.as_bytes()))
    }

    pub fn open(&self, context: &str, sealed: &str) -> Result<String, SecretError> {
        let bytes = B64.decode(sealed).map_err(|_| SecretError::Open)?;
        let (_, plain) = crypto::open(&bytes, ObjectType::CatalogSecret, context.as_bytes(), |_| Some(&self.key)).map_err(|_| SecretError::Open)?;
        String::from_utf8(plain).map_err(|_| SecretError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_in_their_context() {
        let b = SecretBox::new(Key::random());
        let sealed = b.seal("location:1:secret", "hunter2");
        assert!(!sealed.contains("hunter2"));
        assert_eq!(b.open("location:1:secret", &sealed).unwrap(), "hunter2");
        assert!(b.open("location:2:secret", &sealed).is_err());
        assert!(SecretBox::new(Key::random()).open("location:1:secret", &sealed).is_err());
    }

    #[test]
    fn key_file_is_created_once() {
        let dir = std::env::temp_dir().join(format!("bulwark-secret-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = SecretBox::load(None, &dir).unwrap();
        let b = SecretBox::load(None, &dir).unwrap();
        assert_eq!(b.open("c", &a.seal("c", "x")).unwrap(), "x");
        assert!(SecretBox::load(Some("zz"), &dir).is_err());
        // A key file others can read: the server refuses to start and says how to fix it.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("secret.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let exposed = SecretBox::load(None, &dir).unwrap_err().to_string();
        assert!(exposed.contains("chmod 600"), "{exposed}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
