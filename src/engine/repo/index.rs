//! The index: which pack holds each blob. Index files (`index/<id>`) are written after their
//! packs and before any snapshot that needs them; loading them all gives the in-memory map.
//!
//! Index file plaintext (zstd-compressed, then sealed): `version (u8) | pack count (u32 LE)`,
//! then per pack `pack id (32) | pack size (u64 LE) | entry count (u32 LE) | entries` with
//! entries encoded as in pack headers.

use std::collections::HashMap;

use super::format::{INDEX_VERSION, ObjectType, PACK_ENTRY_LEN};
use super::damage::DamageMarks;
use super::pack::{PackEntry, decode_entries, encode_entries};
use super::ChunkId;

/// A blob's place: which pack (by position in [`Index::packs`]), where, how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLocation {
    pub pack: u32,
    pub offset: u32,
    pub length: u32,
    pub raw_length: u32,
    pub object_type: ObjectType,
    /// This copy is marked damaged ([`super::damage`]) and no unmarked copy exists: reads
    /// will fail, and a backup meeting the same content stores it again.
    pub damaged: bool,
}

/// One pack as an index file records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedPack {
    pub id: ChunkId,
    pub size: u64,
    pub entries: Vec<PackEntry>,
}

/// Every blob of the repository, in memory: a vector sorted by id, 52 bytes per blob with no
/// hash-table slack (a `HashMap` needed 60–120 depending on its fill).
#[derive(Debug, Default)]
pub struct Index {
    pub packs: Vec<(ChunkId, u64)>,
    blobs: Vec<(ChunkId, BlobLocation)>,
}

/// Collects index files into an [`Index`].
#[derive(Debug, Default)]
pub struct IndexBuilder {
    index: Index,
    marks: DamageMarks,
}

impl IndexBuilder {
    /// A builder that prefers, for each blob, a copy that `marks` does not mark damaged.
    pub fn with_marks(marks: DamageMarks) -> IndexBuilder {
        IndexBuilder { index: Index::default(), marks }
    }

    pub fn add_pack(&mut self, pack: &IndexedPack) {
        let n = self.index.packs.len() as u32;
        self.index.packs.push((pack.id, pack.size));
        self.index.blobs.extend(pack.entries.iter().map(|e| {
            let damaged = self.marks.covers(&pack.id, &e.id);
            let location = BlobLocation { pack: n, offset: e.offset, length: e.length, raw_length: e.raw_length, object_type: e.object_type, damaged };
            (e.id, location)
        }));
    }

    pub fn finish(mut self) -> Index {
        // A stable sort keeps the first copy of a blob first; a duplicate in another pack is
        // redundant, not an error, and the first copy not marked damaged wins.
        self.index.blobs.sort_by_key(|(id, loc)| (*id, loc.damaged));
        self.index.blobs.dedup_by_key(|(id, _)| *id);
        self.index.blobs.shrink_to_fit();
        self.index.packs.shrink_to_fit();
        self.index
    }
}

impl Index {
    pub fn len(&self) -> usize {
        self.blobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blobs.is_empty()
    }

    fn find(&self, id: &ChunkId) -> Option<&BlobLocation> {
        self.blobs.binary_search_by_key(id, |(id, _)| *id).ok().map(|i| &self.blobs[i].1)
    }

    pub fn contains(&self, id: &ChunkId) -> bool {
        self.find(id).is_some()
    }

    /// Whether a backup can reuse the stored blob `id`: it is stored, and not only as a copy
    /// marked damaged (then the backup stores a fresh copy, which later reads prefer).
    pub fn reusable(&self, id: &ChunkId) -> bool {
        self.find(id).is_some_and(|loc| !loc.damaged)
    }

    /// Blobs whose only copies are marked damaged.
    pub fn damaged(&self) -> impl Iterator<Item = &ChunkId> {
        self.blobs.iter().filter(|(_, loc)| loc.damaged).map(|(id, _)| id)
    }

    pub fn get(&self, id: &ChunkId) -> Option<(&ChunkId, BlobLocation)> {
        self.find(id).map(|loc| (&self.packs[loc.pack as usize].0, *loc))
    }

    /// Bytes the index holds in memory.
    pub fn memory_bytes(&self) -> usize {
        self.blobs.capacity() * std::mem::size_of::<(ChunkId, BlobLocation)>() + self.packs.capacity() * std::mem::size_of::<(ChunkId, u64)>()
    }

