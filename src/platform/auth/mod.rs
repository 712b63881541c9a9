//! Who may do what: roles and the authenticated principal. The accounts behind principals
//! (users, passwords, API tokens, second factors, setup links) are `crate::platform::accounts`.
//!
//! Every operation that changes state takes the acting [`Principal`] and checks its role here,
//! so the console, the REST API and the CLI cannot disagree about permissions.

use serde::{Deserialize, Serialize};

use crate::platform::catalog::CatalogError;
use crate::error::{Classify, Kind};

/// Roles rise in power in declaration order: each includes everything the one before may do.
pub use bulwark_types::Role;

/// A role by its name, or an error that lists the names.
pub fn role_named(text: &str) -> Result<Role, AuthError> {
    Role::parse(text).ok_or_else(|| AuthError::Invalid(format!("unknown role {text:?}: use viewer, operator, approver or admin")))
}

/// The authenticated actor of a request: a logged-in user, or a user acting through an API
/// token (whose role may be lower than the user's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub user_id: String,
    pub username: String,
    pub role: Role,
    /// Set when the request came with an API token.
    pub token_id: Option<String>,
    /// A narrow token's one permission ([`crate::platform::accounts::tokens::WAL_PUSH_SCOPE`]); such a principal passes no
    /// [`Principal::require`], whatever its role.
    #[serde(default)]
    pub scope: Option<String>,
}

impl Principal {
    /// Bulwark itself, acting on its own schedule (the retention cleanup): an admin with no
    /// user behind it, named in the audit log as `name`.
    pub fn system(name: &str) -> Principal {
        Principal { user_id: String::new(), username: name.to_string(), role: Role::Admin, token_id: None, scope: None }
    }

    /// Fails with [`AuthError::Forbidden`] unless the principal has at least `role`, and with
    /// [`AuthError::OutOfScope`] for a narrow token (it may do only its one thing).
    pub fn require(&self, role: Role) -> Result<(), AuthError> {
        if let Some(scope) = &self.scope {
            return Err(AuthError::OutOfScope(scope.clone()));
        }
        if self.role >= role {
            Ok(())
        } else {
            Err(AuthError::Forbidden { needed: role, have: self.role })
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("wrong username or password")]
    BadCredentials,
    #[error("this account is disabled")]
    Disabled,
    #[error("missing, unknown, expired or revoked credentials")]
    Unauthenticated,
    #[error("this needs the {} role; you have {}", needed.as_str(), have.as_str())]
    Forbidden { needed: Role, have: Role },
    #[error("this token may only do {0}")]
    OutOfScope(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The password was right; the account also needs its authenticator code.
    #[error("enter the code from your authenticator app")]
    SecondFactorNeeded,
    #[error("wrong or already used authentication code")]
    WrongCode,
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("second factor: {0}")]
    Secret(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl From<sqlx::Error> for AuthError {
    fn from(e: sqlx::Error) -> Self {
        AuthError::Catalog(CatalogError::Query(e))
    }
}

impl Classify for AuthError {
    fn kind(&self) -> Kind {
        match self {
            AuthError::BadCredentials | AuthError::Unauthenticated | AuthError::Disabled | AuthError::SecondFactorNeeded | AuthError::WrongCode => Kind::Unauthenticated,
            AuthError::Forbidden { .. } | AuthError::OutOfScope(_) => Kind::Forbidden,
            AuthError::Invalid(_) => Kind::Invalid,
            AuthError::NotFound(_) => Kind::NotFound,
            AuthError::Conflict(_) => Kind::Conflict,
            AuthError::Hashing(_) | AuthError::Secret(_) => Kind::Internal,
            AuthError::Catalog(e) => e.kind(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_required() {
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Approver && Role::Approver < Role::Admin);
        let p = Principal { user_id: "u".into(), username: "v".into(), role: Role::Operator, token_id: None, scope: None };
        assert!(p.require(Role::Viewer).is_ok());
        assert!(p.require(Role::Operator).is_ok());
        assert!(matches!(p.require(Role::Admin), Err(AuthError::Forbidden { .. })));
        assert_eq!(role_named("approver").unwrap(), Role::Approver);
        assert!(role_named("root").is_err());
    }
}
