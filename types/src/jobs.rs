//! The work queue every node claims from.

use serde::{Deserialize, Serialize};

use crate::text_enum::text_enum;

text_enum!(JobState, "job state" {
    Queued => "queued",
    /// Leased by a node.
    Running => "running",
    Succeeded => "succeeded",
    /// Out of attempts, or failed for good.
    Failed => "failed",
    Cancelled => "cancelled",
});

impl JobState {
    /// It will not change again.
    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::Failed | JobState::Cancelled)
    }
}

/// One job of the queue, as the catalog keeps it and the API and the Jobs page list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobLine {
    pub id: String,
    pub kind: String,
    pub state: JobState,
    pub subject_id: Option<String>,
    pub lease_owner: Option<String>,
    pub priority: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: String,
    pub last_error: Option<String>,
    pub created_at: String,
    pub finished_at: Option<String>,
}
