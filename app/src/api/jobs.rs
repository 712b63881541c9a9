//! The work queue.

use leptos::prelude::*;

pub use bulwark_types::{JobLine, JobState};

use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "list_jobs")]
pub async fn list_jobs(state: String) -> Result<Vec<JobLine>, AppError> {
    let p = crate::ssr::principal().await?;
    let state = Some(state.as_str()).filter(|s| !s.is_empty());
    bulwark_core::platform::jobs::list(&crate::ssr::catalog()?, &p, state, 200).await.map_err(AppError::from_core)
}
