//! What every feature stands on: the catalog and its time, who may do what and the accounts
//! behind it, the audit log, sealed secrets, browser sessions, the job queue and the events
//! outbox, and the helpers for child processes and blocking work.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod blocking;
pub mod catalog;
pub mod child;
pub mod events;
pub mod jobs;
pub mod secrets;
pub mod sessions;
pub mod time;
