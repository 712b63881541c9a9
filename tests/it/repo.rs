//! The repository engine on a local storage location: round trips, dedup, keys, damage.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bulwark_core::engine::repo::backup::{self, BackupOptions};
use bulwark_core::engine::repo::check::check;
use bulwark_core::engine::repo::keys::Secret;
use bulwark_core::engine::repo::restore;
use bulwark_core::engine::repo::snapshot::Content;
use bulwark_core::engine::repo::{RepoError, Repository};
use bulwark_core::engine::storage::Storage;
use bulwark_core::engine::storage::local::LocalStorage;
use bulwark_testkit::{noise, temp_dir};

fn pass() -> Secret {
    Secret::Passphrase("correct horse battery staple".into())
}

async fn new_repo() -> (Repository, PathBuf) {
    let dir = temp_dir("repo");
    let storage: Arc<dyn Storage> = Arc::new(LocalStorage::new(&dir));
    let (repo, kit) = Repository::init(storage, &pass()).await.expect("init");
    assert_eq!(kit.repository_id, repo.config().id);
    (repo, dir)
}

async fn backup_bytes(repo: &Repository, data: Vec<u8>) -> bulwark_core::engine::repo::snapshot::Snapshot {
    backup::backup_stream(repo, std::io::Cursor::new(data), BackupOptions { source: "stdin".into(), ..Default::default() }).await.unwrap()
}

