//! Backup configurations and their executions, with a server-sent event stream of a running
//! execution's progress.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use futures_util::Stream;
use bulwark_core::configurations::{self, Configuration, ConfigurationSummary, NewConfiguration};
use bulwark_core::executions::scheduled::{self, ScheduleView};
use bulwark_core::executions::{self, Execution};
use bulwark_core::wal_archive::{self, PushReport, RecoveryWindow};
use serde::Deserialize;

use super::error::ApiError;
use super::standing::Standing;
use super::watch::{self, Watched};
use super::extract::{Auth, Json, Query};
use crate::state::AppState;

/// The seeds' shape: `{configurations: [...]}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ConfigurationList {
    configurations: Vec<ConfigurationSummary>,
}

/// Every configuration with its latest run (the seeds' list).
#[utoipa::path(get, path = "/api/admin/backups/configurations", tag = "configurations", responses((status = 200, body = ConfigurationList)))]
pub async fn list(State(s): State<AppState>, Auth(p): Auth) -> Result<Json<ConfigurationList>, ApiError> {
    Ok(Json(ConfigurationList { configurations: configurations::list(&s.catalog, &p).await? }))
}

/// One configuration.
#[utoipa::path(get, path = "/api/admin/backups/configurations/{id}", tag = "configurations", params(("id" = String, Path, description = "The configuration")), responses((status = 200, body = Configuration)))]
pub async fn get(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<Configuration>, ApiError> {
    Ok(Json(configurations::get(&s.catalog, &p, &id).await?))
}

/// 201 with the configuration, and the seeds' answer besides: `configurationId`, `status:
/// "created"`, `nextExecution`.
#[utoipa::path(post, path = "/api/admin/backups/configurations", tag = "configurations", request_body = NewConfiguration, responses((status = 201, body = serde_json::Value, description = "The configuration, with `configurationId`, `status: created`, `nextExecution`")))]
pub async fn create(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<NewConfiguration>) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let configuration = configurations::create(&s.catalog, &s.secrets, &p, body).await?;
    let next = configuration.next_run(chrono::Utc::now()).map(bulwark_core::platform::time::to_text);
    let mut answer = serde_json::to_value(&configuration).unwrap_or_default();
    if let Some(fields) = answer.as_object_mut() {
        fields.insert("configurationId".into(), configuration.id.clone().into());
        fields.insert("status".into(), "created".into());
        fields.insert("nextExecution".into(), next.into());
    }
    Ok((StatusCode::CREATED, Json(answer)))
}

/// The seeds' partial update: the fields given change, `isActive` pauses or resumes.
#[utoipa::path(put, path = "/api/admin/backups/configurations/{id}", tag = "configurations", params(("id" = String, Path, description = "The configuration")), request_body(content = serde_json::Value, description = "Any fields of a configuration to change (`name`, `frequency`, `schedule`, `retentionPolicy`, `rtoMinutes`, `rpoMinutes`, …) and `isActive`"), responses((status = 200, body = Configuration)))]
pub async fn update(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<serde_json::Value>) -> Result<Json<Configuration>, ApiError> {
    Ok(Json(configurations::patch(&s.catalog, &s.secrets, &p, &id, body).await?))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecuteBody {
    /// manual (default) or emergency.
    #[serde(default)]
    execution_type: Option<String>,
    /// Kept on the execution (the seeds' request).
    #[serde(default)]
    notes: Option<String>,
    /// A JSON object kept on the execution.
    #[serde(default)]
    tags: Option<serde_json::Value>,
}

/// 200 with the seeds' answer, `{executionId, status: "initiated", estimatedDuration}` (seconds),
/// and the queued execution's own fields besides (`id`, `executionStatus`, …): follow it at
/// `/executions/{id}` or its `/events`. The body is optional.
#[utoipa::path(post, path = "/api/admin/backups/configurations/{id}/execute", tag = "configurations", params(("id" = String, Path, description = "The configuration")), request_body(content = ExecuteBody, description = "Optional"), responses((status = 200, body = serde_json::Value, description = "`{executionId, status: initiated, estimatedDuration}` and the execution's fields")))]
pub async fn execute(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Json<serde_json::Value>, ApiError> {
    let body: ExecuteBody = if body.iter().all(u8::is_ascii_whitespace) {
        ExecuteBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("the body must be {{\"executionType\": \"manual\" | \"emergency\", \"notes\", \"tags\": {{…}}}}: {e}")))?
    };
    let kind = body.execution_type.unwrap_or_else(|| "manual".into());
    let annotations = executions::Annotations { notes: body.notes, tags: body.tags };
    let execution = executions::start_annotated(&s.catalog, &p, &id, &kind, &annotations).await?;
    let estimated = executions::estimated_duration(&s.catalog, &id).await?;
    let mut answer = serde_json::to_value(&execution).unwrap_or_default();
    if let Some(fields) = answer.as_object_mut() {
        fields.insert("executionStatus".into(), execution.status.as_str().into());
        fields.insert("executionId".into(), execution.id.clone().into());
        fields.insert("status".into(), "initiated".into());
        fields.insert("estimatedDuration".into(), estimated.into());
    }
    Ok(Json(answer))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[serde(default)]
    limit: Option<i64>,
}

