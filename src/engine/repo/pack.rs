//! Packs: many sealed blobs in one storage object, so small chunks never become one object
//! each. Layout: `blob envelopes… | sealed header | header length (u32 LE)`. The pack id is the
//! SHA-256 of the whole pack, so its integrity can be checked without keys.
//!
//! Header plaintext: `version (u8) | count (u32 LE) | count × entry`, an entry being
//! `type (u8) | chunk id (32) | offset (u32 LE) | length (u32 LE) | raw length (u32 LE)`.

use sha2::{Digest, Sha256};

use super::crypto::{self, Key};
use super::format::{Compression, ObjectType, PACK_ENTRY_LEN, PACK_HEADER_VERSION};
use super::ChunkId;

/// Where one blob sits in its pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackEntry {
    pub object_type: ObjectType,
    pub id: ChunkId,
    pub offset: u32,
    /// Sealed length in the pack.
    pub length: u32,
    /// Plaintext length before compression.
    pub raw_length: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PackError {
    #[error("the pack is truncated or its header length is impossible")]
    Truncated,
    #[error("the pack header cannot be opened: {0}")]
    Header(#[from] crypto::CryptoError),
    #[error("the pack header is malformed: {0}")]
    Malformed(String),
}

/// Accumulates sealed blobs until the pack is big enough to upload.
#[derive(Debug, Default)]
pub struct PackBuilder {
    data: Vec<u8>,
    entries: Vec<PackEntry>,
}

/// A finished pack, ready to upload.
#[derive(Debug)]
pub struct FinishedPack {
    pub id: ChunkId,
    pub bytes: Vec<u8>,
    pub entries: Vec<PackEntry>,
}

impl PackBuilder {
    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn add(&mut self, object_type: ObjectType, id: ChunkId, envelope: &[u8], raw_length: u32) {
        self.entries.push(PackEntry {
            object_type,
            id,
            offset: self.data.len() as u32,
            length: envelope.len() as u32,
            raw_length,
        });
        self.data.extend_from_slice(envelope);
    }

    pub fn finish(mut self, key_id: u32, key: &Key) -> FinishedPack {
        let header = encode_entries(PACK_HEADER_VERSION, &self.entries);
        let sealed = crypto::seal(key, key_id, ObjectType::PackHeader, Compression::None, b"", &header);
        self.data.extend_from_slice(&sealed);
        self.data.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        let id = ChunkId(Sha256::digest(&self.data).into());
        FinishedPack { id, bytes: self.data, entries: self.entries }
    }
}

pub(super) fn encode_entries(version: u8, entries: &[PackEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + entries.len() * PACK_ENTRY_LEN);
    out.push(version);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for e in entries {
        out.push(e.object_type as u8);
        out.extend_from_slice(&e.id.0);
        out.extend_from_slice(&e.offset.to_le_bytes());
        out.extend_from_slice(&e.length.to_le_bytes());
        out.extend_from_slice(&e.raw_length.to_le_bytes());
    }
    out
}

/// Parses `count` entries from `bytes` (after version and count).
pub(super) fn decode_entries(bytes: &[u8], count: usize) -> Result<Vec<PackEntry>, String> {
    if bytes.len() < count.saturating_mul(PACK_ENTRY_LEN) {
        return Err(format!("{count} entries announced, {} bytes present", bytes.len()));
    }
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    (0..count)
        .map(|i| {
            let e = &bytes[i * PACK_ENTRY_LEN..(i + 1) * PACK_ENTRY_LEN];
            let object_type = ObjectType::from_u8(e[0]).filter(|t| t.is_blob()).ok_or(format!("entry {i}: bad type {}", e[0]))?;
            let mut id = [0u8; 32];
            id.copy_from_slice(&e[1..33]);
            Ok(PackEntry { object_type, id: ChunkId(id), offset: u32_at(e, 33), length: u32_at(e, 37), raw_length: u32_at(e, 41) })
        })
        .collect()
}

/// The `length` bytes at `offset` of bytes read from storage, or `None` when they do not lie
/// inside them (a truncated pack, an index that does not match it): offsets and lengths come
/// from storage too, so they are never trusted to slice with.
pub fn blob_bytes(bytes: &[u8], offset: u64, length: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    bytes.get(start..start.checked_add(usize::try_from(length).ok()?)?)
}

/// Reads a whole pack's header and checks every entry lies inside the blob area.
pub fn read_header<'k>(pack: &[u8], key_for: impl Fn(u32) -> Option<&'k Key>) -> Result<Vec<PackEntry>, PackError> {
    read_tail_header(pack, pack.len() as u64, key_for)
}

