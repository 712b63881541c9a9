//! Unpacks a tar stream (a `pg_basebackup` base backup) into a new directory as it is
//! restored, without a `tar` process: the restored chunks (hundreds of KiB each) are written
//! as they come, where `tar` would copy through a pipe in 10 KiB blocks, which made unpacking
//! the slowest step of a physical restore.
//!
//! It reads what `pg_basebackup` writes: ustar headers (name + prefix), sizes in octal or
//! base-256, regular files, directories and symbolic links. It refuses absolute paths, `..`,
//! entries below a symbolic link it created, and anything that already exists.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::engine::storage::direct::{AlignedBuffer, DirectFile};

const BLOCK: usize = 512;

enum State {
    Header,
    /// Inside a regular file: what is left of it. Big files (PostgreSQL's segments) go around
    /// the page cache, whose copy was a third of a physical restore's CPU time.
    Data { file: DirectFile, path: PathBuf, mode: u32, size: u64, left: u64 },
    /// Inside data to skip (a file's end padding, a pax header).
    Skip(u64),
    /// After the end-of-archive block.
    End,
}

/// A `Write` that unpacks the tar written to it under `root`; call [`Untar::finish`] at the end.
pub struct Untar {
    root: PathBuf,
    state: State,
    header: Vec<u8>,
    symlinks: Vec<PathBuf>,
    /// The staging buffer of direct writes, between two big files.
    buffer: Option<AlignedBuffer>,
    /// Regular files written.
    pub files: u64,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

impl Untar {
    pub fn new(root: &Path) -> Untar {
        Untar { root: root.to_path_buf(), state: State::Header, header: Vec::with_capacity(BLOCK), symlinks: Vec::new(), buffer: None, files: 0 }
    }

    /// Checks the archive ended cleanly: not inside a file or a header.
    pub fn finish(self) -> io::Result<u64> {
        match self.state {
            State::End => Ok(self.files),
            State::Header if self.header.is_empty() => Ok(self.files),
            _ => Err(invalid("the tar stream ends in the middle of an entry".into())),
        }
    }

    /// The path of an entry below the root, refused when it could leave it.
    fn target(&self, name: &str) -> io::Result<PathBuf> {
        let relative = Path::new(name.trim_start_matches("./"));
        let mut path = self.root.clone();
        for component in relative.components() {
            match component {
                Component::Normal(part) => path.push(part),
                Component::CurDir => {}
                _ => return Err(invalid(format!("the tar entry {name:?} would leave the target directory"))),
            }
        }
        if path == self.root {
            return Ok(path);
        }
        if self.symlinks.iter().any(|link| path.starts_with(link) && path != *link) {
            return Err(invalid(format!("the tar entry {name:?} lies below a symbolic link")));
        }
        Ok(path)
    }

