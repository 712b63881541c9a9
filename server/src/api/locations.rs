use axum::extract::{Path, State};
use axum::http::StatusCode;
use bulwark_core::locations::{self, Initialized, NewLocation, SnapshotRow, StorageLocation, TestResult, Usage};

use super::error::ApiError;
use super::extract::{Auth, Json};
use crate::state::AppState;

/// Every storage location.
#[utoipa::path(get, path = "/api/admin/backups/storage-locations", tag = "storage", responses((status = 200, body = Vec<StorageLocation>)))]
pub async fn list(State(s): State<AppState>, Auth(p): Auth) -> Result<Json<Vec<StorageLocation>>, ApiError> {
    Ok(Json(locations::list(&s.catalog, &p).await?))
}

/// One storage location.
#[utoipa::path(get, path = "/api/admin/backups/storage-locations/{id}", tag = "storage", params(("id" = String, Path, description = "The storage location")), responses((status = 200, body = StorageLocation)))]
pub async fn get(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<StorageLocation>, ApiError> {
    Ok(Json(locations::get(&s.catalog, &p, &id).await?))
}

/// Adds a storage location (local directory or S3); credentials are sealed.
#[utoipa::path(post, path = "/api/admin/backups/storage-locations", tag = "storage", request_body = NewLocation, responses((status = 201, body = StorageLocation)))]
pub async fn create(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<NewLocation>) -> Result<(StatusCode, Json<StorageLocation>), ApiError> {
    Ok((StatusCode::CREATED, Json(locations::create(&s.catalog, &s.secrets, &p, body).await?)))
}

/// Removes a storage location that no configuration uses.
#[utoipa::path(delete, path = "/api/admin/backups/storage-locations/{id}", tag = "storage", params(("id" = String, Path, description = "The storage location")), responses((status = 204, description = "Removed")))]
pub async fn delete(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    locations::delete(&s.catalog, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Always 200 when the test ran: `ok` says whether the location works.
#[utoipa::path(post, path = "/api/admin/backups/storage-locations/{id}/test", tag = "storage", params(("id" = String, Path, description = "The storage location")), responses((status = 200, body = TestResult)))]
pub async fn test(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<TestResult>, ApiError> {
    Ok(Json(locations::test_connection(&s.catalog, &s.secrets, &p, &id).await?))
}

/// Creates the repository; the answer holds the recovery kit, shown once.
#[utoipa::path(post, path = "/api/admin/backups/storage-locations/{id}/init", tag = "storage", params(("id" = String, Path, description = "The storage location")), responses((status = 201, body = Initialized)))]
pub async fn init(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<(StatusCode, Json<Initialized>), ApiError> {
    Ok((StatusCode::CREATED, Json(locations::init_repository(&s.catalog, &s.secrets, &p, &id).await?)))
}

/// What the location's repository holds.
#[utoipa::path(get, path = "/api/admin/backups/storage-locations/{id}/usage", tag = "storage", params(("id" = String, Path, description = "The storage location")), responses((status = 200, body = Usage)))]
pub async fn usage(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<Usage>, ApiError> {
    Ok(Json(locations::usage(&s.catalog, &s.secrets, &p, &id).await?))
}

/// The snapshots in the location's repository.
#[utoipa::path(get, path = "/api/admin/backups/storage-locations/{id}/snapshots", tag = "storage", params(("id" = String, Path, description = "The storage location")), responses((status = 200, body = Vec<SnapshotRow>)))]
pub async fn snapshots(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<Vec<SnapshotRow>>, ApiError> {
    Ok(Json(locations::snapshots(&s.catalog, &s.secrets, &p, &id).await?))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileQuery {
    path: String,
}

/// `GET …/{id}/snapshots/{snapshot}/file?path=a/b.txt`: one file of a tree snapshot, of any
/// size, streamed.
#[utoipa::path(get, path = "/api/admin/backups/storage-locations/{id}/snapshots/{snapshot}/file", tag = "storage", params(("id" = String, Path, description = "The storage location"), ("snapshot" = String, Path, description = "The snapshot"), FileQuery), responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream")))]
pub async fn download(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, snapshot)): Path<(String, String)>,
    super::extract::Query(q): super::extract::Query<FileQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let file = locations::download(&s.catalog, &s.secrets, &p, &id, &snapshot, &q.path).await?;
    let name: String = q.path.rsplit('/').next().unwrap_or("file").chars().filter(|c| c.is_ascii_graphic() && *c != '"').collect();
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (axum::http::header::CONTENT_LENGTH, file.size.to_string()),
        ],
        // A chunk that fails its check ends the body early: the client sees a cut-off transfer.
        axum::body::Body::from_stream(file.chunks),
    )
        .into_response())
}

/// Rebuilds the location's repository index from its packs' headers.
#[utoipa::path(post, path = "/api/admin/backups/storage-locations/{id}/repair-index", tag = "storage", params(("id" = String, Path, description = "The storage location")), responses((status = 200, body = bulwark_core::engine::repo::repair::IndexRepair)))]
pub async fn repair_index(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<bulwark_core::engine::repo::repair::IndexRepair>, ApiError> {
    Ok(Json(locations::repair_index(&s.catalog, &s.secrets, &p, &id).await?))
}

/// Queues a copy of the location's repository to another location (it becomes a replica).
#[utoipa::path(post, path = "/api/admin/backups/storage-locations/{id}/replications", tag = "storage", params(("id" = String, Path, description = "The storage location")), request_body = bulwark_core::replicate::NewReplication, responses((status = 202, body = bulwark_core::replicate::ReplicationRun)))]
pub async fn replicate(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(body): Json<bulwark_core::replicate::NewReplication>,
) -> Result<(StatusCode, Json<bulwark_core::replicate::ReplicationRun>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(bulwark_core::replicate::schedule(&s.catalog, &p, &id, body).await?)))
}

/// The copies from or to the location, newest first.
#[utoipa::path(get, path = "/api/admin/backups/storage-locations/{id}/replications", tag = "storage", params(("id" = String, Path, description = "The storage location")), responses((status = 200, body = Vec<bulwark_core::replicate::ReplicationRun>)))]
pub async fn replications(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<Vec<bulwark_core::replicate::ReplicationRun>>, ApiError> {
    Ok(Json(bulwark_core::replicate::list(&s.catalog, &p, &id).await?))
}

/// The location's copy rules: copied to each target after every backup.
#[utoipa::path(get, path = "/api/admin/backups/storage-locations/{id}/replication-rules", tag = "storage", params(("id" = String, Path, description = "The storage location")), responses((status = 200, body = Vec<bulwark_core::replicate::ReplicationLink>)))]
pub async fn replication_rules(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<Vec<bulwark_core::replicate::ReplicationLink>>, ApiError> {
    Ok(Json(bulwark_core::replicate::links(&s.catalog, &p, &id).await?))
}

/// Adds a copy rule (and queues a first copy so the target catches up).
#[utoipa::path(post, path = "/api/admin/backups/storage-locations/{id}/replication-rules", tag = "storage", params(("id" = String, Path, description = "The storage location")), request_body = bulwark_core::replicate::NewReplication, responses((status = 201, body = bulwark_core::replicate::ReplicationLink)))]
pub async fn add_replication_rule(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(body): Json<bulwark_core::replicate::NewReplication>,
) -> Result<(StatusCode, Json<bulwark_core::replicate::ReplicationLink>), ApiError> {
    Ok((StatusCode::CREATED, Json(bulwark_core::replicate::link(&s.catalog, &p, &id, body).await?)))
}

/// Removes a copy rule; the replica keeps what it holds.
#[utoipa::path(delete, path = "/api/admin/backups/replication-rules/{id}", tag = "storage", params(("id" = String, Path, description = "The copy rule")), responses((status = 204, description = "Removed")))]
pub async fn remove_replication_rule(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    bulwark_core::replicate::unlink(&s.catalog, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Attaches the repository already at the location, with its recovery kit's key file.
#[utoipa::path(post, path = "/api/admin/backups/storage-locations/{id}/attach", tag = "storage", params(("id" = String, Path, description = "The storage location")), request_body = bulwark_core::rebuild::Attach, responses((status = 200, body = serde_json::Value, description = "`{repositoryId}`")))]
pub async fn attach(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<bulwark_core::rebuild::Attach>) -> Result<Json<serde_json::Value>, ApiError> {
    let repository = bulwark_core::rebuild::attach(&s.catalog, &s.secrets, &p, &id, body).await?;
    Ok(Json(serde_json::json!({ "repositoryId": repository })))
}

/// Recreates executions, configurations and WAL rows from every attached repository.
#[utoipa::path(post, path = "/api/admin/catalog/rebuild", tag = "catalog", responses((status = 200, body = bulwark_core::rebuild::RebuildReport)))]
pub async fn rebuild(State(s): State<AppState>, Auth(p): Auth) -> Result<Json<bulwark_core::rebuild::RebuildReport>, ApiError> {
    Ok(Json(bulwark_core::rebuild::rebuild(&s.catalog, &s.secrets, &p).await?))
}