/// The length of the sealed header a pack's last four bytes announce (`tail` ends where the
/// pack ends).
pub fn header_length(tail: &[u8]) -> Result<usize, PackError> {
    let len_at = tail.len().checked_sub(4).ok_or(PackError::Truncated)?;
    Ok(u32::from_le_bytes([tail[len_at], tail[len_at + 1], tail[len_at + 2], tail[len_at + 3]]) as usize)
}

/// [`read_header`] from the pack's last bytes only: `tail` ends where the pack of `pack_len`
/// bytes ends and holds at least its header and trailer.
pub fn read_tail_header<'k>(tail: &[u8], pack_len: u64, key_for: impl Fn(u32) -> Option<&'k Key>) -> Result<Vec<PackEntry>, PackError> {
    let header_len = header_length(tail)?;
    let len_at = tail.len() - 4;
    let start_in_tail = len_at.checked_sub(header_len).ok_or(PackError::Truncated)?;
    let header_start = pack_len.checked_sub(4 + header_len as u64).ok_or(PackError::Truncated)? as usize;
    let (_, plain) = crypto::open(&tail[start_in_tail..len_at], ObjectType::PackHeader, b"", key_for)?;
    if plain.len() < 5 || plain[0] != PACK_HEADER_VERSION {
        return Err(PackError::Malformed("unknown header version".into()));
    }
    let count = u32::from_le_bytes([plain[1], plain[2], plain[3], plain[4]]) as usize;
    let entries = decode_entries(&plain[5..], count).map_err(PackError::Malformed)?;
    for e in &entries {
        if (e.offset as usize).checked_add(e.length as usize).is_none_or(|end| end > header_start) {
            return Err(PackError::Malformed(format!("blob {} lies outside the pack", e.id)));
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn entries_round_trip(raw in proptest::collection::vec((any::<[u8; 32]>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>()), 0..50)) {
            let entries: Vec<PackEntry> = raw.iter().map(|(id, o, l, r, tree)| PackEntry {
                object_type: if *tree { ObjectType::TreeBlob } else { ObjectType::DataBlob },
                id: ChunkId(*id), offset: *o, length: *l, raw_length: *r,
            }).collect();
            let encoded = encode_entries(1, &entries);
            prop_assert_eq!(decode_entries(&encoded[5..], entries.len()).unwrap(), entries);
        }

        #[test]
        fn malformed_packs_are_errors_not_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let key = Key::random();
            prop_assert!(read_header(&bytes, |_| Some(&key)).is_err());
        }
    }

    #[test]
    fn built_packs_read_back() {
        let key = Key::random();
        let mut b = PackBuilder::default();
        b.add(ObjectType::DataBlob, ChunkId([1; 32]), b"first envelope", 10);
        b.add(ObjectType::TreeBlob, ChunkId([2; 32]), b"second", 6);
        let pack = b.finish(1, &key);
        assert_eq!(pack.id.0, <[u8; 32]>::from(Sha256::digest(&pack.bytes)));
        let entries = read_header(&pack.bytes, |_| Some(&key)).unwrap();
        assert_eq!(entries, pack.entries);
        assert_eq!(&pack.bytes[entries[1].offset as usize..][..6], b"second");
        assert_eq!(read_header(&pack.bytes[..pack.bytes.len() - 1], |_| Some(&key)).unwrap_err(), PackError::Truncated);
    }
}
