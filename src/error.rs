//! Error policy.
//!
//! - One small `thiserror` enum per module, with variants a caller branches on (not found,
//!   forbidden, conflict, invalid input) and messages a person can act on.
//! - Database failures are wrapped as `Catalog` variants: their text goes to the log, never to
//!   a client (the HTTP layer maps them to a generic 500 body).
//! - `anyhow` only at the edges: the binary and tests.
//!
//! [`Kind`] is the coarse classification every module error reports, so the HTTP layer and
//! server functions can map any of them in one place.

/// What kind of failure an error is, for mapping to HTTP status codes and CLI exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The input was malformed or failed validation (400).
    Invalid,
    /// No valid credentials (401).
    Unauthenticated,
    /// Authenticated, but the role does not allow it (403).
    Forbidden,
    /// The thing named does not exist (404).
    NotFound,
    /// The request conflicts with current state, e.g. a duplicate name (409).
    Conflict,
    /// Too many attempts (429).
    RateLimited,
    /// Backed-up data is damaged or missing: a blob that does not open, a pack gone (500, with
    /// the message: it names what is damaged, and what to do).
    Damaged,
    /// A storage location failed or could not be reached (503, with the message).
    Unavailable,
    /// A failure inside Bulwark or its catalog (500); details only in the log.
    Internal,
}

/// Implemented by every module error enum.
pub trait Classify {
    fn kind(&self) -> Kind;
}

/// An error with its causes in one line ("error sending request: connection refused"), each
/// cause left out when the text before already says it.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out = format!("{out}: {text}");
        }
        source = s.source();
    }
    out
}
