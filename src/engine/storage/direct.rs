//! Writing big files around the page cache (`O_DIRECT`).
//!
//! Why: a buffered write copies every byte into page-cache pages the kernel allocates for it,
//! and on this kind of VM that copy cost 0.5 to 4 CPU-seconds per GiB (a fifth of a backup's
//! CPU time in `perf`, a third of a physical restore's), only for a sync to write the bytes to
//! disk anyway. With `O_DIRECT` the disk takes them from the process's memory.
//!
//! `O_DIRECT` wants the buffer, the file offset and the length aligned, so the bytes pass
//! through a reused aligned buffer ([`AlignedBuffer`]) and the unaligned tail of a file is
//! written through the page cache. Where the file system refuses `O_DIRECT` (tmpfs, some FUSE
//! mounts) the file is written through the page cache.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

/// Files smaller than this are written through the page cache: the copy is cheap and the
/// page cache serves the reads that often follow (index files, manifests, locks).
pub const THRESHOLD: u64 = 1 << 20;

/// Memory pages and disk sectors are 4 KiB at most on the machines Bulwark runs on.
const ALIGN: usize = 4096;

/// Bytes per direct write: the disk here takes 4 MiB writes at 1 GB/s, 1 MiB ones at 880 MB/s.
const STEP: usize = 4 << 20;

/// The aligned staging buffer of direct writes. Kept from one file to the next: a fresh one
/// costs a page fault per 4 KiB.
pub struct AlignedBuffer {
    bytes: Vec<u8>,
    start: usize,
}

impl Default for AlignedBuffer {
    fn default() -> AlignedBuffer {
        let bytes = vec![0; STEP + ALIGN];
        let start = bytes.as_ptr().align_offset(ALIGN);
        AlignedBuffer { bytes, start }
    }
}

impl AlignedBuffer {
    fn get(&mut self) -> &mut [u8] {
        &mut self.bytes[self.start..self.start + STEP]
    }
}

/// A new, empty file written sequentially: around the page cache from [`THRESHOLD`] bytes up,
/// through it below that or where its file system refuses. Call [`DirectFile::finish`] to
/// write the last bytes.
pub struct DirectFile {
    file: File,
    buffer: AlignedBuffer,
    /// Bytes staged in `buffer`.
    staged: usize,
    direct: bool,
}

impl DirectFile {
    /// `file` is to receive `size` bytes.
    pub fn new(file: File, size: u64, buffer: AlignedBuffer) -> DirectFile {
        let direct = size >= THRESHOLD && set_direct(&file, true).is_ok();
        DirectFile { file, buffer, staged: 0, direct }
    }

    pub fn write_all(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        if !self.direct {
            return self.file.write_all(data);
        }
        while !data.is_empty() {
            let take = (STEP - self.staged).min(data.len());
            self.buffer.get()[self.staged..self.staged + take].copy_from_slice(&data[..take]);
            self.staged += take;
            data = &data[take..];
            if self.staged == STEP {
                self.write_staged(STEP)?;
            }
        }
        Ok(())
    }

    /// Writes the first `len` staged bytes (a multiple of [`ALIGN`]) and keeps the rest.
    fn write_staged(&mut self, len: usize) -> std::io::Result<()> {
        let buffer = &mut self.buffer.bytes[self.buffer.start..self.buffer.start + self.staged];
        match self.file.write_all(&buffer[..len]) {
            Ok(()) => {}
            // The file system took the flag but not the write: go through the page cache.
            Err(e) if e.kind() == ErrorKind::InvalidInput && self.direct => {
                self.direct = false;
                set_direct(&self.file, false)?;
                self.file.write_all(&buffer[..len])?;
            }
            Err(e) => return Err(e),
        }
        buffer.copy_within(len.., 0);
        self.staged -= len;
        Ok(())
    }

    /// Writes what is staged (its unaligned tail through the page cache); returns the file,
    /// no longer in direct mode, and the buffer for the next file.
    pub fn finish(mut self) -> std::io::Result<(File, AlignedBuffer)> {
        let aligned = self.staged / ALIGN * ALIGN;
        if aligned > 0 {
            self.write_staged(aligned)?;
        }
        if self.direct {
            set_direct(&self.file, false)?;
        }
        self.file.write_all(&self.buffer.get()[..self.staged])?;
        Ok((self.file, self.buffer))
    }
}

/// Turns `O_DIRECT` on or off for an open file.
fn set_direct(file: &File, on: bool) -> std::io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: F_GETFL and F_SETFL only read and set the flags of the descriptor `file` keeps
    // open; a file system without O_DIRECT makes F_SETFL fail with EINVAL.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let flags = if on { flags | libc::O_DIRECT } else { flags & !libc::O_DIRECT };
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

thread_local! {
    static BUFFER: std::cell::RefCell<Option<AlignedBuffer>> = const { std::cell::RefCell::new(None) };
}

/// Creates `path` (which must not exist) holding `data`, readable by its owner only (a
/// repository object), and syncs it to disk.
pub fn create_synced(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let created = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    let mut file = DirectFile::new(created, data.len() as u64, BUFFER.take().unwrap_or_default());
    file.write_all(data)?;
    let (file, buffer) = file.finish()?;
    BUFFER.set(Some(buffer));
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_byte_whatever_the_length() {
        let dir = std::env::temp_dir().join(format!("bulwark-direct-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let threshold = THRESHOLD as usize;
        // Below the threshold, exactly aligned, several steps with a tail, one byte past aligned.
        for (i, len) in [100, threshold, STEP * 2 + ALIGN * 3 + 17, threshold + 1].into_iter().enumerate() {
            let data: Vec<u8> = (0..len).map(|b| (b * 31 + i) as u8).collect();
            let path = dir.join(format!("f{i}"));
            create_synced(&path, &data).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), data, "length {len}");
            // Written in odd pieces through one buffer, the file is the same.
            let streamed = dir.join(format!("s{i}"));
            let mut file = DirectFile::new(File::create_new(&streamed).unwrap(), len as u64, AlignedBuffer::default());
            for piece in data.chunks(777_777) {
                file.write_all(piece).unwrap();
            }
            file.finish().unwrap();
            assert_eq!(std::fs::read(&streamed).unwrap(), data, "length {len}, streamed");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
