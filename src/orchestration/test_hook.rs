//! A test hook: `BULWARK_TEST_PAUSE_AT=before-commit` (or `after-commit`, or `after-complete`:
//! once the execution, its job and its event are recorded) makes the process stop itself with
//! SIGSTOP at that point of its first backup, so a multi-node test can take over while the node
//! is frozen there, then let it go on (SIGCONT) or kill it. Unset, it does nothing.

use std::sync::atomic::{AtomicBool, Ordering};

static PAUSED: AtomicBool = AtomicBool::new(false);

/// Stops the whole process (every thread, as a paused VM or a long GC would) at `point`, once.
pub(super) fn pause_at(point: &str) {
    if std::env::var("BULWARK_TEST_PAUSE_AT").is_ok_and(|p| p == point) && !PAUSED.swap(true, Ordering::SeqCst) {
        tracing::warn!(point, "BULWARK_TEST_PAUSE_AT: stopping this process until SIGCONT");
        // SAFETY: raise only sends a signal to this process.
        unsafe {
            libc::raise(libc::SIGSTOP);
        }
    }
}
