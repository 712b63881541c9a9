//! `check`: is every snapshot restorable? The structural check compares snapshots, index and
//! stored packs; reading data also fetches packs (all, or a subset a night), checks each one's
//! SHA-256, opens every blob and recomputes its id, several packs at once, and names exactly
//! which snapshots a damaged pack affects. Copies found damaged are marked ([`super::damage`]);
//! a blob with a good copy elsewhere (a later backup stored it again) is reported healed.

use std::collections::{BTreeSet, HashMap, HashSet};

use futures_util::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::damage;
use super::format;
use super::pack;
use super::{ChunkId, RepoError, Repository};

/// Which packs a check reads back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReadData {
    /// None: the structure only.
    No,
    All,
    /// Part `n` of `m` (1-based): the packs whose id, as a number, is `n - 1` modulo `m`, so
    /// `m` runs with `n` = 1..=m read every pack once (restic's `n/m`).
    Part { n: u32, m: u32 },
    /// A random share of the packs, between 0 and 1.
    Fraction(f64),
}

impl From<bool> for ReadData {
    fn from(read_data: bool) -> ReadData {
        if read_data { ReadData::All } else { ReadData::No }
    }
}

impl std::str::FromStr for ReadData {
    type Err = RepoError;

    /// `n/m` (`2/7`), a percentage (`10%`) or a fraction (`0.1`).
    fn from_str(s: &str) -> Result<ReadData, RepoError> {
        let invalid = || RepoError::Invalid(format!("read a subset as n/m (1/7), a percentage (10%) or a fraction (0.1), not {s:?}"));
        if let Some((n, m)) = s.split_once('/') {
            let (n, m): (u32, u32) = (n.trim().parse().map_err(|_| invalid())?, m.trim().parse().map_err(|_| invalid())?);
            return if n >= 1 && n <= m { Ok(ReadData::Part { n, m }) } else { Err(invalid()) };
        }
        let share = match s.strip_suffix('%') {
            Some(percent) => percent.trim().parse::<f64>().map_err(|_| invalid())? / 100.0,
            None => s.trim().parse::<f64>().map_err(|_| invalid())?,
        };
        if share > 0.0 && share <= 1.0 { Ok(ReadData::Fraction(share)) } else { Err(invalid()) }
    }
}

