//! One module per console page.

pub mod account;
pub mod alerts;
pub mod approvals;
pub mod audit;
pub mod configuration;
pub mod configurations;
pub mod cost;
pub mod dashboard;
pub mod disaster_recovery;
pub mod execution;
pub mod floor;
pub mod jobs;
pub mod legal_holds;
pub mod login;
pub mod not_found;
pub mod recovery;
pub mod replication;
pub mod restoration;
pub mod retention;
pub mod second_factor;
pub mod section;
pub mod setup;
pub mod snapshots;
pub mod storage;
pub mod testing;
pub mod users;
