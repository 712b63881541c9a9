//! Catalog administration commands: migrate, user add, audit verify.

use std::io::BufRead;

use bulwark_core::audit_anchor;
use bulwark_core::platform::accounts::users::{self, NewUser};
use bulwark_core::platform::accounts::setup;
use bulwark_core::platform::accounts::tokens::{self, NewToken};
use bulwark_core::platform::auth::{AuthError, Principal, Role};
use bulwark_core::platform::catalog::Catalog;

use super::{AuditCommand, CatalogCommand, Failure, UserCommand};

pub async fn migrate(catalog: &Catalog) -> Result<(), Failure> {
    catalog.migrate().await?;
    println!("The catalog is up to date.");
    Ok(())
}

pub async fn user(catalog: &Catalog, command: UserCommand) -> Result<(), Failure> {
    match command {
        UserCommand::Token { username, name, role, expires_in_days } => {
            let owner = users::principal_by_name(catalog, &username).await?;
            let created = tokens::create(catalog, &owner, NewToken { name, role, expires_in_days }).await?;
            println!("{}", created.secret);
            Ok(())
        }
        UserCommand::Add { username, admin, role, password_stdin, url } => {
            let role = if admin { Role::Admin } else { role };
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).map_err(|e| Failure::new(3, format!("cannot read the password: {e}")))?;
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

pub async fn audit(catalog: &Catalog, secrets: &bulwark_core::platform::secrets::SecretBox, command: AuditCommand) -> Result<(), Failure> {
    match command {
        AuditCommand::Verify => {
            // Whoever holds the catalog and its key is its administrator.
            let report = audit_anchor::verify(catalog, secrets, &Principal::system("bulwark audit verify")).await.map_err(AuthError::from)?;
            match report.first_broken_seq {
                None => {
                    println!("The audit chain is intact: {} entries verified, {} of them under the audit key.", report.rows, report.keyed_rows);
                    Ok(())
                }
                Some(seq) => Err(Failure::new(1, format!("the audit chain is broken at entry {seq}"))),
            }
        }
    }
}

pub async fn catalog(catalog: &Catalog, secrets: &bulwark_core::platform::secrets::SecretBox, command: CatalogCommand) -> Result<(), Failure> {
    match command {
        CatalogCommand::Rebuild => {
            let actor = bulwark_core::platform::auth::Principal::system("catalog rebuild");
            let r = bulwark_core::rebuild::rebuild(catalog, secrets, &actor).await?;
            println!(
                "Rebuilt from {} locations: {} snapshots read, {} executions and {} configurations added, {} WAL files recorded.",
                r.locations, r.snapshots, r.executions_created, r.configurations_created, r.wal_files
            );
            Ok(())
        }
    }
}