async fn restore_bytes(repo: &Repository, id: &str) -> Result<Vec<u8>, RepoError> {
    let index = Arc::new(repo.load_index().await?);
    let snapshot = repo.snapshot(id).await?;
    restore::restore_stream(repo, index, &snapshot, Vec::new()).await.map(|(v, _)| v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_round_trip_and_deduplicate() {
    let (repo, _) = new_repo().await;
    let big = noise(1, 5 * 1024 * 1024 + 17);
    let text = b"SELECT 1; -- compressible\n".repeat(100_000);
    for data in [Vec::new(), b"x".to_vec(), big.clone(), text.clone()] {
        let s = backup_bytes(&repo, data.clone()).await;
        assert_eq!(restore_bytes(&repo, &s.id).await.unwrap(), data, "{} bytes", data.len());
    }
    let again = backup_bytes(&repo, big.clone()).await;
    assert_eq!(again.summary.new_chunks, 0, "unchanged data adds nothing");
    assert_eq!(again.summary.stored_bytes, 0);
    // A change in the middle re-stores only the chunks around it.
    let mut changed = big.clone();
    changed.splice(2_000_000..2_000_000, b"inserted".iter().copied());
    let s = backup_bytes(&repo, changed.clone()).await;
    assert!(s.summary.new_chunks <= 3, "{:?}", s.summary);
    assert!(s.summary.new_bytes < 1_500_000, "{:?}", s.summary);
    assert_eq!(restore_bytes(&repo, &s.id).await.unwrap(), changed);
    // Compression happened for the text stream.
    let text_snap = repo.snapshots().await.unwrap().into_iter().find(|s| s.summary.bytes == text.len() as u64).unwrap();
    assert!(text_snap.summary.stored_bytes * 20 < text.len() as u64, "{:?}", text_snap.summary);
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

fn sample_tree(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    write(&root.join("empty.txt"), b"");
    write(&root.join("dir with space/ünïcode – file.txt"), "héllo wörld\n".as_bytes());
    write(&root.join("nested/a/b/c/deep.json"), br#"{"deep": true}"#);
    write(&root.join("big.bin"), &noise(7, 3 * 1024 * 1024 + 5));
    write(&root.join("logs/app.log"), &b"2026-11-22 INFO request served\n".repeat(20_000));
    std::fs::create_dir_all(root.join("empty-dir")).unwrap();
    std::os::unix::fs::symlink("nested/a/b/c/deep.json", root.join("link-to-deep")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/outside", root.join("dangling")).unwrap();
    std::fs::set_permissions(root.join("logs/app.log"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let script = root.join("run.sh");
    write(&script, b"#!/bin/sh\necho hi\n");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Every entry below `root`: relative path, kind, mode, mtime, and content or link target.
fn describe(root: &Path) -> Vec<(String, String, u32, i64, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mtime = meta.modified().unwrap().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64;
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap().to_string_lossy().into_owned().into_bytes();
                out.push((rel, "link".into(), 0, 0, target));
            } else if meta.is_dir() {
                out.push((rel, "dir".into(), meta.permissions().mode() & 0o7777, mtime, vec![]));
                stack.push(path);
            } else {
                out.push((rel, "file".into(), meta.permissions().mode() & 0o7777, mtime, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trees_round_trip_with_metadata() {
    let (repo, _) = new_repo().await;
    let source = temp_dir("tree-src");
    sample_tree(&source);
    let s = bulwark_core::engine::source::filesystem::backup_tree(&repo, &source, BackupOptions { source: source.display().to_string(), ..Default::default() }).await.unwrap();
    assert!(matches!(s.content, Content::Tree { .. }));
    assert_eq!((s.summary.files, s.summary.dirs), (6, 7));
    let target = temp_dir("tree-dst");
    let index = Arc::new(repo.load_index().await.unwrap());
    let summary = restore::restore_tree(&repo, index.clone(), &s, &target, &restore::RestoreOptions::default()).await.unwrap();
    assert_eq!((summary.files, summary.symlinks, summary.unchanged), (6, 2, 0));
    assert_eq!(describe(&target), describe(&source));

    // Restoring again over the result rewrites nothing; a changed file is put back.
    write(&target.join("nested/a/b/c/deep.json"), b"tampered");
    let again = restore::restore_tree(&repo, index.clone(), &s, &target, &restore::RestoreOptions::default()).await.unwrap();
    assert_eq!((again.files, again.unchanged), (1, 7));
    assert_eq!(describe(&target), describe(&source));

    // Temporaries an interrupted run left (a symlink's included) do not block the next run.
    std::fs::remove_file(target.join("link-to-deep")).unwrap();
    std::os::unix::fs::symlink("stale", target.join(".link-to-deep.bulwark-partial")).unwrap();
    write(&target.join(".dangling.bulwark-partial"), b"half");
    restore::restore_tree(&repo, index.clone(), &s, &target, &restore::RestoreOptions::default()).await.unwrap();
    assert_eq!(describe(&target), describe(&source), "no temporary left behind");

    // A second backup of the same tree stores nothing new.
    let s2 = bulwark_core::engine::source::filesystem::backup_tree(&repo, &source, BackupOptions::default()).await.unwrap();
    assert_eq!(s2.summary.new_chunks, 0, "{:?}", s2.summary);

    // Partial restore by path filter.
    let part = temp_dir("tree-part");
    restore::restore_tree(&repo, index.clone(), &s, &part, &restore::RestoreOptions::only(["nested"])).await.unwrap();
    let got: Vec<String> = describe(&part).into_iter().map(|e| e.0).collect();
    assert_eq!(got, ["nested", "nested/a", "nested/a/b", "nested/a/b/c", "nested/a/b/c/deep.json"]);
    let none = restore::restore_tree(&repo, index, &s, &temp_dir("x"), &restore::RestoreOptions::only(["no-such-path"])).await;
    assert!(matches!(none, Err(RepoError::Invalid(_))));
}

/// Each directory is its own listing: a change deep in the tree stores the changed file and the
/// listings on its way to the top, nothing else; a directory too big for one blob spans several.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directories_are_listed_one_by_one() {
    let (repo, _) = new_repo().await;
    let source = temp_dir("listings-src");
    sample_tree(&source);
    for i in 0..5_000 {
        write(&source.join(format!("many/file-{i:05}-with-a-long-name-to-make-the-listing-big.txt")), format!("{i}\n").as_bytes());
    }
    std::fs::create_dir_all(source.join("only/empty/dirs")).unwrap();
    // More directories side by side than a reader loads ahead at once.
    for i in 0..300 {
        write(&source.join(format!("wide/d{i:03}/inner/f")), format!("{i}").as_bytes());
    }
    let first = bulwark_core::engine::source::filesystem::backup_tree(&repo, &source, BackupOptions::default()).await.unwrap();
    assert_eq!((first.summary.files, first.summary.dirs), (6 + 5_000 + 300, 11 + 1 + 600));

    write(&source.join("nested/a/b/c/deep.json"), br#"{"deep": false}"#);
    let second = bulwark_core::engine::source::filesystem::backup_tree(&repo, &source, BackupOptions::default()).await.unwrap();
    // deep.json, then the listings of c, b, a, nested and the top: 6 new blobs.
    assert_eq!(second.summary.new_chunks, 6, "{:?}", second.summary);

    let index = repo.load_index().await.unwrap();
    let nodes = bulwark_core::engine::repo::tree::load_tree(&repo, &index, &second).await.unwrap();
    // Depth-first: every directory comes before what it holds, each path once.
    let mut seen = std::collections::HashSet::new();
    for node in &nodes {
        let parent = node.path.rsplit_once('/').map_or("", |(p, _)| p);
        assert!(parent.is_empty() || seen.contains(parent), "{} before its directory", node.path);
        assert!(seen.insert(node.path.as_str()), "{} twice", node.path);
    }
    // Files, directories and the two symlinks of the sample tree.
    assert_eq!(nodes.len() as u64, first.summary.files + first.summary.dirs + 2);
    let many = nodes.into_iter().find(|n| n.path == "many").unwrap();
    assert!(many.chunks.len() > 1, "a 5,000-entry listing spans several blobs: {}", many.chunks.len());
    let listed = bulwark_core::engine::repo::tree::list_dir(&repo, &index, &second, "nested/a/b/c").await.unwrap();
    assert_eq!(listed.iter().map(|n| n.path.as_str()).collect::<Vec<_>>(), ["nested/a/b/c/deep.json"]);
    let missing = bulwark_core::engine::repo::tree::list_dir(&repo, &index, &second, "nested/zzz").await.unwrap_err();
    assert!(missing.to_string().contains("no directory"), "{missing}");

    let target = temp_dir("listings-dst");
    restore::restore_tree(&repo, Arc::new(index), &second, &target, &restore::RestoreOptions::default()).await.unwrap();
    assert_eq!(describe(&target), describe(&source));
    assert!(check(&repo, true).await.unwrap().errors.is_empty());
}

/// A write that fails stops the restore with its error, however many files are still to come
/// (a writer that stopped left the walk waiting on a full queue, for ever), and what the
/// target held stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_ends_the_restore() {
    let (repo, _) = new_repo().await;
    let source = temp_dir("failed-write-src");
    // Many more batches of files than the writers' queue holds.
    for i in 0..3_000 {
        write(&source.join(format!("many/f-{i:05}")), format!("{i}\n").as_bytes());
    }
    let snapshot = bulwark_core::engine::source::filesystem::backup_tree(&repo, &source, BackupOptions::default()).await.unwrap();
    let index = Arc::new(repo.load_index().await.unwrap());
    let target = temp_dir("failed-write-dst");
    // A directory where a file well down the queue goes: it cannot be replaced by a file.
    write(&target.join("many/f-02000/kept"), b"mine");

    // On a runtime of its own: a restore that hangs fails this test instead of hanging it.
    let (done, result) = std::sync::mpsc::channel();
    let dir = target.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let restored = runtime.block_on(restore::restore_tree(&repo, index, &snapshot, &dir, &restore::RestoreOptions::default()));
        let _ = done.send(restored);
    });
    let err = result.recv_timeout(std::time::Duration::from_secs(120)).expect("the restore ends").unwrap_err();
    assert!(matches!(err, RepoError::Target(_)), "{err:?}");
    assert!(err.to_string().contains("f-02000"), "{err}");
    assert_eq!(std::fs::read(target.join("many/f-02000/kept")).unwrap(), b"mine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_never_write_through_a_symlink() {
    let (repo, _) = new_repo().await;
    let source = temp_dir("sym-src");
    write(&source.join("etc/passwd"), b"from the backup");
    let s = bulwark_core::engine::source::filesystem::backup_tree(&repo, &source, BackupOptions::default()).await.unwrap();
    let outside = temp_dir("outside");
    let target = temp_dir("sym-dst");
    std::os::unix::fs::symlink(&outside, target.join("etc")).unwrap();
    let index = Arc::new(repo.load_index().await.unwrap());
    let err = restore::restore_tree(&repo, index, &s, &target, &restore::RestoreOptions::default()).await.unwrap_err();
    assert!(matches!(err, RepoError::Target(_)), "{err}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing written outside the target");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_open_refuse_and_rotate() {
    let (mut repo, dir) = new_repo().await;
    let storage = || -> Arc<dyn Storage> { Arc::new(LocalStorage::new(&dir)) };
    let wrong = Repository::open(storage(), &Secret::Passphrase("wrong".into())).await.unwrap_err();
    let key = std::fs::read_dir(dir.join("keys")).unwrap().next().unwrap().unwrap().file_name().into_string().unwrap();
    // Each key file that refused is named: an altered one cannot be told from a wrong secret.
    assert!(matches!(&wrong, RepoError::NoKeyOpened(tried) if tried.contains(&format!("keys/{key}"))), "{wrong}");
    let a_key_file = Secret::KeyFile([7u8; 32]);
    assert!(matches!(Repository::open(storage(), &a_key_file).await, Err(RepoError::WrongSecret)), "no key file of that kind");
    let empty: Arc<dyn Storage> = Arc::new(LocalStorage::new(temp_dir("empty")));
    assert!(matches!(Repository::open(empty, &pass()).await, Err(RepoError::NoRepository(_))));
    assert!(matches!(Repository::init(storage(), &pass()).await, Err(RepoError::AlreadyExists(_))));

    let key_file = Secret::from_key_file(&Secret::new_key_file()).unwrap();
    repo.add_key(&key_file).await.unwrap();
    assert_eq!(repo.list_keys().await.unwrap().len(), 2);
    let by_file = Repository::open(storage(), &key_file).await.unwrap();
    assert_eq!(by_file.config().id, repo.config().id);

    let before = backup_bytes(&repo, noise(3, 300_000)).await;
    assert_eq!(repo.rotate_data_key().await.unwrap(), 2);
    let after = backup_bytes(&repo, noise(4, 300_000)).await;
    let reopened = Repository::open(storage(), &pass()).await.unwrap();
    assert_eq!(reopened.keyring().current, 2);
    assert_eq!(restore_bytes(&reopened, &before.id).await.unwrap(), noise(3, 300_000), "old data stays readable");
    assert_eq!(restore_bytes(&reopened, &after.id).await.unwrap(), noise(4, 300_000));

    // A client that opened the repository before that rotation rotates from the stored
    // keyring: it gets key 3 and keeps key 2, so the data sealed with key 2 stays readable.
    let mut stale = by_file;
    assert_eq!(stale.rotate_data_key().await.unwrap(), 3);
    let reopened = Repository::open(storage(), &pass()).await.unwrap();
    assert_eq!(reopened.keyring().current, 3);
    assert_eq!(restore_bytes(&reopened, &after.id).await.unwrap(), noise(4, 300_000));
}

/// Two snapshots in separate packs: `a` (noise 10) and `b` (noise 20).
async fn two_snapshots() -> (Repository, PathBuf, String, String) {
    let (repo, dir) = new_repo().await;
    let a = backup_bytes(&repo, noise(10, 400_000)).await;
    let b = backup_bytes(&repo, noise(20, 400_000)).await;
    (repo, dir, a.id, b.id)
}

fn packs_of(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(dir.join("packs")).unwrap() {
        for p in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            out.push(p.unwrap().path());
        }
    }
    out
}

/// The pack holding snapshot `id`'s data: the one whose removal makes `id` unrestorable.
async fn pack_of(repo: &Repository, dir: &Path, id: &str) -> PathBuf {
    let snapshot = repo.snapshot(id).await.unwrap();
    let Content::Stream { chunks, .. } = snapshot.content else { panic!("stream") };
    let index = repo.load_index().await.unwrap();
    let (pack, _) = index.get(&chunks[0].parse().unwrap()).unwrap();
    packs_of(dir).into_iter().find(|p| p.file_name().unwrap().to_string_lossy() == pack.to_string()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_is_found_and_named() {
    let (repo, dir, a, b) = two_snapshots().await;
    assert!(check(&repo, true).await.unwrap().is_ok());
    let pack = pack_of(&repo, &dir, &a).await;
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[1000] ^= 0x40;
    std::fs::write(&pack, &bytes).unwrap();

    assert!(check(&repo, false).await.unwrap().is_ok(), "structure alone cannot see a flipped bit");
    let report = check(&repo, true).await.unwrap();
    assert_eq!(report.affected_snapshots, std::slice::from_ref(&a));
    assert_eq!(report.damaged_packs, [pack.file_name().unwrap().to_string_lossy().to_string()]);
    assert!(report.errors[0].contains("does not match its SHA-256"), "{:?}", report.errors);

    assert_eq!(restore_bytes(&repo, &b).await.unwrap(), noise(20, 400_000), "the other snapshot restores");
    let err = restore_bytes(&repo, &a).await.unwrap_err();
    assert!(matches!(err, RepoError::DataUnavailable { .. }), "{err}");
    // Restoring into a file leaves nothing behind.
    let out = temp_dir("out").join("restored.bin");
    let index = Arc::new(repo.load_index().await.unwrap());
    let snapshot = repo.snapshot(&a).await.unwrap();
    assert!(restore::restore_stream_to_file(&repo, index, &snapshot, &out).await.is_err());
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(out.parent().unwrap()).unwrap().count(), 0);
}

/// A blob sealed under a real chunk id with other bytes passes its authentication tag (only a
/// holder of the data key could write one): a tree restore, a stream restore and `check
/// --read-data` catch it by the chunk id (keyed BLAKE3: a version-1 repository's tree restore
/// compares the file's SHA-256 instead), and the tree restore leaves nothing of that file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_bytes_under_a_chunk_id_are_caught() {
    use bulwark_core::engine::repo::crypto;
    use bulwark_core::engine::repo::format::{Compression, ObjectType};
    let (repo, dir) = new_repo().await;
    let source = temp_dir("forged-src");
    write(&source.join("a.bin"), &noise(31, 200_000));
    write(&source.join("b.txt"), b"untouched\n");
    let tree = bulwark_core::engine::source::filesystem::backup_tree(&repo, &source, BackupOptions { source: "forged".into(), ..Default::default() }).await.unwrap();
    let stream = backup_bytes(&repo, noise(31, 200_000)).await;
    let index = Arc::new(repo.load_index().await.unwrap());
    let Content::Stream { chunks, .. } = &stream.content else { panic!("stream") };
    let id = chunks[0].parse().unwrap();
    let (pack, at) = index.get(&id).unwrap();
    let (key_id, key) = repo.keyring().current_key();
    // Same length as the original (stored uncompressed), so the pack's layout still holds.
    let forged = crypto::seal(key, key_id, ObjectType::DataBlob, Compression::None, &id.0, &noise(99, at.raw_length as usize));
    assert_eq!(forged.len(), at.length as usize);
    let path = dir.join(bulwark_core::engine::repo::format::pack_key(&pack.to_string()));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[at.offset as usize..][..forged.len()].copy_from_slice(&forged);
    std::fs::write(&path, &bytes).unwrap();

    let target = temp_dir("forged-dst");
    let err = restore::restore_tree(&repo, index.clone(), &tree, &target, &restore::RestoreOptions::default()).await.unwrap_err();
    assert!(matches!(&err, RepoError::DataUnavailable { .. }) && err.to_string().contains("a.bin") && err.to_string().contains("does not match its id"), "{err}");
    assert!(!target.join("a.bin").exists());
    assert!(std::fs::read_dir(&target).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains("a.bin")), "no partial file is left");
    let err = restore_bytes(&repo, &stream.id).await.unwrap_err();
    assert!(err.to_string().contains("does not match its id"), "{err}");
    let report = check(&repo, true).await.unwrap();
    assert_eq!(report.affected_snapshots.len(), 2, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_and_deleted_packs_are_found() {
    let (repo, dir, a, b) = two_snapshots().await;
    let pack_a = pack_of(&repo, &dir, &a).await;
    let pack_b = pack_of(&repo, &dir, &b).await;
    let bytes = std::fs::read(&pack_a).unwrap();
    std::fs::write(&pack_a, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::remove_file(&pack_b).unwrap();
    let report = check(&repo, false).await.unwrap();
    assert_eq!(report.affected_snapshots.len(), 2, "{report:?}");
    assert!(report.errors.iter().any(|e| e.contains("missing from storage")), "{:?}", report.errors);
    assert!(report.errors.iter().any(|e| e.contains("bytes; the index says")), "{:?}", report.errors);
    assert!(matches!(restore_bytes(&repo, &b).await, Err(RepoError::DataUnavailable { .. }) | Err(RepoError::Storage(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_manifest_and_key_are_reported() {
    let (repo, dir, a, b) = two_snapshots().await;
    let manifest = dir.join("snapshots").join(&a);
    let mut bytes = std::fs::read(&manifest).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&manifest, &bytes).unwrap();
    let report = check(&repo, true).await.unwrap();
    assert_eq!(report.affected_snapshots, std::slice::from_ref(&a));
    assert!(matches!(repo.snapshot(&a).await, Err(RepoError::Damaged(_))));
    assert_eq!(restore_bytes(&repo, &b).await.unwrap(), noise(20, 400_000));

    // A character of the salt changed: the right passphrase fails like a wrong one, but the
    // message names the key file, so nobody retypes a correct passphrase for an hour.
    let key = std::fs::read_dir(dir.join("keys")).unwrap().next().unwrap().unwrap().path();
    let original = std::fs::read_to_string(&key).unwrap();
    let salt_at = original.find("\"salt\":\"").unwrap() + 8;
    let mut altered = original.clone().into_bytes();
    altered[salt_at] = if altered[salt_at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&key, &altered).unwrap();
    let err = Repository::open(Arc::new(LocalStorage::new(&dir)), &pass()).await.unwrap_err();
    let name = key.file_name().unwrap().to_string_lossy().to_string();
    assert!(matches!(&err, RepoError::NoKeyOpened(tried) if tried.contains(&name)), "{err}");
    assert!(err.to_string().contains("altered"), "{err}");
    std::fs::write(&key, &original).unwrap();

    // The only key file damaged: a clear error, not "wrong passphrase".
    let key = std::fs::read_dir(dir.join("keys")).unwrap().next().unwrap().unwrap().path();
    let text = std::fs::read_to_string(&key).unwrap();
    std::fs::write(&key, text.replace("wrappedMasterKey\":\"", "wrappedMasterKey\":\"AAAA")).unwrap();
    let err = Repository::open(Arc::new(LocalStorage::new(&dir)), &pass()).await.unwrap_err();
    assert!(matches!(err, RepoError::Damaged(_)), "{err}");
}

fn index_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir.join("index")).unwrap().map(|e| e.unwrap().path()).collect()
}

/// One flipped byte in one index file used to stop every restore, backup and prune of the
/// repository (and `check` saw 0 blobs) though every pack was intact. Restores now read past it
/// with the packs' own headers, `check` names it, prune refuses to guess, and `repair index`
/// rebuilds the index, even with every index file gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_index_stops_nothing_and_is_rebuilt_from_the_packs() {
    let (repo, dir, a, b) = two_snapshots().await;
    let tree_source = temp_dir("index-tree");
    sample_tree(&tree_source);
    let tree = bulwark_core::engine::source::filesystem::backup_tree(&repo, &tree_source, BackupOptions { source: "tree".into(), ..Default::default() }).await.unwrap();
    for file in index_files(&dir) {
        let mut bytes = std::fs::read(&file).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        std::fs::write(&file, bytes).unwrap();
    }
    assert_eq!(restore_bytes(&repo, &a).await.unwrap(), noise(10, 400_000));
    assert_eq!(restore_bytes(&repo, &b).await.unwrap(), noise(20, 400_000));
    let report = check(&repo, true).await.unwrap();
    assert!(report.blobs > 0 && report.affected_snapshots.is_empty(), "{report:?}");
    assert!(report.errors.iter().all(|e| e.starts_with("index file index/")) && !report.errors.is_empty(), "{:?}", report.errors);
    let refused = bulwark_core::engine::repo::prune::prune(&repo, true).await.unwrap_err().to_string();
    assert!(refused.contains("repair index"), "{refused}");

    // Every index file gone: rebuilt from the packs, and every snapshot restores as it was.
    for file in index_files(&dir) {
        std::fs::remove_file(file).unwrap();
    }
    let repaired = bulwark_core::engine::repo::repair::repair_index(&repo).await.unwrap();
    assert_eq!((repaired.packs, repaired.unreadable_packs.len()), (packs_of(&dir).len(), 0), "{repaired:?}");
    assert!(check(&repo, true).await.unwrap().is_ok());
    assert_eq!(restore_bytes(&repo, &a).await.unwrap(), noise(10, 400_000));
    assert_eq!(restore_bytes(&repo, &b).await.unwrap(), noise(20, 400_000));
    let target = temp_dir("index-tree-restored");
    let index = Arc::new(repo.load_index().await.unwrap());
    restore::restore_tree(&repo, index, &tree, &target, &restore::RestoreOptions::default()).await.unwrap();
    assert_eq!(describe(&target), describe(&tree_source));
    bulwark_core::engine::repo::prune::prune(&repo, true).await.unwrap();
}

/// One unreadable manifest used to make `snapshots`, `stats`, `forget` and `prune` fail and list
/// nothing. Every readable snapshot stays listed, the unreadable one is named, prune deletes
/// nothing it cannot prove unused and says why, and forget removes the unreadable manifest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_manifest_hides_nothing_else() {
    let (repo, dir, a, b) = two_snapshots().await;
    let c = backup_bytes(&repo, noise(30, 300_000)).await.id;
    bulwark_core::engine::repo::prune::forget(&repo, std::slice::from_ref(&c)).await.unwrap();
    std::fs::write(dir.join("snapshots").join(&a), b"not a manifest").unwrap();
    let listed: Vec<String> = repo.snapshots().await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(listed, vec![b.clone()]);
    let (_, unreadable) = repo.snapshots_past_damage().await.unwrap();
    assert_eq!(unreadable.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), vec![a.as_str()]);
    assert_eq!(repo.stats().await.unwrap().snapshots, 1);

    // c's data is unused, but a's manifest might need it: nothing goes.
    let packs = packs_of(&dir).len();
    let pruned = bulwark_core::engine::repo::prune::prune(&repo, false).await.unwrap();
    assert_eq!((pruned.packs_deleted, pruned.packs_repacked, pruned.unreadable_snapshots.len()), (0, 0, 1), "{pruned:?}");
    assert_eq!(packs_of(&dir).len(), packs);
    assert_eq!(restore_bytes(&repo, &b).await.unwrap(), noise(20, 400_000));

    // Forgotten by its id, the damaged manifest goes, and prune frees what nothing needs.
    assert_eq!(bulwark_core::engine::repo::prune::forget(&repo, &[a[..8].to_string()]).await.unwrap(), vec![a.clone()]);
    let pruned = bulwark_core::engine::repo::prune::prune(&repo, false).await.unwrap();
    assert!(pruned.packs_deleted + pruned.packs_repacked > 0 && pruned.unreadable_snapshots.is_empty(), "{pruned:?}");
    assert_eq!(restore_bytes(&repo, &b).await.unwrap(), noise(20, 400_000));
    assert!(check(&repo, true).await.unwrap().is_ok());
}

/// `check --read-data` read packs but never archived WAL: a damaged WAL object passed as "all
/// data read and verified". It reads every WAL file now and says where replay stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reads_archived_wal_and_says_where_replay_stops() {
    let (repo, dir) = new_repo().await;
    let segments = ["000000010000000000000001", "000000010000000000000002", "000000010000000000000003"];
    for (n, name) in segments.iter().enumerate() {
        repo.wal_push("db1", name, &noise(n as u64 + 80, 64 * 1024)).await.unwrap();
    }
    repo.wal_push("db1", "00000002.history", b"1\t0/3000000\tno recovery target specified\n").await.unwrap();
    let sound = check(&repo, true).await.unwrap();
    assert!(sound.is_ok() && sound.wal_files == 4, "{sound:?}");

    let middle = dir.join("wal/db1").join(segments[1]);
    let mut bytes = std::fs::read(&middle).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&middle, bytes).unwrap();
    let report = check(&repo, true).await.unwrap();
    assert_eq!(report.damaged_wal, vec![format!("wal/db1/{}", segments[1])]);
    assert_eq!(report.wal_windows, vec![format!("the WAL archive db1: replay reaches {} and stops before {} (damaged); restores to points after it need that segment", segments[0], segments[1])]);
    assert!(!report.is_ok());
    assert!(check(&repo, false).await.unwrap().is_ok(), "the structural check does not read WAL");
}

/// Flips a byte inside the stored copy of blob `id` (its sealed bytes, past the envelope's
/// header), so that copy no longer opens.
async fn damage_blob(repo: &Repository, dir: &Path, id: &bulwark_core::engine::repo::ChunkId) {
    let index = repo.load_index().await.unwrap();
    let (pack, at) = index.get(id).unwrap();
    let path = dir.join(bulwark_core::engine::repo::format::pack_key(&pack.to_string()));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[at.offset as usize + at.length as usize / 2] ^= 0x10;
    std::fs::write(&path, bytes).unwrap();
}

fn damage_marks(dir: &Path) -> usize {
    walkdir(&dir.join("damaged"))
}

fn walkdir(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries.map(|e| e.unwrap().path()).map(|p| if p.is_dir() { walkdir(&p) } else { 1 }).sum()
    })
}

/// A damaged blob used to be reused forever: a backup of the same content found it in the index
/// and wrote nothing, so every later snapshot was born damaged. The restore that meets it marks
/// the copy; the next backup of the same data stores a fresh one, which every snapshot then
/// restores from; `check` reports the older snapshot healed; prune drops the damaged copy and
/// its mark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_blob_is_stored_again_by_the_next_backup() {
    let (repo, dir, a, b) = two_snapshots().await;
    let Content::Stream { chunks, .. } = repo.snapshot(&a).await.unwrap().content else { panic!("stream") };
    damage_blob(&repo, &dir, &chunks[0].parse().unwrap()).await;
    assert!(matches!(restore_bytes(&repo, &a).await, Err(RepoError::DataUnavailable { .. })));
    assert_eq!(damage_marks(&dir), 1, "the restore marked the copy it could not open");

    let again = backup_bytes(&repo, noise(10, 400_000)).await;
    assert_eq!(again.summary.new_chunks, 1, "only the damaged blob is stored again: {:?}", again.summary);
    assert_eq!(restore_bytes(&repo, &again.id).await.unwrap(), noise(10, 400_000), "the new snapshot is born whole");
    assert_eq!(restore_bytes(&repo, &a).await.unwrap(), noise(10, 400_000), "the old snapshot restores from the fresh copy");
    let report = check(&repo, true).await.unwrap();
    assert!(report.is_ok() && report.affected_snapshots.is_empty(), "{report:?}");
    assert!(report.healed_snapshots.contains(&a) && !report.healed_snapshots.contains(&b), "{report:?}");
    assert_eq!(report.healed.len(), 1, "{report:?}");

    let pruned = bulwark_core::engine::repo::prune::prune(&repo, false).await.unwrap();
    // Rewritten without the damaged copy, or deleted if that copy was all it held in use.
    assert_eq!((pruned.packs_repacked + pruned.packs_deleted, pruned.damage_marks_cleared), (1, 1), "{pruned:?}");
    assert_eq!(damage_marks(&dir), 0);
    let clean = check(&repo, true).await.unwrap();
    assert!(clean.is_ok() && clean.healed.is_empty() && clean.damaged_packs.is_empty(), "{clean:?}");
    for (id, seed) in [(&a, 10), (&b, 20), (&again.id, 10)] {
        assert_eq!(restore_bytes(&repo, id).await.unwrap(), noise(seed, 400_000));
    }
}

/// `check --read-data` marks what it finds too, and a tree's next backup heals a damaged file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_marks_damage_and_a_tree_backup_heals_it() {
    let (repo, dir) = new_repo().await;
    let source = temp_dir("heal-src");
    sample_tree(&source);
    let first = bulwark_core::engine::source::filesystem::backup_tree(&repo, &source, BackupOptions::default()).await.unwrap();
    let index = repo.load_index().await.unwrap();
    let big = bulwark_core::engine::repo::tree::find_file(&repo, &index, &first, "big.bin").await.unwrap();
    damage_blob(&repo, &dir, &big.chunks[1].parse().unwrap()).await;
    let report = check(&repo, true).await.unwrap();
    assert_eq!(report.affected_snapshots, vec![first.id.clone()]);
    assert_eq!(damage_marks(&dir), 1);

    let second = bulwark_core::engine::source::filesystem::backup_tree(&repo, &source, BackupOptions::default()).await.unwrap();
    assert_eq!(second.summary.new_chunks, 1, "{:?}", second.summary);
    let report = check(&repo, true).await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.healed_snapshots, {
        let mut both = vec![first.id.clone(), second.id.clone()];
        both.sort();
        both
    });
    for snapshot in [&first, &second] {
        let target = temp_dir("heal-dst");
        let index = Arc::new(repo.load_index().await.unwrap());
        restore::restore_tree(&repo, index, snapshot, &target, &restore::RestoreOptions::default()).await.unwrap();
        assert_eq!(describe(&target), describe(&source));
    }
}

/// A restore used to stop at the first damaged file: the healthy files still queued were not
/// written, nor directory modes and symlinks applied. Asked to, it restores everything it can
/// read, a damaged directory listing included, and names each file and directory it could not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_can_skip_what_it_cannot_read() {
    let (repo, dir) = new_repo().await;
    let source = temp_dir("skip-src");
    sample_tree(&source);
    write(&source.join("broken.bin"), &noise(41, 300_000));
    let tree = bulwark_core::engine::source::filesystem::backup_tree(&repo, &source, BackupOptions::default()).await.unwrap();
    let index = repo.load_index().await.unwrap();
    let broken = bulwark_core::engine::repo::tree::find_file(&repo, &index, &tree, "broken.bin").await.unwrap();
    let nested = bulwark_core::engine::repo::tree::list_dir(&repo, &index, &tree, "nested").await.unwrap();
    let listing = &nested.iter().find(|n| n.path == "nested/a").unwrap().chunks[0];
    damage_blob(&repo, &dir, &broken.chunks[0].parse().unwrap()).await;
    damage_blob(&repo, &dir, &listing.parse().unwrap()).await;

    let index = Arc::new(repo.load_index().await.unwrap());
    let stopped = restore::restore_tree(&repo, index.clone(), &tree, &temp_dir("skip-stop"), &restore::RestoreOptions::default()).await;
    assert!(matches!(stopped, Err(RepoError::DataUnavailable { .. })), "{stopped:?}");

    let target = temp_dir("skip-dst");
    let options = restore::RestoreOptions { skip_unreadable: true, ..Default::default() };
    let summary = restore::restore_tree(&repo, index, &tree, &target, &options).await.unwrap();
    assert_eq!(summary.unreadable.len(), 2, "{:?}", summary.unreadable);
    assert!(summary.unreadable[0].starts_with("broken.bin: "), "{:?}", summary.unreadable);
    assert!(summary.unreadable[1].starts_with("nested/a/: its listing cannot be read"), "{:?}", summary.unreadable);
    let expected: Vec<_> = describe(&source).into_iter().filter(|(path, ..)| path != "broken.bin" && !path.starts_with("nested/a/")).collect();
    assert_eq!(describe(&target), expected, "every readable file, directory mode and symlink is in place");
}

mod chunker {
    use proptest::prelude::*;

    fn chunks(data: &[u8]) -> Vec<Vec<u8>> {
        fastcdc::v2020::StreamCDC::with_level_and_seed(data, 64 * 1024, 256 * 1024, 1024 * 1024, fastcdc::v2020::Normalization::Level1, 42)
            .map(|c| c.unwrap().data)
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]
        #[test]
        fn chunks_cover_the_input_within_bounds(seed in any::<u64>(), len in 0usize..3_000_000) {
            let data = super::noise(seed, len);
            let parts = chunks(&data);
            prop_assert_eq!(parts.concat(), data);
            for (i, p) in parts.iter().enumerate() {
                prop_assert!(p.len() <= 1024 * 1024);
                prop_assert!(p.len() >= 64 * 1024 || i + 1 == parts.len());
            }
        }

        #[test]
        fn an_insert_only_changes_nearby_chunks(seed in any::<u64>(), at in 0usize..2_000_000, insert in proptest::collection::vec(any::<u8>(), 1..100)) {
            let data = super::noise(seed, 2_500_000);
            let mut changed = data.clone();
            changed.splice(at..at, insert);
            let (a, b) = (chunks(&data), chunks(&changed));
            let shared = a.iter().filter(|c| b.contains(c)).count();
            prop_assert!(a.len() - shared <= 3, "{} of {} chunks changed", a.len() - shared, a.len());
        }
    }
}

mod lifecycle {
    use super::*;
    use bulwark_core::engine::repo::prune::{forget, prune};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn locks_exclude_expire_and_fence() {
        let (repo, dir) = new_repo().await;
        let shared = repo.lock(false).await.unwrap();
        let second_shared = repo.lock(false).await.unwrap();
        assert!(matches!(repo.lock(true).await, Err(RepoError::LockHeld(_))));
        second_shared.release().await.unwrap();
        shared.release().await.unwrap();
        let exclusive = repo.lock(true).await.unwrap();
        let err = backup::backup_stream(&repo, std::io::Cursor::new(vec![1u8; 1000]), BackupOptions::default()).await.unwrap_err();
        assert!(matches!(err, RepoError::LockHeld(ref m) if m.contains("an exclusive lock")), "{err}");
        // Fencing: a holder whose lock vanished (or expired) cannot commit.
        for entry in std::fs::read_dir(dir.join("locks")).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        assert!(matches!(exclusive.ensure_held().await, Err(RepoError::LockLost(_))));
        drop(exclusive);
        // A lock left by a dead process stops blocking once it expires (a lock attempt waits
        // two seconds for a conflicting lock to go before it gives up).
        let short = repo.clone().with_lock_ttl(4);
        let dead = short.lock(true).await.unwrap();
        dead.abandon();
        assert!(matches!(repo.lock(false).await, Err(RepoError::LockHeld(_))));
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        repo.lock(false).await.unwrap().release().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn forget_and_prune_reclaim_only_unused_data() {
        let (repo, dir) = new_repo().await;
        let a_data = noise(30, 2_000_000);
        let mut c_data = a_data[..1_000_000].to_vec();
        c_data.extend(noise(50, 500_000));
        let a = backup_bytes(&repo, a_data.clone()).await;
        let b = backup_bytes(&repo, noise(40, 800_000)).await;
        let c = backup_bytes(&repo, c_data.clone()).await;
        // A pack no index names, as a killed backup leaves behind.
        let orphan = format!("{:064x}", 7);
        std::fs::create_dir_all(dir.join("packs").join(&orphan[..2])).unwrap();
        std::fs::write(dir.join("packs").join(&orphan[..2]).join(&orphan), b"leftover").unwrap();

        let nothing = prune(&repo, true).await.unwrap();
        assert_eq!((nothing.blobs_dropped, nothing.packs_deleted), (0, 1), "{nothing:?}");
        assert_eq!(forget(&repo, &[a.id[..10].to_string()]).await.unwrap(), std::slice::from_ref(&a.id));
        let planned = prune(&repo, true).await.unwrap();
        assert!(planned.blobs_dropped > 0, "{planned:?}");
        let size_before: u64 = packs_of(&dir).iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
        let done = prune(&repo, false).await.unwrap();
        assert_eq!((done.blobs_dropped, done.packs_deleted, done.packs_repacked), (planned.blobs_dropped, planned.packs_deleted, planned.packs_repacked));
        let size_after: u64 = packs_of(&dir).iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
        assert!(size_after < size_before, "{size_before} -> {size_after}");
        assert_eq!(done.bytes_freed, size_before - size_after, "the report matches the storage");

        assert!(matches!(repo.snapshot(&a.id).await, Err(RepoError::SnapshotNotFound(_))));
        assert_eq!(restore_bytes(&repo, &b.id).await.unwrap(), noise(40, 800_000));
        assert_eq!(restore_bytes(&repo, &c.id).await.unwrap(), c_data, "shared chunks survived");
        let report = check(&repo, true).await.unwrap();
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(prune(&repo, false).await.unwrap().blobs_dropped, 0, "a second prune finds nothing");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_prune_and_backup_lose_nothing() {
        let (repo, _) = new_repo().await;
        let mut expected = Vec::new();
        for round in 0..6u64 {
            let data = noise(100 + round, 700_000);
            let (backup, pruned) = tokio::join!(backup::backup_stream(&repo, std::io::Cursor::new(data.clone()), BackupOptions::default()), prune(&repo, false));
            let backed_up = match backup {
                Ok(s) => {
                    expected.push((s.id, data));
                    true
                }
                Err(RepoError::LockHeld(_)) => false,
                Err(e) => panic!("backup failed: {e}"),
            };
            assert!(matches!(pruned, Ok(_) | Err(RepoError::LockHeld(_))), "{pruned:?}");
            assert!(backed_up || pruned.is_ok(), "of two racing writers, one always goes ahead");
        }
        let last = noise(99, 300_000);
        let s = backup::backup_stream(&repo, std::io::Cursor::new(last.clone()), BackupOptions::default()).await.unwrap();
        expected.push((s.id, last));
        prune(&repo, false).await.unwrap();
        for (id, data) in expected {
            assert_eq!(restore_bytes(&repo, &id).await.unwrap(), data);
        }
        assert!(check(&repo, true).await.unwrap().is_ok());
    }
}

mod rotation {
    use super::*;
    use bulwark_core::engine::repo::rekey::rekey;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rekey_reseals_old_data_and_drops_old_keys() {
        let (mut repo, dir) = new_repo().await;
        let a = backup_bytes(&repo, noise(61, 900_000)).await;
        repo.rotate_data_key().await.unwrap();
        let b = backup_bytes(&repo, noise(62, 900_000)).await;
        let report = rekey(&mut repo).await.unwrap();
        assert_eq!(report.keys_dropped, [1]);
        assert!(report.blobs_resealed > 0 && report.snapshots_resealed == 1, "{report:?}");
        let reopened = Repository::open(Arc::new(LocalStorage::new(&dir)), &pass()).await.unwrap();
        assert_eq!(reopened.keyring().data_keys.keys().copied().collect::<Vec<_>>(), [2]);
        assert_eq!(restore_bytes(&reopened, &a.id).await.unwrap(), noise(61, 900_000));
        assert_eq!(restore_bytes(&reopened, &b.id).await.unwrap(), noise(62, 900_000));
        assert!(check(&reopened, true).await.unwrap().is_ok());
    }

    /// Rekey sliced a fetched pack at the index's offsets unchecked: over a truncated pack it
    /// panicked. It reports the pack damaged now, and the repository is left as it was.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rekey_over_a_truncated_pack_reports_it() {
        let (mut repo, dir) = new_repo().await;
        let a = backup_bytes(&repo, noise(63, 900_000)).await;
        repo.rotate_data_key().await.unwrap();
        let pack = pack_of(&repo, &dir, &a.id).await;
        let bytes = std::fs::read(&pack).unwrap();
        std::fs::write(&pack, &bytes[..bytes.len() / 3]).unwrap();
        let err = rekey(&mut repo).await.unwrap_err();
        assert!(matches!(&err, RepoError::Damaged(why) if why.contains("shorter than its index says")), "{err}");
        std::fs::write(&pack, &bytes).unwrap();
        assert_eq!(restore_bytes(&repo, &a.id).await.unwrap(), noise(63, 900_000));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn master_key_rotation_rewrites_no_data() {
        let (mut repo, dir) = new_repo().await;
        let s = backup_bytes(&repo, noise(70, 500_000)).await;
        repo.add_key(&Secret::Passphrase("second holder".into())).await.unwrap();
        let packs_before: Vec<_> = packs_of(&dir);
        let new = Secret::Passphrase("after rotation".into());
        let rotation = repo.rotate_master_key(&new).await.unwrap();
        assert_eq!(rotation.removed_key_ids.len(), 2);
        assert_eq!(packs_of(&dir), packs_before, "no data rewritten");
        let storage = || -> Arc<dyn Storage> { Arc::new(LocalStorage::new(&dir)) };
        assert!(matches!(Repository::open(storage(), &pass()).await, Err(RepoError::NoKeyOpened(_))));
        let reopened = Repository::open(storage(), &new).await.unwrap();
        assert_eq!(restore_bytes(&reopened, &s.id).await.unwrap(), noise(70, 500_000));
    }
}

/// The files `tests/fixtures/repo-v1` holds a backup of (written by the last Bulwark whose
/// repositories were version 1): regenerated here byte for byte.
fn v1_fixture_files(dir: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let files = vec![
        ("a.txt", (0..20_000).map(|i| format!("line {i}\n")).collect::<String>().into_bytes()),
        ("big.bin", (0..1_500_000u64).map(|i| ((i * i + 7 * i) % 251) as u8).collect()),
        ("sub/c.txt", b"hello v1\n".to_vec()),
    ];
    for (name, bytes) in &files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    files
}

/// A version-1 repository (HMAC-SHA256 chunk ids) restores, deduplicates and checks as it
/// always did; `init` writes version 2 (keyed BLAKE3 ids), whose ids for the same bytes differ;
/// a version this code does not know is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_repository_keeps_its_ids_and_new_ones_are_version_2() {
    let dir = temp_dir("repo-v1");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/repo-v1");
    let copy = std::process::Command::new("cp").arg("-r").arg(format!("{}/.", fixture.display())).arg(&dir).status().unwrap();
    assert!(copy.success());
    let storage: Arc<dyn Storage> = Arc::new(LocalStorage::new(&dir));
    let repo = Repository::open(storage, &Secret::Passphrase("v1-fixture-passphrase".into())).await.unwrap();
    assert_eq!(repo.config().version, 1);
    let source = temp_dir("repo-v1-source");
    let files = v1_fixture_files(&source);

    // The tree restores byte for byte, the stream too.
    let index = Arc::new(repo.load_index().await.unwrap());
    let tree = repo.snapshot("7b88ff00c4b92f0444eacca4ea94574ba564f7b85ffe8814918aac646533df08").await.unwrap();
    let target = temp_dir("repo-v1-restore");
    restore::restore_tree(&repo, index.clone(), &tree, &target, &restore::RestoreOptions::default()).await.unwrap();
    for (name, bytes) in &files {
        assert_eq!(&std::fs::read(target.join(name)).unwrap(), bytes, "{name}");
    }
    let big = &files[1].1;
    assert_eq!(&restore_bytes(&repo, "debfafcff20379d32feb5dfa31fcefc6f11f4aa54918acb8f00f7288f681b2fb").await.unwrap(), big);
    // The same files again store no data again, only their directory listings (their times
    // differ here): their ids are still HMAC-SHA256.
    let again = bulwark_core::engine::source::filesystem::backup_tree(&repo, &source, BackupOptions::default()).await.unwrap();
    assert!(again.summary.new_bytes < 4096, "{:?}", again.summary);
    assert!(check(&repo, true).await.unwrap().is_ok());

    // A new repository is version 2: the same bytes get other ids, and round-trip.
    let (fresh, fresh_dir) = new_repo().await;
    assert_eq!(fresh.config().version, 2);
    assert_ne!(fresh.chunk_id(big), repo.chunk_id(big));
    let s = backup_bytes(&fresh, big.clone()).await;
    assert_eq!(&restore_bytes(&fresh, &s.id).await.unwrap(), big);
    let t = bulwark_core::engine::source::filesystem::backup_tree(&fresh, &source, BackupOptions::default()).await.unwrap();
    let fresh_target = temp_dir("repo-v2-restore");
    restore::restore_tree(&fresh, Arc::new(fresh.load_index().await.unwrap()), &t, &fresh_target, &restore::RestoreOptions::default()).await.unwrap();
    for (name, bytes) in &files {
        assert_eq!(&std::fs::read(fresh_target.join(name)).unwrap(), bytes, "{name}");
    }
    assert!(check(&fresh, true).await.unwrap().is_ok());

    // A version from the future is refused, naming what this code reads.
    let config = std::fs::read_to_string(fresh_dir.join("config")).unwrap().replace("\"version\":2", "\"version\":3");
    std::fs::write(fresh_dir.join("config"), config).unwrap();
    let refused = Repository::open(Arc::new(LocalStorage::new(&fresh_dir)), &pass()).await.unwrap_err();
    assert!(matches!(refused, RepoError::UnsupportedVersion(3)), "{refused}");
    assert!(refused.to_string().contains("versions 1 to 2"), "{refused}");
}
