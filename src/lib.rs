//! Bulwark core: everything the console, the REST API and the CLI share.
//!
//! No web framework types live here. Each module owns one concern and one error enum
//! (see [`error`] for the policy); authorization is checked here, so no door can skip it.

pub mod accounts;
pub mod alerts;
pub mod audit;
pub mod audit_anchor;
pub mod auth;
pub mod blocking;
pub mod catalog;
pub mod child;
pub mod config_files;
pub mod configurations;
pub mod error;
pub mod events;
pub mod executions;
pub mod jobs;
pub mod locations;
pub mod orchestration;
pub mod overview;
pub mod rebuild;
pub mod replicate;
pub mod repo;
pub mod schedule;
pub mod restores;
pub mod retention;
pub mod secrets;
pub mod sessions;
pub mod source;
pub mod storage;
pub mod testing;
pub mod time;
pub mod verify;
pub mod wal_archive;
