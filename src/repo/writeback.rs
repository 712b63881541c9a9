//! Starting the disk early on restored files.
//!
//! Why: the kernel keeps written pages in memory until a tenth of RAM is dirty or 30 seconds
//! pass, so a restore kept the disk idle while it decrypted, then waited for all of it at the
//! end (about a second per GiB here): in its own `syncfs`, or in PostgreSQL's fsync of the
//! data directory when a restored cluster starts. Asking for writeback without waiting, every
//! few MiB of a big file and at its end, lets the disk work while the next bytes are opened.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Bytes written to a file between two writeback requests.
const STEP: u64 = 8 << 20;

/// Smaller files are left to the final sync: a request per small file cost more CPU time
/// (a third of a restore of 20,000 small files) than the overlap saved.
const SMALL: u64 = 1 << 20;

/// Tracks one file being written from its start.
#[derive(Debug, Default)]
pub(crate) struct Writeback {
    /// Bytes already handed to writeback.
    started: u64,
    written: u64,
}

impl Writeback {
    /// Records `n` more bytes written to `file`; starts writeback once a step has gathered.
    pub(crate) fn wrote(&mut self, file: &File, n: usize) {
        self.written += n as u64;
        if self.written - self.started >= STEP {
            self.start(file);
        }
    }

    /// Starts writeback of what is left, once the file is complete, unless it is small.
    pub(crate) fn finish(mut self, file: &File) {
        if self.written >= SMALL {
            self.start(file);
        }
    }

    fn start(&mut self, file: &File) {
        let (offset, length) = (self.started as libc::off64_t, (self.written - self.started) as libc::off64_t);
        if length > 0 {
            // SAFETY: sync_file_range only reads the descriptor, which `file` keeps open. It
            // is a hint: a failure here (a file system without it) loses nothing, since the
            // restore's final sync reports real write errors.
            unsafe { libc::sync_file_range(file.as_raw_fd(), offset, length, libc::SYNC_FILE_RANGE_WRITE) };
        }
        self.started = self.written;
    }
}

/// Syncs a whole filesystem on a thread of its own each time another [`Flusher::STEP`] of
/// small files has been written: they get no writeback request each (see [`SMALL`]), so
/// without it the disk idled until the restore's final sync, which then took a tenth of it.
#[derive(Debug, Default)]
pub(crate) struct Flusher {
    written: AtomicU64,
    stop: AtomicBool,
}

impl Flusher {
    const STEP: u64 = 64 << 20;

    /// Records a file of `size` bytes written (big files start their own writeback).
    pub(crate) fn wrote(&self, size: u64) {
        if size < SMALL {
            self.written.fetch_add(size, Ordering::Relaxed);
        }
    }

    /// Syncs the filesystem of `dir` as steps gather, until [`Flusher::stop`].
    pub(crate) fn run(&self, dir: &File) {
        let mut synced = 0;
        while !self.stop.load(Ordering::Relaxed) {
            let written = self.written.load(Ordering::Relaxed);
            if written - synced >= Self::STEP {
                synced = written;
                // SAFETY: syncfs only reads the descriptor, which `dir` keeps open. Its errors
                // are reported by the restore's final sync.
                unsafe { libc::syncfs(dir.as_raw_fd()) };
            } else {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    }

    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
