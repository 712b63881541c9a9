//! Writing a big file around the page cache (`O_DIRECT`).
//!
//! Why: a buffered write copies every byte into page-cache pages the kernel allocates for it,
//! and on this kind of VM that copy cost 0.5 to 4 CPU-seconds per GiB (a fifth of a backup's
//! CPU time in `perf`), only for the `fsync` that follows to write the bytes to disk anyway.
//! With `O_DIRECT` the disk takes them from the process's memory. `O_DIRECT` wants the
//! buffer, the file offset and the length aligned, so the bytes pass through one reused
//! aligned buffer per thread, and the unaligned tail is appended through the page cache.
//! Where the file system refuses `O_DIRECT` (tmpfs, some FUSE mounts) the write is buffered.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Files smaller than this are written through the page cache: the copy is cheap and the
/// page cache serves the reads that often follow (index files, manifests, locks).
pub const THRESHOLD: usize = 1 << 20;

/// Memory pages and disk sectors are 4 KiB at most on the machines Bulwark runs on.
const ALIGN: usize = 4096;

/// Bytes copied into the aligned buffer per write.
const STEP: usize = 4 << 20;

thread_local! {
    /// Kept between files: a fresh buffer would cost a page fault per 4 KiB.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Creates `path` (which must not exist) holding `data`, and syncs it to disk.
pub fn create_synced(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if data.len() >= THRESHOLD {
        match write_direct(path, data) {
            Ok(()) => return Ok(()),
            // The file system does not take O_DIRECT: start over through the page cache.
            Err(e) if e.kind() == ErrorKind::InvalidInput => {}
            Err(e) => return Err(e),
        }
    }
    let mut file = File::create(path)?;
    file.write_all(data)?;
    file.sync_all()
}

fn write_direct(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let aligned_len = data.len() / ALIGN * ALIGN;
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).custom_flags(libc::O_DIRECT).open(path)?;
    BUFFER.with_borrow_mut(|buffer| -> std::io::Result<()> {
        if buffer.len() < STEP + ALIGN {
            *buffer = vec![0; STEP + ALIGN];
        }
        let start = buffer.as_ptr().align_offset(ALIGN);
        let aligned = &mut buffer[start..start + STEP];
        for piece in data[..aligned_len].chunks(STEP) {
            aligned[..piece.len()].copy_from_slice(piece);
            file.write_all(&aligned[..piece.len()])?;
        }
        Ok(())
    })?;
    drop(file);
    let mut file = OpenOptions::new().append(true).open(path)?;
    file.write_all(&data[aligned_len..])?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_byte_whatever_the_length() {
        let dir = std::env::temp_dir().join(format!("bulwark-direct-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Below the threshold, exactly aligned, several steps with a tail, one byte past aligned.
        for (i, len) in [100, THRESHOLD, STEP * 2 + ALIGN * 3 + 17, THRESHOLD + 1].into_iter().enumerate() {
            let data: Vec<u8> = (0..len).map(|b| (b * 31 + i) as u8).collect();
            let path = dir.join(format!("f{i}"));
            create_synced(&path, &data).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), data, "length {len}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
