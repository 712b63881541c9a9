//! The command line. Exit codes are public API (docs/OPERATIONS.md):
//! 0 success, 1 failure, 2 usage error (clap), 3 invalid input, 4 conflict (e.g. the user
//! exists), 5 catalog unreachable or failing, 10 no repository at the location, 11 wrong
//! passphrase or key file, 12 the repository is locked (or this process lost its lock), 13
//! damaged or missing repository data.

mod admin;
mod repo;

pub use admin::{audit, catalog, migrate, user};
pub use repo::{RepoArgs, RepoCommand, run_repo};

use bulwark_core::platform::auth::Role;
use bulwark_core::error::{Classify, Kind};
use bulwark_core::engine::repo::RepoError;
use clap::{Parser, Subcommand};

use crate::config::{CatalogArgs, ServeArgs};

#[derive(Debug, Parser)]
#[command(name = "bulwark", version, about = "Backup and disaster-recovery control plane")]
pub struct Cli {
    #[command(flatten)]
    pub catalog: CatalogArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the console and the REST API, and run background work (the default).
    Serve(ServeArgs),
    /// Apply catalog migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Work with a backup repository directly (init, backup, restore, snapshots, check, keys).
    Repo(RepoArgs),
    /// Repair the catalog from the repositories.
    #[command(subcommand)]
    Catalog(CatalogCommand),
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Recreate executions (and missing configurations, and WAL rows) from every storage
    /// location whose repository is attached (console: the location's page; API: POST
    /// …/storage-locations/{id}/attach with the recovery kit's key file). Prints what it added;
    /// running it again adds nothing.
    Rebuild,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. Without --password-stdin, prints a one-time link for them to set a password.
    Add {
        username: String,
        /// Give the user the admin role (same as --role admin).
        #[arg(long)]
        admin: bool,
        #[arg(long, value_parser = parse_role, default_value = "viewer")]
        role: Role,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Base URL printed in the setup link.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
    },
    /// Create an API token of a user and print its secret (shown this once): the first token
    /// for automation, without a browser.
    Token {
        username: String,
        /// What the token is for.
        #[arg(long)]
        name: String,
        /// A role below the user's own (their role by default).
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        #[arg(long)]
        expires_in_days: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the audit log's hash chain; exits 1 if it is broken.
    Verify,
}

fn parse_role(text: &str) -> Result<Role, String> {
    bulwark_core::platform::auth::role_named(text).map_err(|e| e.to_string())
}

/// Exit status for a core error, by kind.
pub fn exit_code(kind: Kind) -> i32 {
    match kind {
        Kind::Invalid | Kind::Unauthenticated | Kind::Forbidden | Kind::NotFound | Kind::RateLimited => 3,
        Kind::Conflict => 4,
        Kind::Unavailable | Kind::Internal => 5,
        Kind::Damaged => 13,
    }
}

/// Outcome of a CLI command: a message for the user and the exit code.
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    pub fn new(code: i32, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into() }
    }

    fn classified<E: Classify + std::fmt::Display>(e: E) -> Failure {
        Failure { code: exit_code(e.kind()), message: e.to_string() }
    }
}

macro_rules! classified_failure {
    ($($t:ty),*) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Failure {
                Failure::classified(e)
            }
        }
    )*};
}

classified_failure!(
    bulwark_core::platform::auth::AuthError,
    bulwark_core::platform::audit::AuditError,
    bulwark_core::platform::catalog::CatalogError,
    bulwark_core::engine::storage::StorageError,
    bulwark_core::rebuild::RebuildError,
    bulwark_core::platform::secrets::SecretError
);

impl From<RepoError> for Failure {
    fn from(e: RepoError) -> Failure {
        let code = match &e {
            RepoError::NoRepository(_) => 10,
            RepoError::WrongSecret | RepoError::NoKeyOpened(_) => 11,
            RepoError::LockHeld(_) | RepoError::LockLost(_) => 12,
            RepoError::Damaged(_) | RepoError::DataUnavailable { .. } => 13,
            RepoError::Target(_) => 14,
            _ => exit_code(e.kind()),
        };
        Failure { code, message: e.to_string() }
    }
}

