//! The key hierarchy.
//!
//! ```text
//! passphrase ──argon2id──▶ KEK ─┐            (one key file per passphrase or key file)
//! key file (32 random bytes) ───┴─ unwraps ─▶ master key ─ unwraps ─▶ keyring
//! keyring = { id key (keyed chunk ids), chunker seed, data keys 1..n, current data key }
//! ```
//!
//! Rotating the master key rewrites the keyring and the key files, never data. Rotating the
//! data key adds one to the keyring: new objects use it, old ones stay readable by theirs.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use super::crypto::{self, CryptoError, Key};
use super::format::{self, Compression, ObjectType};

/// What unlocks a repository.
#[derive(Clone)]
pub enum Secret {
    Passphrase(String),
    /// The 32 bytes of a key file.
    KeyFile([u8; 32]),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Secret::Passphrase(_) => "Passphrase(…)",
            Secret::KeyFile(_) => "KeyFile(…)",
        })
    }
}

impl Secret {
    /// Parses a key file: 64 hex characters (surrounding white space allowed).
    pub fn from_key_file(text: &str) -> Option<Secret> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(Secret::KeyFile(bytes.try_into().ok()?))
    }

    /// A new random key file's text.
    pub fn new_key_file() -> String {
        hex::encode(Key::random().0)
    }
}

/// How a key file's KEK is derived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "lowercase")]
pub enum Kdf {
    #[serde(rename_all = "camelCase")]
    Argon2id { memory_kib: u32, iterations: u32, parallelism: u32, salt: String },
    Keyfile,
}

/// A key file as stored at `keys/<id>` (plaintext JSON; the master key inside is sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyFile {
    pub version: u32,
    pub id: String,
    pub created: String,
    pub hostname: String,
    pub kdf: Kdf,
    /// The master key sealed with the KEK (envelope, base64).
    pub wrapped_master_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the passphrase or key file does not match this key")]
    WrongSecret,
    #[error("the key file and the secret are of different kinds (passphrase vs key file)")]
    KindMismatch,
    #[error("damaged key data: {0}")]
    Damaged(String),
}

fn derive_kek(secret: &Secret, kdf: &Kdf) -> Result<Key, KeyError> {
    match (secret, kdf) {
        (Secret::KeyFile(bytes), Kdf::Keyfile) => Ok(Key(*bytes)),
        (Secret::Passphrase(p), Kdf::Argon2id { memory_kib, iterations, parallelism, salt }) => {
            let salt = B64.decode(salt).map_err(|e| KeyError::Damaged(format!("salt: {e}")))?;
            let params = argon2::Params::new(*memory_kib, *iterations, *parallelism, Some(32))
                .map_err(|e| KeyError::Damaged(format!("argon2 parameters: {e}")))?;
            let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
            let mut out = [0u8; 32];
            argon
                .hash_password_into(p.as_bytes(), &salt, &mut out)
                .map_err(|e| KeyError::Damaged(format!("argon2: {e}")))?;
            Ok(Key(out))
        }
        _ => Err(KeyError::KindMismatch),
    }
}

impl KeyFile {
    /// Wraps `master` for `secret` in a new key file.
    pub fn create(master: &Key, secret: &Secret, hostname: &str) -> Result<KeyFile, KeyError> {
        let kdf = match secret {
            Secret::KeyFile(_) => Kdf::Keyfile,
            Secret::Passphrase(_) => Kdf::Argon2id {
                memory_kib: 64 * 1024,
                iterations: 3,
                parallelism: 1,
                salt: B64.encode(Key::random().0),
            },
        };
        let id = hex::encode(&Key::random().0[..8]);
        let kek = derive_kek(secret, &kdf)?;
        let sealed = crypto::seal(&kek, 0, ObjectType::MasterKey, Compression::None, id.as_bytes(), &master.0);
        Ok(KeyFile {
            version: format::KEY_FILE_VERSION,
            id,
            created: crate::platform::time::now_text(),
            hostname: hostname.to_string(),
            kdf,
            wrapped_master_key: B64.encode(sealed),
        })
    }

    /// Unwraps the master key with `secret`.
    pub fn unwrap(&self, secret: &Secret) -> Result<Key, KeyError> {
        if self.version != format::KEY_FILE_VERSION {
            return Err(KeyError::Damaged(format!("key file version {} is not {}", self.version, format::KEY_FILE_VERSION)));
        }
        let kek = derive_kek(secret, &self.kdf)?;
        let sealed = B64.decode(&self.wrapped_master_key).map_err(|e| KeyError::Damaged(format!("wrapped key: {e}")))?;
        match crypto::open(&sealed, ObjectType::MasterKey, self.id.as_bytes(), |_| Some(&kek)) {
            Ok((_, plain)) => Ok(Key(plain.try_into().map_err(|_| KeyError::Damaged("master key length".into()))?)),
            Err(CryptoError::Authentication) => Err(KeyError::WrongSecret),
            Err(e) => Err(KeyError::Damaged(e.to_string())),
        }
    }
}

