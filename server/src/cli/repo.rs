//! `bulwark repo …`: the repository engine from the command line, without the server or
//! its catalog (what an operator uses in a disaster).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use bulwark_core::engine::repo::backup::{self, BackupOptions};
use bulwark_core::engine::repo::wal::Pushed;
use bulwark_core::engine::repo::check::{ReadData, check};
use bulwark_core::engine::repo::format::Compression;
use bulwark_core::engine::repo::keys::Secret;
use bulwark_core::engine::repo::snapshot::Content;
use bulwark_core::engine::repo::{CompressionSetting, Repository, restore};
use bulwark_core::engine::storage::Storage;
use bulwark_core::engine::storage::local::LocalStorage;
use bulwark_core::engine::storage::s3::{S3Settings, S3Storage};
use clap::{Args, Subcommand, ValueEnum};

use super::Failure;

#[derive(Debug, Args)]
pub struct RepoArgs {
    /// The repository location: a directory, or `s3://bucket/prefix` (with BULWARK_S3_ENDPOINT,
    /// AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
    #[arg(long, short = 'r', env = "BULWARK_REPOSITORY", global = true)]
    repo: Option<String>,
    /// A file whose first line is the passphrase (or set BULWARK_PASSWORD).
    #[arg(long, env = "BULWARK_PASSWORD_FILE", global = true)]
    password_file: Option<PathBuf>,
    /// A key file (64 hex characters) instead of a passphrase.
    #[arg(long, env = "BULWARK_KEY_FILE", global = true)]
    key_file: Option<PathBuf>,
    /// S3 only: lock every object but lock files for this many days (S3 Object Lock in
    /// compliance mode; the bucket must have Object Lock enabled).
    #[arg(long, env = "BULWARK_S3_OBJECT_LOCK_DAYS", global = true, value_parser = clap::value_parser!(u32).range(1..=36_500))]
    object_lock_days: Option<u32>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: RepoCommand,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompressionArg {
    Zstd,
    Gzip,
    None,
}

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Create a repository and print its recovery kit.
    Init,
    /// Back up a directory, or standard input with --stdin.
    Backup {
        /// The directory to back up.
        path: Option<PathBuf>,
        /// Back up standard input as one stream.
        #[arg(long, conflicts_with = "path")]
        stdin: bool,
        /// The name recorded for a stream.
        #[arg(long, default_value = "stdin")]
        name: String,
        #[arg(long)]
        tag: Vec<String>,
        #[arg(long, value_enum, default_value = "zstd")]
        compression: CompressionArg,
        /// zstd level, 1 to 19.
        #[arg(long, default_value_t = bulwark_core::engine::repo::DEFAULT_ZSTD_LEVEL, value_parser = clap::value_parser!(i32).range(1..=19))]
        level: i32,
    },
    /// Restore a snapshot (an id or a unique prefix of 6+ characters).
    Restore {
        /// A snapshot id (its first 6 characters or more), or `latest`.
        snapshot: String,
        /// Restore a tree into this directory (files already identical are left alone).
        #[arg(long, conflicts_with_all = ["stdout", "output"])]
        target: Option<PathBuf>,
        /// Write a stream snapshot to standard output.
        #[arg(long, conflicts_with = "output")]
        stdout: bool,
        /// Write a stream snapshot to this file (it appears only once complete and verified).
        #[arg(long, conflicts_with = "untar")]
        output: Option<PathBuf>,
        /// Unpack a stream snapshot that is a tar (a pg_basebackup base backup) into this new
        /// or empty directory, without a tar process.
        #[arg(long, conflicts_with_all = ["stdout", "target"])]
        untar: Option<PathBuf>,
        /// Restore only these paths of a tree (and what is below them).
        #[arg(long)]
        include: Vec<String>,
        /// Restore every file of a tree that can be read, list each one that cannot, and exit
        /// 13 if any could not (without it, the restore stops at the first damaged file).
        #[arg(long, requires = "target")]
        skip_unreadable: bool,
    },
    /// List snapshots.
    Snapshots,
    /// Count snapshots, packs and blobs, and the memory the index takes.
    Stats,
    /// Archive one WAL file: PostgreSQL's `archive_command = 'bulwark repo wal-push %p'`.
    /// Pushing the same file again succeeds; different bytes under an archived name exit 4.
    WalPush {
        /// The file (`%p`); its name is the WAL file name.
        path: PathBuf,
        /// Archive under this name, when several clusters archive into one repository.
        #[arg(long, default_value = "")]
        stanza: String,
    },
    /// Fetch one archived WAL file: `restore_command = 'bulwark repo wal-fetch %f %p'`.
    /// Exits 3 when the archive does not have it (the end of the archive, for PostgreSQL).
    WalFetch {
        /// The WAL file name (`%f`).
        name: String,
        /// Where to write it (`%p`); it appears only once complete.
        destination: PathBuf,
        /// The name the cluster archives under (`wal-push --stanza`).
        #[arg(long, default_value = "")]
        stanza: String,
    },
    /// Read one snapshot back whole as a restore would, writing nothing: every blob opened,
    /// every file's SHA-256 compared. Exits 13 when something cannot be restored.
    Verify {
        /// A snapshot id (its first 6 characters or more), or `latest`.
        snapshot: String,
    },
    /// Check the repository's structure; with --read-data, read and verify every byte.
    Check {
        #[arg(long)]
        read_data: bool,
        /// Read only part of the packs: `n/m` (run 1/7 to 7/7 on seven nights to read every
        /// pack once), a percentage (`10%`) or a fraction (`0.1`) chosen at random.
        #[arg(long, value_name = "SUBSET", conflicts_with = "read_data")]
        read_data_subset: Option<String>,
    },
    /// Drop snapshots (their data stays until `prune`).
    Forget {
        #[arg(required = true)]
        snapshots: Vec<String>,
    },
    /// Delete or repack the data no snapshot needs any more.
    Prune {
        /// Only report what would be freed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Manage the keys that open the repository.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Rebuild what the repository derives from its packs.
    #[command(subcommand)]
    Repair(RepairCommand),
}

#[derive(Debug, Subcommand)]
pub enum RepairCommand {
    /// Rebuild the index from the packs' own headers (a damaged or lost index file). Exits 13
    /// when a pack's header cannot be read.
    Index,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Add a key: a new passphrase (from --new-password-file) or a new key file.
    Add {
        #[arg(long, conflicts_with = "new_key_file")]
        new_password_file: Option<PathBuf>,
        /// Write a new random key file here and add it.
        #[arg(long)]
        new_key_file: Option<PathBuf>,
    },
    /// List the keys.
    List,
    /// Start sealing new data with a new data key; old data stays readable.
    RotateData,
    /// Replace the master key (no data is rewritten); every other key file is removed.
    RotateMaster {
        /// The passphrase that opens the repository afterwards.
        #[arg(long)]
        new_password_file: PathBuf,
    },
    /// Re-encrypt all data under the current data key and drop the older data keys.
    Rekey,
}

fn read_first_line(path: &PathBuf) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| Failure::new(3, format!("cannot read {}: {e}", path.display())))?;
    Ok(text.lines().next().unwrap_or_default().to_string())
}