/// A configuration's executions, newest first.
#[utoipa::path(get, path = "/api/admin/backups/configurations/{id}/executions", tag = "configurations", params(("id" = String, Path, description = "The configuration"), ListQuery), responses((status = 200, body = Vec<Execution>)))]
pub async fn executions(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Query(q): Query<ListQuery>) -> Result<Json<Vec<Execution>>, ApiError> {
    configurations::get(&s.catalog, &p, &id).await?;
    Ok(Json(executions::list(&s.catalog, &p, &id, q.limit.unwrap_or(50)).await?))
}

/// The execution's own fields, and the seeds' answer besides: `execution` in their names
/// (`configurationName`, `startTime`, `endTime`, `backupSize`, `compressedSize`,
/// `compressionRatio`, `verificationStatus`: `pending` until read back), the `storageLocation`
/// it went to and its `relatedTests` (restore tests).
#[utoipa::path(get, path = "/api/admin/backups/executions/{id}", tag = "executions", params(("id" = String, Path, description = "The execution")), responses((status = 200, body = serde_json::Value, description = "The execution, `execution` in the seeds' names, `storageLocation`, `relatedTests`")))]
pub async fn execution(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let execution = executions::get(&s.catalog, &p, &id).await?;
    let configuration = configurations::get(&s.catalog, &p, &execution.configuration_id).await?;
    let location = match &execution.storage_location_id {
        Some(location) => Some(bulwark_core::locations::get(&s.catalog, &p, location).await?),
        None => None,
    };
    let tests = bulwark_core::restore_tests::of_execution(&s.catalog, &p, &id).await?;
    let ratio = match (execution.size_bytes, execution.compressed_size_bytes) {
        (Some(size), Some(stored)) if size > 0 => Some(stored as f64 / size as f64),
        _ => None,
    };
    let seeds = serde_json::json!({
        "id": execution.id,
        "configurationName": configuration.name,
        "startTime": execution.started_at,
        "endTime": execution.completed_at,
        "status": execution.status,
        "backupSize": execution.size_bytes,
        "compressedSize": execution.compressed_size_bytes,
        "compressionRatio": ratio,
        "verificationStatus": execution.verification_status.clone().unwrap_or_else(|| "pending".into()),
        "errorMessage": execution.error_message,
        "recoveryMetadata": serde_json::from_str::<serde_json::Value>(&execution.recovery_metadata).unwrap_or_default(),
    });
    let mut answer = serde_json::to_value(&execution).unwrap_or_default();
    if let Some(fields) = answer.as_object_mut() {
        fields.insert("execution".into(), seeds);
        fields.insert("storageLocation".into(), serde_json::to_value(location).unwrap_or_default());
        fields.insert("relatedTests".into(), serde_json::to_value(tests).unwrap_or_default());
    }
    Ok(Json(answer))
}

/// Cancels a queued or running execution; answers with it (a running one stops within a few
/// seconds: watch its status become `cancelled`).
#[utoipa::path(post, path = "/api/admin/backups/executions/{id}/cancel", tag = "executions", params(("id" = String, Path, description = "The execution")), responses((status = 202, body = Execution)))]
pub async fn cancel(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<(StatusCode, Json<Execution>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(executions::cancel(&s.catalog, &p, &id).await?)))
}

/// The schedule in force, the next run and the slots fired so far.
#[utoipa::path(get, path = "/api/admin/backups/configurations/{id}/schedule", tag = "configurations", params(("id" = String, Path, description = "The configuration"), ListQuery), responses((status = 200, body = ScheduleView)))]
pub async fn schedule(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Query(q): Query<ListQuery>) -> Result<Json<ScheduleView>, ApiError> {
    Ok(Json(scheduled::schedule(&s.catalog, &p, &id, q.limit.unwrap_or(50)).await?))
}