impl ReadData {
    /// The packs of `packs` this reads.
    fn select(self, mut packs: Vec<(ChunkId, u64)>) -> Vec<(ChunkId, u64)> {
        match self {
            ReadData::No => Vec::new(),
            ReadData::All => packs,
            ReadData::Part { n, m } => {
                packs.retain(|(id, _)| u32::from_be_bytes([id.0[0], id.0[1], id.0[2], id.0[3]]) % m == n - 1);
                packs
            }
            ReadData::Fraction(share) => {
                use rand::seq::SliceRandom;
                let take = ((packs.len() as f64) * share).ceil() as usize;
                packs.shuffle(&mut rand::rng());
                packs.truncate(take);
                packs
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub read_data: bool,
    pub snapshots: usize,
    pub packs: usize,
    /// Packs read back (all of them unless a subset was asked for).
    pub packs_read: usize,
    /// Bytes of packs read back.
    pub bytes_read: u64,
    pub blobs: usize,
    /// Every problem found, one sentence each.
    pub errors: Vec<String>,
    pub damaged_packs: Vec<String>,
    /// Snapshots that cannot be fully restored.
    pub affected_snapshots: Vec<String>,
    /// Damaged copies another good copy stands in for, one sentence per pack: restores use the
    /// good copy, prune rewrites the pack without the damaged one.
    pub healed: Vec<String>,
    /// Snapshots that need a blob with a damaged copy and restore whole from a good one.
    pub healed_snapshots: Vec<String>,
    /// Archived WAL files read back (`read_data` only).
    pub wal_files: usize,
    /// Archived WAL files that cannot be read back.
    pub damaged_wal: Vec<String>,
    /// Per archive (stanza) with damage: how far WAL replay still gets, one sentence each.
    pub wal_windows: Vec<String>,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// How many packs are fetched and verified at once: enough to keep every core opening blobs
/// while the next packs are on their way.
fn parallel_packs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8) * 2
}

/// What reading one pack back found.
#[derive(Debug, Default)]
struct PackReading {
    /// Problems of the pack as a whole (its SHA-256, its header).
    damage: Vec<String>,
    /// The header could not be opened: none of its blobs can be read.
    header_unreadable: bool,
    /// Blobs the header lists, each with its offset and, if it failed to open, why.
    entries: Vec<(ChunkId, u32, Option<String>)>,
}

/// Checks one fetched pack: its SHA-256 name, its header, and every blob it holds (opened and
/// its id recomputed). CPU work, run on the blocking pool.
fn read_pack(repo: &Repository, id: ChunkId, bytes: &[u8]) -> PackReading {
    let mut reading = PackReading::default();
    if ChunkId(Sha256::digest(bytes).into()) != id {
        reading.damage.push("its content does not match its SHA-256 name".to_string());
    }
    match pack::read_header(bytes, |k| repo.keyring().key(k)) {
        Err(e) => {
            reading.damage.push(format!("its header cannot be read ({e})"));
            reading.header_unreadable = true;
        }
        Ok(entries) => {
            let mut plain = Vec::new();
            let mut unsealer = super::crypto::Unsealer::default();
            for e in entries {
                // read_header checked every entry lies inside the pack.
                let sealed = pack::blob_bytes(bytes, e.offset as u64, e.length as u64).unwrap_or_default();
                plain.clear();
                let opened = repo.open_blob_into(&mut unsealer, sealed, e.object_type, &e.id, e.raw_length, &mut plain);
                reading.entries.push((e.id, e.offset, opened.err().map(|err| err.to_string())));
            }
        }
    }
    reading
}

pub async fn check(repo: &Repository, read: impl Into<ReadData>) -> Result<CheckReport, RepoError> {
    let read = read.into();
    let mut report = CheckReport { read_data: read != ReadData::No, ..Default::default() };
    let stored: HashMap<String, u64> = repo.stored_packs().await?;
    report.packs = stored.len();
    // Unreadable index files are errors, but the check goes on with the packs' own headers.
    let (index, damaged) = repo.load_index_past_damage().await?;
    report.errors.extend(damaged.into_iter().map(|d| format!("{d} (`bulwark repo repair index` rebuilds the index from the packs)")));
    report.blobs = index.len();
    let marks = damage::load(repo).await?;

    // Blobs whose copy in use cannot be read back, and the packs with damage.
    let mut bad_blobs: HashSet<ChunkId> = index.damaged().copied().collect();
    let mut bad_packs: BTreeSet<String> = BTreeSet::new();
    let blobs_by_pack: HashMap<ChunkId, Vec<ChunkId>> =
        index.by_pack().into_iter().map(|(pack, blobs)| (pack, blobs.into_iter().map(|(id, _)| id).collect())).collect();
    for (pack_id, size) in &index.packs {
        let name = pack_id.to_string();
        let problem = match stored.get(&name) {
            None => format!("pack {name} is in the index but missing from storage"),
            Some(actual) if actual != size => format!("pack {name} has {actual} bytes; the index says {size}"),
            Some(_) => continue,
        };
        if !marks.whole(pack_id) {
            damage::mark(repo, pack_id, None, &problem).await;
        }
        report.errors.push(problem);
        bad_packs.insert(name);
        bad_blobs.extend(blobs_by_pack.get(pack_id).into_iter().flatten());
    }
    let indexed: HashSet<String> = index.packs.iter().map(|(id, _)| id.to_string()).collect();
    for name in stored.keys().filter(|n| !indexed.contains(*n)) {
        // Not an error: a backup that crashed before its index, collected by prune.
        tracing::info!(pack = %name, "pack not in any index (unreferenced)");
    }

    // Blobs with a copy that failed to open but another that is good.
    let mut healed_blobs: HashSet<ChunkId> = HashSet::new();
    if read != ReadData::No {
        let unique: HashSet<(ChunkId, u64)> = index.packs.iter().copied().filter(|(id, _)| !bad_packs.contains(&id.to_string())).collect();
        let mut packs: Vec<(ChunkId, u64)> = unique.into_iter().collect();
        packs.sort();
        let packs = read.select(packs);
        report.packs_read = packs.len();
        report.bytes_read = packs.iter().map(|(_, size)| size).sum();
        let readings = read_packs(repo, packs);
        futures_util::pin_mut!(readings);
        // Per pack with damage: its sentences, and the damaged blob copies it holds.
        let mut damaged_packs: Vec<(ChunkId, Vec<String>, bool, Vec<ChunkId>)> = Vec::new();
        let mut good_copies: HashSet<ChunkId> = HashSet::new();
        while let Some((pack_id, reading)) = readings.next().await {
            let reading = reading?;
            let mut damage = reading.damage;
            let mut bad_here = Vec::new();
            if reading.header_unreadable {
                bad_blobs.extend(blobs_by_pack.get(&pack_id).into_iter().flatten());
                if !marks.whole(&pack_id) {
                    damage::mark(repo, &pack_id, None, &damage.join("; ")).await;
                }
            } else {
                let listed: HashSet<ChunkId> = reading.entries.iter().map(|(id, _, _)| *id).collect();
                for blob in blobs_by_pack.get(&pack_id).into_iter().flatten().filter(|b| !listed.contains(b)) {
                    damage.push(format!("blob {blob} of the index is not in it"));
                    bad_blobs.insert(*blob);
                }
            }
            for (blob, offset, failed) in reading.entries {
                let in_use = index.get(&blob).is_some_and(|(p, loc)| *p == pack_id && loc.offset == offset);
                match failed {
                    None if in_use => {
                        // Read back whole: a mark on it (or on its pack) was wrong.
                        bad_blobs.remove(&blob);
                    }
                    None => {
                        good_copies.insert(blob);
                    }
                    Some(why) => {
                        if !marks.covers(&pack_id, &blob) {
                            damage::mark(repo, &pack_id, Some(&blob), &why).await;
                        }
                        if in_use {
                            bad_blobs.insert(blob);
                        }
                        bad_here.push(blob);
                        damage.push(why);
                    }
                }
            }
            if !damage.is_empty() {
                damaged_packs.push((pack_id, damage, reading.header_unreadable, bad_here));
            }
        }
        // A blob whose copy in use is damaged but with a good copy in another pack: restores
        // use the good one once the damaged copy is marked (as it now is).
        healed_blobs = bad_blobs.intersection(&good_copies).copied().collect();
        bad_blobs.retain(|b| !healed_blobs.contains(b));
        for (pack_id, damage, header_unreadable, bad_here) in damaged_packs {
            let name = pack_id.to_string();
            let stands_in = !header_unreadable && !bad_here.is_empty() && bad_here.iter().all(|b| !bad_blobs.contains(b));
            if stands_in {
                healed_blobs.extend(bad_here.iter().copied());
                report.healed.push(format!(
                    "pack {name}: {} damaged blob copies, each with a good copy in another pack that restores use; prune rewrites the pack without them",
                    bad_here.len()
                ));
            } else {
                report.errors.push(format!("pack {name} is damaged: {}", damage.join("; ")));
            }
            bad_packs.insert(name);
        }
    }
    let marked = index.damaged().filter(|b| bad_blobs.contains(b)).count();
    if marked > 0 && read == ReadData::No {
        report.errors.push(format!(
            "{marked} blobs were found damaged earlier (marked under {}) and no good copy is stored: the next backup of the same data stores them again",
            format::DAMAGED_PREFIX
        ));
    }

    let mut affected = BTreeSet::new();
    let mut healed_snapshots = BTreeSet::new();
    let ids = repo.snapshot_ids().await?;
    report.snapshots = ids.len();
    for id in ids {
        let snapshot = match repo.load_snapshot(&id).await {
            Ok(s) => s,
            Err(e) => {
                report.errors.push(format!("snapshot {id} cannot be read: {e}"));
                affected.insert(id);
                continue;
            }
        };
        let (needed, walked) = super::reachable::blobs_reached(repo, &index, &snapshot).await;
        if let Err(e) = walked {
            report.errors.push(format!("snapshot {id}: its file tree cannot be read: {e}"));
            affected.insert(id.clone());
        }
        let missing = needed.iter().filter(|c| !index.contains(c)).count();
        let damaged = needed.iter().filter(|c| bad_blobs.contains(c)).count();
        if missing > 0 {
            report.errors.push(format!("snapshot {id} refers to {missing} blobs that no index lists"));
        }
        if missing > 0 || damaged > 0 {
            affected.insert(id);
        } else if !affected.contains(&id) && needed.iter().any(|c| healed_blobs.contains(c)) {
            healed_snapshots.insert(id);
        }
    }
    report.damaged_packs = bad_packs.into_iter().collect();
    report.affected_snapshots = affected.into_iter().collect();
    report.healed_snapshots = healed_snapshots.into_iter().collect();
    if read != ReadData::No {
        check_wal(repo, &mut report).await?;
    }
    Ok(report)
}

/// Fetches `packs` and checks each on the blocking pool, several at once; yields each pack's
/// reading as it is done (a storage error ends the check).
fn read_packs(repo: &Repository, packs: Vec<(ChunkId, u64)>) -> impl futures_util::Stream<Item = (ChunkId, Result<PackReading, RepoError>)> + '_ {
    futures_util::stream::iter(packs)
        .map(move |(id, _)| async move {
            let reading = async {
                let bytes = repo.storage().get(&format::pack_key(&id.to_string())).await?;
                let repo = repo.clone();
                crate::platform::blocking::spawn(move || Ok::<_, RepoError>(read_pack(&repo, id, &bytes))).await
            };
            (id, reading.await)
        })
        .buffer_unordered(parallel_packs())
}

/// Reads every archived WAL file back (opened and authenticated as `wal-fetch` would), and for
/// each archive with damage says where replay now stops: PostgreSQL replays segments in order,
/// so the first unreadable segment ends every restore that needs WAL past it.
async fn check_wal(repo: &Repository, report: &mut CheckReport) -> Result<(), RepoError> {
    // Stanza ("" for WAL pushed without one) → (segment name, readable), in name order.
    let mut archives: std::collections::BTreeMap<String, Vec<(String, bool)>> = Default::default();
    for object in repo.storage().list(format::WAL_PREFIX).await? {
        let id = object.key.trim_start_matches(format::WAL_PREFIX).to_string();
        let sealed = repo.storage().get(&object.key).await?;
        let readable = match repo.open_object(format::ObjectType::Wal, &id, &sealed) {
            Ok(_) => true,
            Err(e) => {
                report.errors.push(format!("WAL {}: {e}", object.key));
                report.damaged_wal.push(object.key.clone());
                false
            }
        };
        report.wal_files += 1;
        let (stanza, name) = id.rsplit_once('/').map_or((String::new(), id.clone()), |(s, n)| (s.to_string(), n.to_string()));
        // Segments decide how far replay gets; history and backup-label files are reported above.
        if name.len() == 24 {
            archives.entry(stanza).or_default().push((name, readable));
        }
    }
    for (stanza, mut segments) in archives {
        segments.sort();
        let Some(stop) = segments.iter().position(|(_, readable)| !readable) else { continue };
        let archive = if stanza.is_empty() { "the WAL archive".to_string() } else { format!("the WAL archive {stanza}") };
        report.wal_windows.push(match stop {
            0 => format!("{archive}: replay cannot start, its first segment {} is damaged", segments[0].0),
            n => format!("{archive}: replay reaches {} and stops before {} (damaged); restores to points after it need that segment", segments[n - 1].0, segments[n].0),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_parse_and_parts_cover_every_pack_once() {
        assert_eq!("2/7".parse::<ReadData>().unwrap(), ReadData::Part { n: 2, m: 7 });
        assert_eq!("10%".parse::<ReadData>().unwrap(), ReadData::Fraction(0.1));
        assert_eq!("0.25".parse::<ReadData>().unwrap(), ReadData::Fraction(0.25));
        for bad in ["0/7", "8/7", "1/0", "0%", "150%", "x", "-0.5", ""] {
            assert!(bad.parse::<ReadData>().is_err(), "{bad}");
        }
        let packs: Vec<(ChunkId, u64)> = (0..200u32).map(|i| (ChunkId([i as u8; 32]), u64::from(i))).collect();
        let mut read: Vec<(ChunkId, u64)> = (1..=7).flat_map(|n| ReadData::Part { n, m: 7 }.select(packs.clone())).collect();
        read.sort();
        let mut all = packs.clone();
        all.sort();
        assert_eq!(read, all, "seven nights read every pack exactly once");
        assert_eq!(ReadData::Fraction(0.1).select(packs.clone()).len(), 20);
        assert!(ReadData::No.select(packs).is_empty());
    }
}
