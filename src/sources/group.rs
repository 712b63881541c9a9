//! Consistency groups (backup type `full_system`): one execution that takes a restore point
//! across several configurations.
//!
//! Backing up: continuous PostgreSQL members get a named restore point in their WAL at the
//! group's moment (exact: replay stops there); every other member runs a backup of its own at
//! once (a child execution, restorable on its own too). The group's manifest, stored as a
//! snapshot of the group's location, records each member's position.
//!
//! Restoring: every member to the same moment. Each member needs its own target (the request
//! shape of its kind); all are checked before any is restored. Continuous PostgreSQL members
//! replay to the group's restore point from the base backup taken before it; the others
//! restore the child execution the group ran.

use std::collections::BTreeMap;
use std::time::Instant;

use bulwark_types::{GroupMember, GroupPoint, MemberPosition};
use serde::{Deserialize, Serialize};


use super::postgres_cluster::{PhysicalRestore, restore_physical};
use super::{BackupRun, Description, RestoreRun, Source, SourceFuture, TestRun, failed, report, request, restore};
use crate::configurations::{self, Configuration};
use crate::engine::repo::backup::{self, BackupOptions};
use crate::engine::repo::RepoError;
use crate::engine::repo::snapshot::Snapshot;
use crate::engine::source::SourceKind;
use crate::engine::source::postgres::Database;
use crate::executions::{self, Execution, ExecutionError, ExecutionStatus};
use crate::platform::audit::Actor;
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::jobs::CancelFlag;
use crate::platform::secrets::SecretBox;
use crate::platform::time;
use crate::restore_tests::Outcome;
use crate::restores::{Destination, Place, RestoreError, Targets, record_action};
use crate::wal_archive;

pub struct Group;

impl Source for Group {
    fn describe(&self) -> Description {
        Description { name: "consistency group", restores_into: "every member's own target" }
    }

    fn back_up<'a>(&'a self, run: &'a BackupRun<'a>, options: BackupOptions) -> SourceFuture<'a, Result<(Snapshot, serde_json::Value), ExecutionError>> {
        Box::pin(back_up(run, options))
    }

    fn restore<'a>(&'a self, run: &'a RestoreRun<'a>, execution_id: &'a str, body: serde_json::Value) -> SourceFuture<'a, Result<serde_json::Value, RestoreError>> {
        Box::pin(async move { Ok(report(restore_group(run.catalog, run.secrets, run.targets, run.actor, execution_id, request(self, body)?).await?)) })
    }

    fn restore_test<'a>(&'a self, _: &'a TestRun<'a>) -> SourceFuture<'a, Outcome> {
        Box::pin(async { failed("restore tests of a consistency group test each member's own backup: schedule them per member".into()) })
    }

    fn check<'a>(&'a self, run: &'a RestoreRun<'a>, _: &'a Configuration, body: &'a serde_json::Value) -> SourceFuture<'a, Result<Place, RestoreError>> {
        Box::pin(async move {
            // Each member named, by the configuration it names (id or name): the members the
            // backup recorded may differ from the group's members today, and the restore checks
            // that every recorded one has its target.
            let r: GroupRestore = request(self, body.clone())?;
            let mut members = Vec::new();
            for (key, target) in &r.members {
                let id: Option<String> = sqlx::query_scalar("SELECT id FROM backup_configurations WHERE id = $1 OR name = $1").bind(key).fetch_optional(run.catalog.pool()).await?;
                let id = id.ok_or_else(|| RestoreError::Invalid(format!("members.{key}: no configuration has this id or name")))?;
                let member = configurations::find(run.catalog, &id).await?;
                let place = Box::pin(super::of(&member).check(run, &member, target)).await.map_err(|e| RestoreError::Invalid(format!("members.{key}: {e}")))?;
                members.push(place);
            }
            Ok(Place::Members { members })
        })
    }

    /// Each member's, against the group's backup (its members were taken with it).
    fn conflicts<'a>(&'a self, run: &'a RestoreRun<'a>, _: &'a Configuration, body: &'a serde_json::Value, backup: &'a Execution) -> SourceFuture<'a, Result<Vec<String>, RestoreError>> {
        Box::pin(async move {
            let r: GroupRestore = request(self, body.clone())?;
            let mut found = Vec::new();
            for (key, target) in &r.members {
                let id: Option<String> = sqlx::query_scalar("SELECT id FROM backup_configurations WHERE id = $1 OR name = $1").bind(key).fetch_optional(run.catalog.pool()).await?;
                let Some(id) = id else { continue };
                let member = configurations::find(run.catalog, &id).await?;
                for conflict in Box::pin(super::of(&member).conflicts(run, &member, target, backup)).await? {
                    found.push(format!("members.{key}: {conflict}"));
                }
            }
            Ok(found)
        })
    }

    fn request_for(&self, _: &Destination) -> Result<serde_json::Value, RestoreError> {
        Err(RestoreError::Invalid(
            "targetIdentifier: a consistency group restores each member into a target of its own; restore it from the group's execution page, naming each member's target".into(),
        ))
    }

    /// Never: each member restores through its own kind's rules, without a safety snapshot.
    fn writes_over(&self, _: &serde_json::Value) -> bool {
        false
    }
}