/// A configuration-file execution against the files as they are now: files added, removed or
/// changed, and environment files' keys; never a value.
#[utoipa::path(get, path = "/api/admin/backups/executions/{id}/diff", tag = "executions", params(("id" = String, Path, description = "The execution")), responses((status = 200, body = bulwark_core::config_files::ConfigDiff)))]
pub async fn diff(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<bulwark_core::config_files::ConfigDiff>, ApiError> {
    Ok(Json(bulwark_core::config_files::diff(&s.catalog, &s.secrets, &p, &id).await?))
}

/// The span a continuous configuration can be restored to.
#[utoipa::path(get, path = "/api/admin/backups/configurations/{id}/recovery-window", tag = "configurations", params(("id" = String, Path, description = "The configuration")), responses((status = 200, body = RecoveryWindow)))]
pub async fn recovery_window(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<RecoveryWindow>, ApiError> {
    Ok(Json(wal_archive::window(&s.catalog, &p, &id).await?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WalTokenRequest {
    #[serde(default)]
    expires_in_days: Option<i64>,
}

/// A new token that may only push this configuration's WAL, and the `archive_command` that
/// uses it; the token's secret is shown this once.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WalToken {
    #[serde(flatten)]
    created: bulwark_core::platform::accounts::tokens::CreatedToken,
    archive_command: String,
}

/// A token that may only push this configuration's WAL, and its `archive_command`.
#[utoipa::path(post, path = "/api/admin/backups/configurations/{id}/wal-token", tag = "wal", params(("id" = String, Path, description = "The configuration")), request_body(content = WalTokenRequest, description = "Optional"), responses((status = 201, body = WalToken)))]
pub async fn wal_token(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<WalToken>), ApiError> {
    // The body is optional: an empty one asks for a token that does not expire.
    let request: WalTokenRequest = if body.iter().all(u8::is_ascii_whitespace) {
        WalTokenRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("the body: {e}")))?
    };
    let created = wal_archive::push_token(&s.catalog, &p, &id, request.expires_in_days).await?;
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let archive_command = wal_archive::archive_command(host, &id, &created.secret);
    Ok((StatusCode::CREATED, Json(WalToken { created, archive_command })))
}

/// `archive_command`'s upload: the body is the WAL file. The same file again is fine (200);
/// different bytes under an archived name are a 409. Takes an operator or a token that may
/// push this configuration's WAL.
///
/// The body is read only once the caller is known to be allowed to push this configuration, at most the
/// cluster's segment size of it, and by at most [`WAL_PUSHES`] requests at once: a push is held
/// in memory whole while it is sealed.
#[utoipa::path(put, path = "/api/admin/backups/configurations/{id}/wal/{name}", tag = "wal", params(("id" = String, Path, description = "The configuration"), ("name" = String, Path, description = "The WAL file's name, e.g. 000000010000000000000003")), request_body(content = Vec<u8>, content_type = "application/octet-stream"), responses((status = 200, body = PushReport)))]
pub async fn wal_push(State(s): State<AppState>, Auth(p): Auth, Path((id, name)): Path<(String, String)>, body: axum::body::Body) -> Result<Json<PushReport>, ApiError> {
    wal_archive::require_push(&p, &id)?;
    let limit = wal_archive::push_limit(&s.catalog, &id).await?;
    let _turn = WAL_PUSHES.acquire().await.map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))?;
    let bytes = axum::body::to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX))
        .await
        .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("a WAL file of this cluster has at most {limit} bytes (its segment size)")))?;
    Ok(Json(wal_archive::push(&s.catalog, &s.secrets, &p, &id, &name, &bytes).await?))
}

/// WAL pushes whose bodies are read at once.
static WAL_PUSHES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// `restore_command`'s download (404 past the end of the archive).
#[utoipa::path(get, path = "/api/admin/backups/configurations/{id}/wal/{name}", tag = "wal", params(("id" = String, Path, description = "The configuration"), ("name" = String, Path, description = "The WAL file's name, e.g. 000000010000000000000003")), responses((status = 200, description = "The WAL file", content_type = "application/octet-stream")))]
pub async fn wal_fetch(State(s): State<AppState>, Auth(p): Auth, Path((id, name)): Path<(String, String)>) -> Result<Vec<u8>, ApiError> {
    Ok(wal_archive::fetch(&s.catalog, &s.secrets, &p, &id, &name).await?)
}

/// `text/event-stream` of the execution as JSON (`event: execution`), sent whenever it
/// changes, ending once it completed or failed. It reads the catalog, so it works whichever
/// node runs the backup.
#[utoipa::path(get, path = "/api/admin/backups/executions/{id}/events", tag = "executions", params(("id" = String, Path, description = "The execution")), responses((status = 200, description = "`event: execution` with the execution as JSON at each change", content_type = "text/event-stream")))]
pub async fn events(State(s): State<AppState>, Auth(p): Auth, session: tower_sessions::Session, Path(id): Path<String>) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let first = executions::get(&s.catalog, &p, &id).await?;
    let watched = Watched { event: "execution", every: Duration::from_millis(500), finished: |execution: &Execution| execution.is_finished(), key: watch::json, data: watch::json };
    let standing = Standing::of(&p, &session);
    Ok(watch::stream(s.catalog.clone(), standing, first, watched, move || {
        let (s, p, id) = (s.clone(), p.clone(), id.clone());
        // The execution vanished or the catalog failed: the stream ends.
        async move { executions::get(&s.catalog, &p, &id).await.ok() }
    }))
}