/// The keys everything else is sealed with.
#[derive(Clone, PartialEq, Eq)]
pub struct Keyring {
    /// The key of chunk ids (keyed BLAKE3, or HMAC-SHA256 in a version-1 repository): ids
    /// reveal nothing about content to the storage.
    pub id_key: Key,
    /// Seeds the chunker's gear table, so chunk boundaries cannot fingerprint known files.
    pub chunker_seed: u64,
    pub data_keys: BTreeMap<u32, Key>,
    /// The data key new objects are sealed with.
    pub current: u32,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring {{ data keys: {:?}, current: {} }}", self.data_keys.keys().collect::<Vec<_>>(), self.current)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyringJson {
    version: u32,
    id_key: String,
    chunker_seed: u64,
    data_keys: BTreeMap<u32, String>,
    current: u32,
}

impl Keyring {
    pub fn generate() -> Keyring {
        let mut data_keys = BTreeMap::new();
        data_keys.insert(1, Key::random());
        Keyring { id_key: Key::random(), chunker_seed: rand::random::<u64>() | 1, data_keys, current: 1 }
    }

    pub fn current_key(&self) -> (u32, &Key) {
        (self.current, &self.data_keys[&self.current])
    }

    pub fn key(&self, id: u32) -> Option<&Key> {
        self.data_keys.get(&id)
    }

    /// Adds a new data key and makes it current; returns its id.
    pub fn rotate_data_key(&mut self) -> u32 {
        let id = self.data_keys.keys().next_back().copied().unwrap_or(0) + 1;
        self.data_keys.insert(id, Key::random());
        self.current = id;
        id
    }

    /// The keyring sealed with the master key (stored at `keyring`).
    pub fn seal(&self, master: &Key) -> Vec<u8> {
        let json = KeyringJson {
            version: format::KEYRING_VERSION,
            id_key: B64.encode(self.id_key.0),
            chunker_seed: self.chunker_seed,
            data_keys: self.data_keys.iter().map(|(id, k)| (*id, B64.encode(k.0))).collect(),
            current: self.current,
        };
        let bytes = serde_json::to_vec(&json).unwrap_or_default();
        crypto::seal(master, 0, ObjectType::Keyring, Compression::None, b"keyring", &bytes)
    }

    pub fn open(sealed: &[u8], master: &Key) -> Result<Keyring, KeyError> {
        let (_, plain) = crypto::open(sealed, ObjectType::Keyring, b"keyring", |_| Some(master))
            .map_err(|e| KeyError::Damaged(format!("keyring: {e}")))?;
        let json: KeyringJson = serde_json::from_slice(&plain).map_err(|e| KeyError::Damaged(format!("keyring: {e}")))?;
        if json.version != format::KEYRING_VERSION {
            return Err(KeyError::Damaged(format!("keyring version {} is not {}", json.version, format::KEYRING_VERSION)));
        }
        let key = |text: &str| -> Result<Key, KeyError> {
            let bytes = B64.decode(text).map_err(|e| KeyError::Damaged(format!("keyring: {e}")))?;
            Ok(Key(bytes.try_into().map_err(|_| KeyError::Damaged("keyring: key length".into()))?))
        };
        let data_keys = json.data_keys.iter().map(|(id, k)| Ok((*id, key(k)?))).collect::<Result<BTreeMap<_, _>, KeyError>>()?;
        if !data_keys.contains_key(&json.current) {
            return Err(KeyError::Damaged("keyring: the current data key is missing".into()));
        }
        Ok(Keyring { id_key: key(&json.id_key)?, chunker_seed: json.chunker_seed, data_keys, current: json.current })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_unwrap_only_with_their_secret() {
        let master = Key::random();
        let pass = Secret::Passphrase("correct horse".into());
        let kf = KeyFile::create(&master, &pass, "host").unwrap();
        assert_eq!(kf.unwrap(&pass).unwrap(), master);
        assert!(matches!(kf.unwrap(&Secret::Passphrase("wrong".into())), Err(KeyError::WrongSecret)));
        assert!(matches!(kf.unwrap(&Secret::KeyFile([0; 32])), Err(KeyError::KindMismatch)));
        let file = Secret::from_key_file(&Secret::new_key_file()).unwrap();
        let kf2 = KeyFile::create(&master, &file, "host").unwrap();
        assert_eq!(kf2.unwrap(&file).unwrap(), master);
    }

    #[test]
    fn keyring_round_trip_and_rotation() {
        let master = Key::random();
        let mut ring = Keyring::generate();
        let old = ring.current_key().1.clone();
        assert_eq!(ring.rotate_data_key(), 2);
        let opened = Keyring::open(&ring.seal(&master), &master).unwrap();
        assert_eq!(opened, ring);
        assert_eq!(opened.key(1), Some(&old));
        assert!(Keyring::open(&ring.seal(&master), &Key::random()).is_err());
    }
}
