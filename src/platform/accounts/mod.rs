//! The accounts behind principals: users and their passwords, API tokens, second factors and
//! one-time setup links. Every change is audited; who may make it is `crate::platform::auth`.

mod password;
pub mod secret;
pub mod setup;
pub mod tokens;
pub mod totp;
pub mod users;

pub use password::{hash_password, verify_password};