    fn start_entry(&mut self) -> io::Result<()> {
        let h = std::mem::take(&mut self.header);
        if h.iter().all(|&b| b == 0) {
            self.state = State::End;
            return Ok(());
        }
        let stored = octal(&h[148..156]).ok_or_else(|| invalid("a tar header has no checksum: not a tar stream".into()))?;
        let sum: u64 = h.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { u64::from(b' ') } else { u64::from(b) }).sum();
        if sum != stored {
            return Err(invalid("a tar header's checksum does not match: not a tar stream, or a damaged one".into()));
        }
        let text = |range: std::ops::Range<usize>| -> String {
            let field = &h[range];
            String::from_utf8_lossy(&field[..field.iter().position(|&b| b == 0).unwrap_or(field.len())]).into_owned()
        };
        let mut name = text(0..100);
        if &h[257..262] == b"ustar" {
            let prefix = text(345..500);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        let size = size(&h[124..136]).ok_or_else(|| invalid(format!("the tar entry {name:?} has no valid size")))?;
        let mode = octal(&h[100..108]).unwrap_or(0o600) as u32 & 0o7777;
        let padded = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        match h[156] {
            b'0' | 0 | b'7' => {
                let path = self.target(&name)?;
                let file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&path)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
                let file = DirectFile::new(file, size, self.buffer.take().unwrap_or_default());
                self.state = State::Data { file, path, mode, size, left: size };
                if size == 0 {
                    self.close_file()?;
                }
            }
            b'5' => {
                let path = self.target(&name)?;
                if path != self.root {
                    std::fs::create_dir(&path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
                }
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
                self.state = State::Skip(padded);
            }
            b'2' => {
                let path = self.target(&name)?;
                std::os::unix::fs::symlink(text(157..257), &path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
                self.symlinks.push(path);
                self.state = State::Skip(padded);
            }
            // pax extended headers: nothing pg_basebackup needs from them.
            b'x' | b'g' => self.state = State::Skip(padded),
            other => return Err(invalid(format!("the tar entry {name:?} has type {:?}, which a restore does not write", other as char))),
        }
        Ok(())
    }

    fn close_file(&mut self) -> io::Result<()> {
        if let State::Data { file, path, mode, size, .. } = std::mem::replace(&mut self.state, State::Header) {
            let failed = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
            let (file, buffer) = file.finish().map_err(failed)?;
            self.buffer = Some(buffer);
            file.set_permissions(std::fs::Permissions::from_mode(mode)).map_err(failed)?;
            self.files += 1;
            // The data is padded to whole blocks.
            let pad = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
            self.state = if pad == 0 { State::Header } else { State::Skip(pad) };
        }
        Ok(())
    }
}

impl Write for Untar {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            match &mut self.state {
                State::Header => {
                    let take = (BLOCK - self.header.len()).min(rest.len());
                    self.header.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    if self.header.len() == BLOCK {
                        self.start_entry()?;
                    }
                }
                State::Data { file, path, left, .. } => {
                    let take = (*left).min(rest.len() as u64) as usize;
                    file.write_all(&rest[..take]).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
                    *left -= take as u64;
                    rest = &rest[take..];
                    if *left == 0 {
                        self.close_file()?;
                    }
                }
                State::Skip(left) => {
                    let take = (*left).min(rest.len() as u64);
                    *left -= take;
                    rest = &rest[take as usize..];
                    if *left == 0 {
                        self.state = State::Header;
                    }
                }
                State::End => rest = &[],
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Restores a stream snapshot holding a tar into `directory` (which should be new or empty);
/// returns the bytes of the stream and the files written. The stream's SHA-256 is checked at
/// its end, as for any stream restore. Unpacking runs on a thread of its own, so writing the
/// files overlaps with opening the next chunks.
pub async fn restore_tar(
    repo: &super::Repository,
    index: std::sync::Arc<super::index::Index>,
    snapshot: &super::snapshot::Snapshot,
    directory: &Path,
) -> Result<(u64, u64), super::RepoError> {
    let target = |e: io::Error| super::RepoError::Target(e.to_string());
    // A write error stops the stream with the unpacker's own error (Background reports it).
    let (background, bytes) = super::restore::restore_stream(repo, index, snapshot, Background::new(Untar::new(directory))).await?;
    let files = background.finish().and_then(Untar::finish).map_err(target)?;
    Ok((bytes, files))
}

/// A writer moved to a thread of its own: writes are queued (up to 4 buffers) and return at
/// once; an error of the inner writer shows at the next write or at [`Background::finish`].
/// Written buffers come back for the next writes (a few are kept): a fresh one per range (up
/// to 8 MiB, each its own mapping) was faulted in page by page.
struct Background<W> {
    queue: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
    worker: Option<std::thread::JoinHandle<io::Result<W>>>,
}

impl<W: Write + Send + 'static> Background<W> {
    const QUEUED: usize = 4;
    const SPARE: usize = 2;