impl RepoArgs {
    fn storage(&self) -> Result<Arc<dyn Storage>, Failure> {
        let location = self.repo.as_ref().ok_or_else(|| Failure::new(3, "give the repository with --repo or BULWARK_REPOSITORY"))?;
        if !location.starts_with("s3://") {
            if self.object_lock_days.is_some() {
                return Err(Failure::new(3, "--object-lock-days needs an s3:// repository"));
            }
            return Ok(Arc::new(LocalStorage::new(location)));
        }
        let (bucket, prefix) = S3Settings::parse_url(location)
            .ok_or_else(|| Failure::new(3, format!("{location:?} is not s3://bucket[/prefix] with a valid bucket name")))?;
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let credential = |name: &str| env(name).ok_or_else(|| Failure::new(3, format!("{name} is needed for an S3 repository")));
        let endpoint = env("BULWARK_S3_ENDPOINT");
        Ok(Arc::new(S3Storage::new(S3Settings {
            path_style: endpoint.is_some(),
            endpoint,
            region: env("AWS_REGION").unwrap_or_else(|| "us-east-1".into()),
            bucket,
            prefix,
            access_key: credential("AWS_ACCESS_KEY_ID")?,
            secret_key: credential("AWS_SECRET_ACCESS_KEY")?,
            object_lock: self.object_lock_days.map(|days| std::time::Duration::from_secs(u64::from(days) * 86_400)),
            storage_class: None,
        })))
    }

