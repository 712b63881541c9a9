//! `check`: is every snapshot restorable? The structural check compares snapshots, index and
//! stored packs; `read_data` also reads every pack, checks its SHA-256, opens every blob and
//! recomputes its id, and names exactly which snapshots a damaged pack affects.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::format;
use super::pack;
use super::snapshot::Content;
use super::{ChunkId, RepoError, Repository, tree};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub read_data: bool,
    pub snapshots: usize,
    pub packs: usize,
    pub blobs: usize,
    /// Every problem found, one sentence each.
    pub errors: Vec<String>,
    pub damaged_packs: Vec<String>,
    /// Snapshots that cannot be fully restored.
    pub affected_snapshots: Vec<String>,
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

pub async fn check(repo: &Repository, read_data: bool) -> Result<CheckReport, RepoError> {
    let mut report = CheckReport { read_data, ..Default::default() };
    let stored: HashMap<String, u64> = repo.stored_packs().await?;
    report.packs = stored.len();
    // Unreadable index files are errors, but the check goes on with the packs' own headers.
    let (index, damaged) = repo.load_index_past_damage().await?;
    report.errors.extend(damaged.into_iter().map(|d| format!("{d} (`bulwark repo repair index` rebuilds the index from the packs)")));
    report.blobs = index.len();

    // Blobs that cannot be read back, by the pack they live in.
    let mut bad_blobs: HashSet<ChunkId> = HashSet::new();
    let mut bad_packs: BTreeSet<String> = BTreeSet::new();
    let blobs_by_pack: HashMap<ChunkId, Vec<ChunkId>> =
        index.by_pack().into_iter().map(|(pack, blobs)| (pack, blobs.into_iter().map(|(id, _)| id).collect())).collect();
    for (pack_id, size) in &index.packs {
        let name = pack_id.to_string();
        match stored.get(&name) {
            None => {
                report.errors.push(format!("pack {name} is in the index but missing from storage"));
                bad_packs.insert(name);
                bad_blobs.extend(blobs_by_pack.get(pack_id).into_iter().flatten());
            }
            Some(actual) if actual != size => {
                report.errors.push(format!("pack {name} has {actual} bytes; the index says {size}"));
                bad_packs.insert(name);
                bad_blobs.extend(blobs_by_pack.get(pack_id).into_iter().flatten());
            }
            Some(_) => {}
        }
    }
    let indexed: HashSet<String> = index.packs.iter().map(|(id, _)| id.to_string()).collect();
    for name in stored.keys().filter(|n| !indexed.contains(*n)) {
        // Not an error: a backup that crashed before its index, collected by prune.
        tracing::info!(pack = %name, "pack not in any index (unreferenced)");
    }

    if read_data {
        for (pack_id, _) in &index.packs {
            let name = pack_id.to_string();
            if bad_packs.contains(&name) {
                continue;
            }
            let bytes = repo.storage().get(&format::pack_key(&name)).await?;
            let mut damage = Vec::new();
            if ChunkId(Sha256::digest(&bytes).into()) != *pack_id {
                damage.push("its content does not match its SHA-256 name".to_string());
            }
            match pack::read_header(&bytes, |k| repo.keyring().key(k)) {
                Err(e) => {
                    damage.push(format!("its header cannot be read ({e})"));
                    bad_blobs.extend(blobs_by_pack.get(pack_id).into_iter().flatten());
                }
                Ok(entries) => {
                    let listed: HashSet<ChunkId> = entries.iter().map(|e| e.id).collect();
                    for blob in blobs_by_pack.get(pack_id).into_iter().flatten() {
                        if !listed.contains(blob) {
                            damage.push(format!("blob {blob} of the index is not in it"));
                            bad_blobs.insert(*blob);
                        }
                    }
                    for e in entries {
                        // read_header checked every entry lies inside the pack.
                        let sealed = pack::blob_bytes(&bytes, e.offset as u64, e.length as u64).unwrap_or_default();
                        if let Err(err) = repo.open_blob(sealed, e.object_type, &e.id, e.raw_length) {
                            damage.push(err.to_string());
                            bad_blobs.insert(e.id);
                        }
                    }
                }
            }
            if !damage.is_empty() {
                report.errors.push(format!("pack {name} is damaged: {}", damage.join("; ")));
                bad_packs.insert(name);
            }
        }
    }

    let mut affected = BTreeSet::new();
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
        let mut needed: Vec<ChunkId> = Vec::new();
        match &snapshot.content {
            Content::Stream { chunks, .. } => needed.extend(chunks.iter().filter_map(|c| c.parse::<ChunkId>().ok())),
            Content::Tree { tree, .. } => {
                needed.extend(tree.iter().filter_map(|c| c.parse::<ChunkId>().ok()));
                // Files' data blobs, and directories' listing blobs.
                let walked = async {
                    let mut reader = tree::TreeReader::open(repo, &index, &snapshot).await?;
                    while let Some(node) = reader.next().await? {
                        needed.extend(node.chunks.iter().filter_map(|c| c.parse::<ChunkId>().ok()));
                    }
                    Ok::<_, RepoError>(())
                };
                if let Err(e) = walked.await {
                    report.errors.push(format!("snapshot {id}: its file tree cannot be read: {e}"));
                    affected.insert(id.clone());
                }
            }
        }
        let missing = needed.iter().filter(|c| !index.contains(c)).count();
        let damaged = needed.iter().filter(|c| bad_blobs.contains(c)).count();
        if missing > 0 {
            report.errors.push(format!("snapshot {id} refers to {missing} blobs that no index lists"));
        }
        if missing > 0 || damaged > 0 {
            affected.insert(id);
        }
    }
    report.damaged_packs = bad_packs.into_iter().collect();
    report.affected_snapshots = affected.into_iter().collect();
    if read_data {
        check_wal(repo, &mut report).await?;
    }
    Ok(report)
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
