//! Work on tokio's blocking pool, awaited from async code.

use std::future::Future;

/// Runs `f` on the blocking pool, started now rather than when first awaited: callers often
/// feed it through a bounded channel before they await its result, and a thread that has not
/// started never drains it. A panic in `f` resumes in the awaiting task. If the runtime shuts
/// down before `f` runs, the future never resolves: its task is being dropped with the runtime,
/// and there is no result to give it.
pub fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> impl Future<Output = T> + Send {
    let task = tokio::task::spawn_blocking(f);
    async move {
        match task.await {
            Ok(value) => value,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => std::future::pending().await,
        }
    }
}