    fn secret(&self) -> Result<Secret, Failure> {
        if let Some(path) = &self.key_file {
            let text = std::fs::read_to_string(path).map_err(|e| Failure::new(3, format!("cannot read {}: {e}", path.display())))?;
            return Secret::from_key_file(&text).ok_or_else(|| Failure::new(3, format!("{} is not a key file (64 hex characters)", path.display())));
        }
        if let Some(path) = &self.password_file {
            return Ok(Secret::Passphrase(read_first_line(path)?));
        }
        match std::env::var("BULWARK_PASSWORD") {
            Ok(p) if !p.is_empty() => Ok(Secret::Passphrase(p)),
            _ => Err(Failure::new(3, "give the passphrase with BULWARK_PASSWORD or --password-file, or a --key-file")),
        }
    }

    async fn open(&self) -> Result<Repository, Failure> {
        Ok(Repository::open(self.storage()?, &self.secret()?).await?)
    }
}

fn print_json<T: serde::Serialize>(value: &T) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

pub async fn run_repo(args: RepoArgs) -> Result<(), Failure> {
    match &args.command {
        RepoCommand::Init => {
            let (_, kit) = Repository::init(args.storage()?, &args.secret()?).await?;
            if args.json {
                print_json(&kit);
            } else {
                println!("Created repository {} at {}.", kit.repository_id, kit.location);
                println!("Recovery kit (print it and keep it apart from the backups):");
                println!("  repository id: {}\n  location:      {}\n  key:           {} ({})", kit.repository_id, kit.location, kit.key_id, kit.key_kind);
                println!("  {}", kit.instructions);
            }
            Ok(())
        }
        RepoCommand::Backup { path, stdin, name, tag, compression, level } => {
            let algorithm = match compression {
                CompressionArg::Zstd => Compression::Zstd,
                CompressionArg::Gzip => Compression::Gzip,
                CompressionArg::None => Compression::None,
            };
            let repo = args.open().await?.with_compression(CompressionSetting { algorithm, level: *level });
            let snapshot = match (path, stdin) {
                (None, true) => {
                    let options = BackupOptions { source: name.clone(), tags: tag.clone(), ..Default::default() };
                    backup::backup_stream(&repo, std::io::stdin(), options).await?
                }
                (Some(path), false) => {
                    let source = std::fs::canonicalize(path).map_err(|e| Failure::new(3, format!("{}: {e}", path.display())))?;
                    let options = BackupOptions { source: source.display().to_string(), tags: tag.clone(), ..Default::default() };
                    bulwark_core::engine::source::filesystem::backup_tree(&repo, &source, options).await?
                }
                _ => return Err(Failure::new(2, "give a directory to back up, or --stdin")),
            };
            if args.json {
                print_json(&snapshot);
            } else {
                let s = &snapshot.summary;
                println!(
                    "snapshot {} saved: {} bytes read, {} new in {} of {} chunks, {} bytes stored, {} ms",
                    snapshot.id, s.bytes, s.new_bytes, s.new_chunks, s.chunks, s.stored_bytes, s.duration_ms
                );
            }
            Ok(())
        }
        RepoCommand::Restore { snapshot, target, stdout, output, include, untar, skip_unreadable } => {
            let repo = args.open().await?;
            let snapshot = repo.snapshot(snapshot).await?;
            let index = Arc::new(repo.load_index().await?);
            if let Some(directory) = untar {
                if !matches!(snapshot.content, Content::Stream { .. }) {
                    return Err(Failure::new(3, format!("snapshot {} is a directory tree: restore it with --target DIR", snapshot.id)));
                }
                std::fs::create_dir_all(directory).map_err(|e| Failure::new(5, format!("{}: {e}", directory.display())))?;
                let (bytes, files) = bulwark_core::engine::repo::untar::restore_tar(&repo, index, &snapshot, directory).await?;
                eprintln!("unpacked {files} files ({bytes} bytes of tar) into {}", directory.display());
                return Ok(());
            }
            match (&snapshot.content, target, stdout, output) {
                (Content::Tree { .. }, Some(target), false, None) => {
                    let options = restore::RestoreOptions { include: include.clone(), skip_unreadable: *skip_unreadable };
                    let summary = restore::restore_tree(&repo, index, &snapshot, target, &options).await?;
                    if args.json {
                        print_json(&summary);
                    } else {
                        println!(
                            "restored {} files, {} directories, {} symlinks ({} bytes); {} already up to date",
                            summary.files, summary.dirs, summary.symlinks, summary.bytes, summary.unchanged
                        );
                        for u in &summary.unreadable {
                            println!("not restored: {u}");
                        }
                    }
                    match summary.unreadable.len() {
                        0 => Ok(()),
                        n => Err(Failure::new(13, format!("{n} files or directories of snapshot {} could not be read and were not restored", snapshot.id))),
                    }
                }
                (Content::Stream { .. }, None, true, None) => {
                    if std::io::stdout().is_terminal() {
                        return Err(Failure::new(3, "refusing to write a binary stream to a terminal: redirect standard output"));
                    }
                    let (mut out, _) = restore::restore_stream(&repo, index, &snapshot, std::io::stdout()).await?;
                    out.flush().map_err(|e| Failure::new(1, e.to_string()))
                }
                (Content::Stream { .. }, None, false, Some(path)) => {
                    let n = restore::restore_stream_to_file(&repo, index, &snapshot, path).await?;
                    eprintln!("restored {n} bytes to {}", path.display());
                    Ok(())
                }
                (Content::Tree { .. }, ..) => Err(Failure::new(3, format!("snapshot {} is a directory tree: restore it with --target DIR", snapshot.id))),
                (Content::Stream { .. }, ..) => Err(Failure::new(3, format!("snapshot {} is a stream: restore it with --stdout or --output FILE", snapshot.id))),
            }
        }
        RepoCommand::Snapshots => {
            let repo = args.open().await?;
            let (snapshots, unreadable) = repo.snapshots_past_damage().await?;
            // Named beside the list, not instead of it; `check` exits 13 for them.
            for u in &unreadable {
                eprintln!("unreadable snapshot {}: {}", u.id, u.problem);
            }
            if args.json {
                print_json(&snapshots);
            } else {
                println!("{:<12} {:<28} {:<7} {:>14}  source", "id", "time", "kind", "bytes");
                for s in &snapshots {
                    let kind = match s.content {
                        Content::Stream { .. } => "stream",
                        Content::Tree { .. } => "tree",
                    };
                    println!("{:<12} {:<28} {:<7} {:>14}  {}", &s.id[..12], s.time, kind, s.summary.bytes, s.source);
                }
            }
            Ok(())
        }
        RepoCommand::WalPush { path, stanza } => {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            let data = std::fs::read(path).map_err(|e| Failure::new(3, format!("cannot read {}: {e}", path.display())))?;
            let pushed = args.open().await?.wal_push(stanza, &name, &data).await?;
            if args.json {
                print_json(&serde_json::json!({ "name": name, "alreadyArchived": pushed == Pushed::AlreadyArchived }));
            }
            Ok(())
        }
        RepoCommand::WalFetch { name, destination, stanza } => {
            let data = args.open().await?.wal_fetch(stanza, name).await?;
            let tmp = destination.with_extension("bulwark-partial");
            std::fs::write(&tmp, &data)
                .and_then(|_| std::fs::rename(&tmp, destination))
                .map_err(|e| Failure::new(5, format!("cannot write {}: {e}", destination.display())))?;
            Ok(())
        }
        RepoCommand::Stats => {
            let stats = args.open().await?.stats().await?;
            if args.json {
                print_json(&stats);
            } else {
                println!("snapshots      {}", stats.snapshots);
                println!("packs          {} ({} bytes)", stats.packs, stats.pack_bytes);
                println!("blobs          {}", stats.blobs);
                println!("index memory   {} bytes, {} per blob", stats.index_memory_bytes, stats.index_bytes_per_blob);
            }
            Ok(())
        }
        RepoCommand::Verify { snapshot } => {
            let repo = args.open().await?;
            let snapshot = repo.snapshot(snapshot).await?;
            let index = std::sync::Arc::new(repo.load_index().await?);
            let started = std::time::Instant::now();
            let verified = bulwark_core::engine::repo::verify::verify_snapshot(&repo, index, &snapshot).await?;
            if args.json {
                print_json(&verified);
            } else {
                let seconds = started.elapsed().as_secs_f64();
                println!(
                    "verified snapshot {}: {} files, {} bytes in {seconds:.2} s ({:.0} files/s, {:.1} MB/s)",
                    &snapshot.id[..12],
                    verified.files,
                    verified.bytes,
                    verified.files as f64 / seconds,
                    verified.bytes as f64 / seconds / 1e6
                );
                for d in &verified.damaged {
                    println!("damaged: {d}");
                }
            }
            match verified.damaged.len() {
                0 => Ok(()),
                n => Err(Failure::new(13, format!("{n} parts of snapshot {} cannot be restored", snapshot.id))),
            }
        }
        RepoCommand::Check { read_data, read_data_subset } => {
            let read = match read_data_subset {
                Some(subset) => subset.parse::<ReadData>()?,
                None => ReadData::from(*read_data),
            };
            let repo = args.open().await?;
            let started = std::time::Instant::now();
            let report = check(&repo, read).await?;
            let seconds = started.elapsed().as_secs_f64();
            if args.json {
                print_json(&report);
            } else {
                let read_back = match read {
                    ReadData::No => " (structure only)".to_string(),
                    ReadData::All => format!(", {} WAL files (all data read and verified)", report.wal_files),
                    _ => format!(", {} WAL files ({} of {} packs read and verified)", report.wal_files, report.packs_read, report.packs),
                };
                println!("checked {} snapshots, {} packs, {} blobs{read_back}", report.snapshots, report.packs, report.blobs);
                if read != ReadData::No {
                    println!("read {} bytes of packs in {seconds:.2} s ({:.1} MB/s)", report.bytes_read, report.bytes_read as f64 / seconds / 1e6);
                }
                for e in &report.errors {
                    println!("error: {e}");
                }
                for s in &report.affected_snapshots {
                    println!("affected snapshot: {s}");
                }
                for h in &report.healed {
                    println!("healed: {h}");
                }
                for s in &report.healed_snapshots {
                    println!("healed snapshot: {s} (a damaged copy of its data has a good copy)");
                }
                for w in &report.wal_windows {
                    println!("{w}");
                }
            }
            if report.is_ok() {
                Ok(())
            } else {
                Err(Failure::new(13, format!("{} problems found; {} snapshots affected", report.errors.len(), report.affected_snapshots.len())))
            }
        }
        RepoCommand::Forget { snapshots } => {
            let repo = args.open().await?;
            for id in bulwark_core::engine::repo::prune::forget(&repo, snapshots).await? {
                println!("forgot snapshot {id}");
            }
            Ok(())
        }
        RepoCommand::Prune { dry_run } => {
            let repo = args.open().await?;
            let report = bulwark_core::engine::repo::prune::prune(&repo, *dry_run).await?;
            if args.json {
                print_json(&report);
            } else {
                println!(
                    "{} {} packs, repack {}, keep {}; {} unused blobs; {} bytes freed",
                    if *dry_run { "would delete" } else { "deleted" },
                    report.packs_deleted,
                    report.packs_repacked,
                    report.packs_kept,
                    report.blobs_dropped,
                    report.bytes_freed
                );
                if report.packs_locked > 0 || report.locks_extended > 0 {
                    println!(
                        "Object Lock: {} packs ({} bytes) wait for their locks to expire; {} locks of packs in use extended",
                        report.packs_locked, report.bytes_locked, report.locks_extended
                    );
                }
                for u in &report.unreadable_snapshots {
                    println!("kept every pack: snapshot {} cannot be read ({}); forget it or put a good copy back", u.id, u.problem);
                }
            }
            Ok(())
        }
        RepoCommand::Repair(RepairCommand::Index) => {
            let repo = args.open().await?;
            let report = bulwark_core::engine::repo::repair::repair_index(&repo).await?;
            if args.json {
                print_json(&report);
            } else {
                println!("indexed {} packs ({} blobs) from their headers; replaced {} index files", report.packs, report.blobs, report.index_files_replaced);
                for kept in &report.index_files_kept {
                    println!("kept: {kept}");
                }
                for pack in &report.unreadable_packs {
                    println!("unreadable: {pack}");
                }
            }
            match report.unreadable_packs.len() {
                0 => Ok(()),
                n => Err(Failure::new(13, format!("{n} packs have unreadable headers: `bulwark repo check --read-data` names the snapshots affected"))),
            }
        }
        RepoCommand::Key(command) => {
            let mut repo = args.open().await?;
            match command {
                KeyCommand::Add { new_password_file, new_key_file } => {
                    let secret = match (new_password_file, new_key_file) {
                        (Some(path), None) => Secret::Passphrase(read_first_line(path)?),
                        (None, Some(path)) => {
                            let text = Secret::new_key_file();
                            write_private(path, &text)?;
                            Secret::from_key_file(&text).ok_or_else(|| Failure::new(1, "key file generation failed"))?
                        }
                        _ => return Err(Failure::new(2, "give --new-password-file or --new-key-file")),
                    };
                    let id = repo.add_key(&secret).await?;
                    println!("added key {id}");
                }
                KeyCommand::List => {
                    let keys = repo.list_keys().await?;
                    if args.json {
                        print_json(&keys);
                    } else {
                        for k in keys {
                            let kind = match k.kdf {
                                bulwark_core::engine::repo::keys::Kdf::Argon2id { .. } => "passphrase",
                                bulwark_core::engine::repo::keys::Kdf::Keyfile => "key file",
                            };
                            println!("{}  {:<10}  {}  {}", k.id, kind, k.created, k.hostname);
                        }
                    }
                }
                KeyCommand::RotateData => {
                    let id = repo.rotate_data_key().await?;
                    println!("new data is now sealed with data key {id}; older data keys stay for reading");
                }
                KeyCommand::RotateMaster { new_password_file } => {
                    let secret = Secret::Passphrase(read_first_line(new_password_file)?);
                    let r = repo.rotate_master_key(&secret).await?;
                    println!("new master key; key {} opens the repository", r.new_key_id);
                    for id in r.removed_key_ids {
                        println!("removed key {id} (add its holder again with `key add`)");
                    }
                }
                KeyCommand::Rekey => {
                    let r = bulwark_core::engine::repo::rekey::rekey(&mut repo).await?;
                    println!(
                        "re-sealed {} blobs in {} packs and {} manifests; dropped data keys {:?}",
                        r.blobs_resealed, r.packs_rewritten, r.snapshots_resealed, r.keys_dropped
                    );
                }
            }
            Ok(())
        }
    }
}

/// Writes a secret file readable by its owner only, refusing to overwrite one.
fn write_private(path: &PathBuf, text: &str) -> Result<(), Failure> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Failure::new(3, format!("cannot create {}: {e}", path.display())))?;
    writeln!(f, "{text}").map_err(|e| Failure::new(1, e.to_string()))
}