    /// The blobs of each pack, with their locations.
    pub fn by_pack(&self) -> HashMap<ChunkId, Vec<(ChunkId, BlobLocation)>> {
        let mut out: HashMap<ChunkId, Vec<(ChunkId, BlobLocation)>> = HashMap::new();
        for (id, loc) in &self.blobs {
            out.entry(self.packs[loc.pack as usize].0).or_default().push((*id, *loc));
        }
        out
    }

    pub fn blob_ids(&self) -> impl Iterator<Item = &ChunkId> {
        self.blobs.iter().map(|(id, _)| id)
    }
}

pub fn encode(packs: &[IndexedPack]) -> Vec<u8> {
    let mut out = vec![INDEX_VERSION];
    out.extend_from_slice(&(packs.len() as u32).to_le_bytes());
    for p in packs {
        out.extend_from_slice(&p.id.0);
        out.extend_from_slice(&p.size.to_le_bytes());
        // encode_entries writes version + count first; keep only count + entries.
        out.extend_from_slice(&encode_entries(0, &p.entries)[1..]);
    }
    out
}

pub fn decode(bytes: &[u8]) -> Result<Vec<IndexedPack>, String> {
    if bytes.len() < 5 || bytes[0] != INDEX_VERSION {
        return Err("unknown index version".into());
    }
    let count = u32::from_le_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
    let mut at = 5;
    let mut packs = Vec::with_capacity(count.min(1 << 16));
    for i in 0..count {
        if bytes.len() < at + 44 {
            return Err(format!("pack {i}: truncated"));
        }
        let mut id = [0u8; 32];
        id.copy_from_slice(&bytes[at..at + 32]);
        let size = u64::from_le_bytes(bytes[at + 32..at + 40].try_into().map_err(|_| "size")?);
        let n = u32::from_le_bytes(bytes[at + 40..at + 44].try_into().map_err(|_| "count")?) as usize;
        at += 44;
        let entries = decode_entries(&bytes[at..], n).map_err(|e| format!("pack {i}: {e}"))?;
        at += n * PACK_ENTRY_LEN;
        packs.push(IndexedPack { id: ChunkId(id), size, entries });
    }
    if at != bytes.len() {
        return Err("trailing bytes".into());
    }
    Ok(packs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_lookup() {
        let e = |b: u8| PackEntry { object_type: ObjectType::DataBlob, id: ChunkId([b; 32]), offset: b as u32, length: 5, raw_length: 9 };
        let packs = vec![
            IndexedPack { id: ChunkId([9; 32]), size: 100, entries: vec![e(1), e(2)] },
            IndexedPack { id: ChunkId([8; 32]), size: 50, entries: vec![e(3)] },
        ];
        let decoded = decode(&encode(&packs)).unwrap();
        assert_eq!(decoded, packs);
        let mut builder = IndexBuilder::default();
        decoded.iter().for_each(|p| builder.add_pack(p));
        builder.add_pack(&IndexedPack { id: ChunkId([7; 32]), size: 10, entries: vec![e(1)] });
        let index = builder.finish();
        assert_eq!(index.len(), 3, "a blob stored twice counts once");
        assert_eq!(index.get(&ChunkId([1; 32])).unwrap().0, &ChunkId([9; 32]), "the first copy wins");
        assert!(!index.contains(&ChunkId([4; 32])));
        let (pack, loc) = index.get(&ChunkId([3; 32])).unwrap();
        assert_eq!((*pack, loc.offset), (ChunkId([8; 32]), 3));
    }

    #[test]
    fn a_copy_marked_damaged_loses_to_any_other() {
        let e = |b: u8| PackEntry { object_type: ObjectType::DataBlob, id: ChunkId([b; 32]), offset: b as u32, length: 5, raw_length: 9 };
        let marks = DamageMarks::from_iter([(ChunkId([9; 32]), Some(ChunkId([1; 32]))), (ChunkId([9; 32]), Some(ChunkId([2; 32])))]);
        let mut builder = IndexBuilder::with_marks(marks);
        builder.add_pack(&IndexedPack { id: ChunkId([9; 32]), size: 100, entries: vec![e(1), e(2)] });
        builder.add_pack(&IndexedPack { id: ChunkId([7; 32]), size: 10, entries: vec![e(1)] });
        let index = builder.finish();
        assert_eq!(index.get(&ChunkId([1; 32])).unwrap().0, &ChunkId([7; 32]), "the unmarked copy wins");
        assert!(index.reusable(&ChunkId([1; 32])));
        assert!(index.contains(&ChunkId([2; 32])) && !index.reusable(&ChunkId([2; 32])), "the only copy is marked");
        assert_eq!(index.damaged().collect::<Vec<_>>(), vec![&ChunkId([2; 32])]);
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = decode(&bytes);
        }
    }
}
