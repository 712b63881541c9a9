//! The `bulwark` server: configuration, the HTTP router (console, REST API, health and
//! metrics), sessions, the worker pool, and the CLI subcommands.

pub mod api;
pub mod cli;
pub mod config;
pub mod console_access;
pub mod headers;
pub mod ops;
pub mod router;
pub mod security;
pub mod serve;
pub mod session_store;
pub mod state;
pub mod throttle;
