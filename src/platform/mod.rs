//! What every feature stands on: the catalog and its time, who may do what and the accounts
//! behind it, the audit log, sealed secrets, browser sessions, the job queue and the events
//! outbox, the checks of addresses Bulwark calls out to, and the helpers for child processes
//! and blocking work.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod blocking;
pub mod catalog;
pub mod child;
pub mod events;
pub mod jobs;
pub mod outbound;
pub mod secrets;
pub mod sessions;
pub mod time;

/// The files under `src/` whose code (what comes before their `#[cfg(test)]`) contains
/// `needle`, but for the file named `except`: tests that keep a whole class of defect out.
#[cfg(test)]
pub(crate) fn sources_containing(needle: &str, except: &str) -> Vec<String> {
    let mut stack = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    let mut found = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with(except) {
                let text = std::fs::read_to_string(&path).unwrap();
                if text.split("#[cfg(test)]").next().unwrap_or_default().contains(needle) {
                    found.push(path.display().to_string());
                }
            }
        }
    }
    found
}
