//! The restoration workflow (issue 19): where restores may go and, as it grows, the restoration
//! jobs, their approvals, safety snapshots and rollbacks. How a restore writes is each
//! source's (`crate::sources`), through the one door `crate::sources::restore`; this module
//! decides where and whether.
//!
//! - `targets`: named restore targets per environment (a PostgreSQL server, a directory, a
//!   bucket, a data directory), their sealed secrets and a connection test that really
//!   connects.

pub mod targets;

pub use bulwark_types::{Environment, TargetType};
