//! The job queue, read-only: what is queued, running, finished or failed on any node.

use axum::extract::State;
use bulwark_core::platform::jobs::{self, JobLine};
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{Auth, Json, Query};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    state: Option<String>,
    limit: Option<i64>,
}

/// The job queue, newest first (`state`: queued, running, succeeded, failed, cancelled).
#[utoipa::path(get, path = "/api/admin/jobs", tag = "jobs", params(ListQuery), responses((status = 200, body = Vec<JobLine>)))]
pub async fn list(State(s): State<AppState>, Auth(p): Auth, Query(q): Query<ListQuery>) -> Result<Json<Vec<JobLine>>, ApiError> {
    Ok(Json(jobs::list(&s.catalog, &p, q.state.as_deref(), q.limit.unwrap_or(100)).await?))
}
