//! The console's server functions, one module per resource: thin doors into the core that
//! find the principal, call one core operation and answer in `bulwark_types`' vocabulary
//! (re-exported here, so pages import only `api` and `components`).
//!
//! Every function has an explicit endpoint under `/_sfn/`: its URL does not change when the
//! function moves.

pub mod account;
pub mod alerts;
pub mod audit;
pub mod configurations;
pub mod cost;
pub mod executions;
pub mod jobs;
pub mod locations;
pub mod monitoring;
pub mod notifications;
pub mod overview;
pub mod recovery;
pub mod replication;
pub mod restore_tests;
pub mod restoration;
pub mod restores;
pub mod retention;
pub mod session;
pub mod setup;
pub mod snapshots;
pub mod users;

pub use bulwark_types::human_bytes;

pub use crate::error::AppError;
