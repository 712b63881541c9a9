//! People and their credentials, as the console lists them.

use serde::{Deserialize, Serialize};

use crate::text_enum::text_enum;

text_enum!(Role, "role" {
    /// Reads dashboards, configurations, executions.
    Viewer => "viewer",
    /// Also runs backups, restores into non-production targets, acknowledges alerts.
    Operator => "operator",
    /// Also signs off restores and DR runs requested by someone else.
    Approver => "approver",
    /// Also manages users, tokens of others, storage locations and the audit log.
    Admin => "admin",
});

/// The signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub username: String,
    pub role: Role,
}

impl Me {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub has_password: bool,
    pub has_second_factor: bool,
    pub last_login_at: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    pub id: String,
    pub username: String,
    pub name: String,
    pub prefix: String,
    pub role: Role,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked: bool,
}

/// A second factor being set up: shown once, to its user only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    pub secret: String,
    pub uri: String,
    /// An SVG drawn by the server from `uri` alone (no user text in it).
    pub qr_svg: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub seq: i64,
    pub occurred_at: String,
    pub actor_name: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub detail: String,
}
