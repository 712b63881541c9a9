//! The command line. Exit codes are public API (see docs/OPERATIONS.md):
//! 0 success, 1 failure, 2 usage error (clap), 3 invalid input, 4 conflict (e.g. the user
//! exists), 5 catalog unreachable or failing.

use std::io::BufRead;

use bulwark_core::audit;
use bulwark_core::auth::users::{self, NewUser};
use bulwark_core::auth::{AuthError, Role, setup};
use bulwark_core::catalog::Catalog;
use bulwark_core::error::{Classify, Kind};
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
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the audit log's hash chain; exits 1 if it is broken.
    Verify,
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).map_err(|e| e.to_string())
}

/// Exit status for a core error, by kind.
pub fn exit_code(kind: Kind) -> i32 {
    match kind {
        Kind::Invalid | Kind::Unauthenticated | Kind::Forbidden | Kind::NotFound | Kind::RateLimited => 3,
        Kind::Conflict => 4,
        Kind::Internal => 5,
    }
}

/// Outcome of a CLI command: a message for the user and the exit code.
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl<E: Classify + std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure { code: exit_code(e.kind()), message: e.to_string() }
    }
}

pub async fn migrate(catalog: &Catalog) -> Result<(), Failure> {
    catalog.migrate().await?;
    println!("The catalog is up to date.");
    Ok(())
}

pub async fn user(catalog: &Catalog, command: UserCommand) -> Result<(), Failure> {
    match command {
        UserCommand::Add { username, admin, role, password_stdin, url } => {
            let role = if admin { Role::Admin } else { role };
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).map_err(|e| Failure { code: 3, message: format!("cannot read the password: {e}") })?;
                Some(line.trim_end_matches(['\r', '\n']).to_string())
            } else {
                None
            };
            let has_password = password.is_some();
            let user = users::create_from_cli(catalog, NewUser { username, password, role }).await?;
            println!("Added {} with the {} role.", user.username, user.role);
            if !has_password {
                let secret = setup::password_link(catalog, &user.username).await?;
                println!(
                    "They set their password with this one-time link (valid {} hours):\n  {}/setup?token={secret}",
                    setup::SETUP_LINK_HOURS,
                    url.trim_end_matches('/')
                );
            }
            Ok(())
        }
    }
}

pub async fn audit(catalog: &Catalog, command: AuditCommand) -> Result<(), Failure> {
    match command {
        AuditCommand::Verify => {
            let report = audit::verify(catalog).await.map_err(AuthError::from)?;
            match report.first_broken_seq {
                None => {
                    println!("The audit chain is intact: {} entries verified.", report.rows);
                    Ok(())
                }
                Some(seq) => Err(Failure { code: 1, message: format!("the audit chain is broken at entry {seq}") }),
            }
        }
    }
}
