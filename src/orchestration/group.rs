//! Consistency groups (backup type `full_system`): one execution that takes a restore point
//! across several configurations. Continuous PostgreSQL members get a named restore point in
//! their WAL at the group's moment (exact: replay stops there); every other member runs a
//! backup of its own at once (a child execution, restorable on its own too). The group's
//! manifest, stored as a snapshot of the group's location, records each member's position.

use serde_json::json;

use super::backup::run;
use crate::engine::source::SourceKind;
use crate::executions::{Execution, ExecutionError, find, insert};
use crate::platform::audit::Actor;
use crate::platform::catalog::Catalog;
use crate::configurations::{self, Configuration};
use crate::platform::jobs::CancelFlag;
use crate::engine::repo::backup::{self, BackupOptions};
use crate::engine::repo::snapshot::Snapshot;
use crate::engine::repo::{RepoError, Repository};
use crate::platform::secrets::SecretBox;
use crate::engine::source::postgres::Database;
use crate::{platform::time, wal_archive};

pub(super) async fn back_up_group(
    catalog: &Catalog,
    secrets: &SecretBox,
    group: &Configuration,
    execution: &Execution,
    repo: &Repository,
    options: BackupOptions,
) -> Result<(Snapshot, serde_json::Value), ExecutionError> {
    let members: Vec<Configuration> = {
        let mut out = Vec::new();
        for id in group.members() {
            out.push(configurations::find(catalog, &id).await?);
        }
        out
    };
    let requested_by = execution.requested_by.clone().unwrap_or_else(|| "system".into());
    let actor = Actor::system(&format!("consistency group {:?}", group.name));
    let point = time::now_text();
    let restore_point = format!("bulwark-{}", execution.id);
    let mut positions = Vec::new();
    // Databases first: their restore points are the group's moment.
    for member in members.iter().filter(|m| wal_archive::is_continuous(m)) {
        let base: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM backup_executions WHERE configuration_id = $1 AND status = 'completed' AND snapshot_id IS NOT NULL
             ORDER BY completed_at DESC LIMIT 1",
        )
        .bind(&member.id)
        .fetch_optional(catalog.pool())
        .await?;
        let base = match base {
            Some((id,)) => id,
            // No base backup yet: without one the restore point could never be reached.
            None => child(catalog, secrets, &actor, &requested_by, member, options.progress.cancel.clone()).await?.id,
        };
        let database = Database { url: member.source_identifier.clone(), password: member.source_password(secrets)? };
        let (lsn, wal_file) = database.create_restore_point(&restore_point).await?;
        positions.push(json!({
            "configurationId": member.id, "name": member.name, "sourceType": member.source_type,
            "restorePoint": restore_point, "lsn": lsn, "walFile": wal_file, "baseExecutionId": base,
        }));
    }
    for member in members.iter().filter(|m| !wal_archive::is_continuous(m)) {
        let done = child(catalog, secrets, &actor, &requested_by, member, options.progress.cancel.clone()).await?;
        positions.push(json!({
            "configurationId": member.id, "name": member.name, "sourceType": member.source_type,
            "executionId": done.id, "snapshotId": done.snapshot_id, "checksum": done.checksum, "sizeBytes": done.size_bytes,
        }));
    }
    let metadata = json!({ "sourceType": SourceKind::ConsistencyGroup, "point": point, "members": positions });
    // The manifest goes into the group's own location too, so the repository alone tells
    // what the point holds.
    let manifest = serde_json::to_vec_pretty(&metadata).unwrap_or_default();
    let options = BackupOptions { source: format!("consistency group {}", group.name), ..options };
    let snapshot = backup::backup_stream(repo, std::io::Cursor::new(manifest), options).await?;
    Ok((snapshot, metadata))
}

/// Runs one member's backup now as a child execution; its failure fails the group.
async fn child(
    catalog: &Catalog,
    secrets: &SecretBox,
    actor: &Actor,
    requested_by: &str,
    member: &Configuration,
    cancel: CancelFlag,
) -> Result<Execution, ExecutionError> {
    let id = insert(catalog, actor, requested_by, member, "group").await?;
    // Boxed: a member's run is this same function one level down.
    Box::pin(run(catalog, secrets, &id, cancel)).await.map_err(|e| match e {
        ExecutionError::Repo(RepoError::Cancelled) => e,
        e => ExecutionError::Invalid(format!("member {:?} of the group failed: {e}", member.name)),
    })?;
    find(catalog, &id).await
}
