//! Bulwark core: everything the console, the REST API and the CLI share.
//!
//! No web framework types live here. Each module owns one concern and one error enum
//! (see [`error`] for the policy); authorization is checked here, so no door can skip it.
//!
//! - [`platform`]: what every feature stands on (the catalog, who may do what, the audit log,
//!   sealed secrets, the job queue and the events outbox);
//! - [`engine`]: the data path, sources → repository → storage;
//! - the domain modules: configurations and their executions, restores and their tests,
//!   retention, verification, replication, the WAL archive;
//! - [`orchestration`] on top: the worker pool and what runs on it.

pub mod alerts;
pub mod audit_anchor;
pub mod config_files;
pub mod configurations;
pub mod cost;
pub mod engine;
pub mod error;
pub mod executions;
pub mod health;
pub mod locations;
pub mod monitoring;
pub mod notifications;
pub mod orchestration;
pub mod overview;
pub mod recovery;
pub mod platform;
pub mod rebuild;
pub mod replicate;
pub mod restore_tests;
pub mod restoration;
pub mod restores;
pub mod sources;
pub mod retention;
pub mod schedule;
pub mod verify;
pub mod wal_archive;