    fn new(inner: W) -> Background<W> {
        let (queue, buffers) = std::sync::mpsc::sync_channel::<Vec<u8>>(Self::QUEUED);
        let (give_back, spare) = std::sync::mpsc::sync_channel::<Vec<u8>>(Self::SPARE);
        let worker = std::thread::spawn(move || {
            let mut inner = inner;
            for buffer in buffers {
                inner.write_all(&buffer)?;
                // Dropped when the writer side has enough spares or is gone.
                let _ = give_back.try_send(buffer);
            }
            inner.flush()?;
            Ok(inner)
        });
        Background { queue: Some(queue), spare, worker: Some(worker) }
    }

    /// Waits for every queued write; returns the inner writer or its error.
    fn finish(mut self) -> io::Result<W> {
        drop(self.queue.take());
        match self.worker.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Err(io::Error::other("the writer already stopped")),
        }
    }
}

impl<W: Write + Send + 'static> Write for Background<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut buffer = self.spare.try_recv().unwrap_or_default();
        buffer.clear();
        buffer.extend_from_slice(buf);
        let queued = self.queue.as_ref().is_some_and(|q| q.send(buffer).is_ok());
        if queued {
            return Ok(buf.len());
        }
        // The worker stopped on an error: report it.
        drop(self.queue.take());
        match self.worker.take().map(std::thread::JoinHandle::join) {
            Some(Ok(Err(e))) => Err(e),
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            _ => Err(io::Error::other("the writer already stopped")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An octal number field (NUL or space terminated).
fn octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?.trim_matches(|c: char| c == '\0' || c == ' ');
    if text.is_empty() { Some(0) } else { u64::from_str_radix(text, 8).ok() }
}

/// A size field: octal, or base-256 (high bit set) for sizes of 8 GiB and more.
fn size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        return field[1..].iter().try_fold(u64::from(field[0] & 0x7f), |n, &b| n.checked_mul(256).map(|n| n + u64::from(b)));
    }
    octal(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real tar from GNU tar, unpacked in odd-sized writes, gives the same files.
    #[test]
    fn unpacks_what_tar_packs_and_refuses_escapes() {
        let base = std::env::temp_dir().join(format!("bulwark-untar-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let source = base.join("src");
        std::fs::create_dir_all(source.join("base/1")).unwrap();
        std::fs::write(source.join("base/1/16384"), vec![7u8; 70_001]).unwrap();
        std::fs::write(source.join("PG_VERSION"), "15\n").unwrap();
        std::fs::write(source.join("empty"), "").unwrap();
        std::fs::set_permissions(source.join("PG_VERSION"), std::fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink("/elsewhere", source.join("link")).unwrap();
        let archive = std::process::Command::new("tar").args(["--format=ustar", "-cf", "-", "-C"]).arg(&source).arg(".").output().unwrap().stdout;
        let target = base.join("dst");
        std::fs::create_dir(&target).unwrap();
        let mut untar = Untar::new(&target);
        for piece in archive.chunks(777) {
            untar.write_all(piece).unwrap();
        }
        assert_eq!(untar.finish().unwrap(), 3);
        assert_eq!(std::fs::read(target.join("base/1/16384")).unwrap(), vec![7u8; 70_001]);
        assert_eq!(std::fs::read_to_string(target.join("PG_VERSION")).unwrap(), "15\n");
        assert_eq!(std::fs::metadata(target.join("PG_VERSION")).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(std::fs::read_link(target.join("link")).unwrap(), Path::new("/elsewhere"));

        // A truncated stream is an error, not a short file.
        let again = base.join("again");
        std::fs::create_dir(&again).unwrap();
        let mut cut = Untar::new(&again);
        cut.write_all(&archive[..archive.len() / 2]).unwrap();
        assert!(cut.finish().is_err());
        // Garbage is not a tar stream.
        let mut garbage = Untar::new(&again);
        assert!(garbage.write_all(&[1u8; 1024]).is_err());
        // Behind a thread, the unpacker's error still surfaces.
        let mut background = Background::new(Untar::new(&again));
        let sent = background.write_all(&[1u8; 1024]);
        assert!(sent.is_err() || background.finish().is_err());
        // `..` never leaves the target.
        let escape = Untar::new(&again);
        assert!(escape.target("../outside").is_err() && escape.target("/etc/passwd").is_err());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
