//! Bulwark's shared vocabulary: what the core stores and the console shows, in one definition
//! that builds for the server and for the browser (wasm). Renaming a variant here fails to
//! compile on both sides instead of a page silently showing nothing.

mod execution;
mod json_text;
mod source_kind;
mod status;
mod text_enum;

pub use execution::{Execution, Progress};
pub use source_kind::SourceKind;
pub use status::{AlertType, ExecutionStatus, Severity};