/// The target of every member, by configuration id or name.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupRestore {
    pub members: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupReport {
    pub execution_id: String,
    /// The group's moment.
    pub point: String,
    pub members: Vec<MemberReport>,
    pub duration_seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberReport {
    pub configuration_id: String,
    pub name: String,
    pub report: serde_json::Value,
}

pub async fn restore_group(catalog: &Catalog, secrets: &SecretBox, targets: &Targets, actor: &Principal, execution_id: &str, request: GroupRestore) -> Result<GroupReport, RestoreError> {
    actor.require(Role::Operator)?;
    let execution = executions::restorable(catalog, actor, execution_id).await?;
    if execution.status != ExecutionStatus::Completed {
        return Err(RestoreError::Invalid(format!("execution {execution_id} has no restore point (status {})", execution.status)));
    }
    let point: GroupPoint = serde_json::from_str(&execution.recovery_metadata)
        .map_err(|e| RestoreError::Damaged(format!("execution {execution_id}: its consistency group manifest does not read: {e}")))?;
    // Every member's target first: a group is restored whole or not started.
    let mut plan = Vec::new();
    for member in point.members {
        let (id, name) = (member.configuration_id.clone(), member.name.clone());
        let target = request.members.get(&id).or_else(|| request.members.get(&name)).cloned().ok_or_else(|| {
            RestoreError::Invalid(format!("members.{name}: give a target for every member of the group (by configuration id or name)"))
        })?;
        // Refused before anything is restored: a group is restored whole or not started.
        if configurations::find(catalog, &id).await?.source_type == SourceKind::EnvironmentVars {
            super::env_files::may_restore(actor).map_err(|e| RestoreError::Forbidden(format!("members.{name}: {e}")))?;
        }
        plan.push((member.position, id, name, target));
    }
    if let Some(unknown) = request.members.keys().find(|k| !plan.iter().any(|(_, id, name, _)| id == *k || name == *k)) {
        return Err(RestoreError::Invalid(format!("members.{unknown}: not a member of this group")));
    }
    let started = Instant::now();
    let mut reports = Vec::new();
    for (position, id, name, target) in plan {
        let report = match position {
            MemberPosition::RestorePoint { restore_point, base_execution_id, .. } => {
                let mut request: PhysicalRestore = serde_json::from_value(target).map_err(|e| RestoreError::Invalid(format!("members.{name}: {e}")))?;
                if request.target_time.is_some() || request.restore_point.is_some() {
                    return Err(RestoreError::Invalid(format!("members.{name}: the group sets the point; give no targetTime or restorePoint")));
                }
                request.restore_point = Some(restore_point);
                serde_json::to_value(restore_physical(catalog, secrets, targets, actor, &base_execution_id, request).await?).unwrap_or_default()
            }
            MemberPosition::Execution { execution_id, .. } => Box::pin(restore(catalog, secrets, targets, actor, &execution_id, target)).await?,
        };
        reports.push(MemberReport { configuration_id: id, name, report });
    }
    let report = GroupReport {
        execution_id: execution_id.to_string(),
        point: point.point,
        members: reports,
        duration_seconds: started.elapsed().as_secs_f64(),
    };
    record_action(catalog, actor, "restore.consistency_group", execution_id, serde_json::to_value(&report).unwrap_or_default()).await?;
    Ok(report)
}

async fn back_up(run: &BackupRun<'_>, options: BackupOptions) -> Result<(Snapshot, serde_json::Value), ExecutionError> {
    let BackupRun { catalog, secrets, configuration: group, execution, repo, .. } = *run;
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
        let base: Option<(String,)> = sqlx::query_as(&format!(
            "SELECT id FROM backup_executions WHERE configuration_id = $1 AND status = 'completed' AND snapshot_id IS NOT NULL AND {}
             ORDER BY completed_at DESC LIMIT 1",
            executions::of_source("")
        ))
        .bind(&member.id)
        .fetch_optional(catalog.pool())
        .await?;
        let base = match base {
            Some((id,)) => id,
            // No base backup yet: without one the restore point could never be reached.
            None => child(run, &actor, &requested_by, member, options.progress.cancel.clone()).await?.id,
        };
        let database = Database { url: member.source_identifier.clone(), password: member.source_password(secrets)? };
        let (lsn, wal_file) = database.create_restore_point(&restore_point).await?;
        let position = MemberPosition::RestorePoint { restore_point: restore_point.clone(), lsn, wal_file, base_execution_id: base };
        positions.push(GroupMember { configuration_id: member.id.clone(), name: member.name.clone(), source_type: member.source_type, position });
    }
    for member in members.iter().filter(|m| !wal_archive::is_continuous(m)) {
        let done = child(run, &actor, &requested_by, member, options.progress.cancel.clone()).await?;
        let position = MemberPosition::Execution { execution_id: done.id, snapshot_id: done.snapshot_id, checksum: done.checksum, size_bytes: done.size_bytes };
        positions.push(GroupMember { configuration_id: member.id.clone(), name: member.name.clone(), source_type: member.source_type, position });
    }
    let metadata = serde_json::to_value(GroupPoint { source_type: SourceKind::ConsistencyGroup, point, members: positions }).unwrap_or_default();
    // The manifest goes into the group's own location too, so the repository alone tells
    // what the point holds.
    let manifest = serde_json::to_vec_pretty(&metadata).unwrap_or_default();
    let options = BackupOptions { source: format!("consistency group {}", group.name), ..options };
    let snapshot = backup::backup_stream(repo, std::io::Cursor::new(manifest), options).await?;
    Ok((snapshot, metadata))
}

/// Runs one member's backup now as a child execution; its failure fails the group.
async fn child(
    run: &BackupRun<'_>,
    actor: &Actor,
    requested_by: &str,
    member: &Configuration,
    cancel: CancelFlag,
) -> Result<Execution, ExecutionError> {
    let id = executions::insert(run.catalog, actor, requested_by, member, "group").await?;
    (run.run_member)(id.clone(), cancel).await.map_err(|e| match e {
        ExecutionError::Repo(RepoError::Cancelled) => e,
        e => ExecutionError::Invalid(format!("member {:?} of the group failed: {e}", member.name)),
    })?;
    executions::find(run.catalog, &id).await
}
