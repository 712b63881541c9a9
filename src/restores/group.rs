//! Restoring a consistency group's point: every member to the same moment. Each member needs
//! its own target (the request shape of its kind); all are checked before any is restored.
//! Continuous PostgreSQL members replay to the group's restore point from the base backup
//! taken before it; the others restore the child execution the group ran.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{PhysicalRestore, RestoreError, Targets, record_action, restore, restore_physical};
use crate::engine::source::SourceKind;
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::{configurations, executions};
use crate::platform::secrets::SecretBox;

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
    if execution.status != "completed" {
        return Err(RestoreError::Invalid(format!("execution {execution_id} has no restore point (status {})", execution.status)));
    }
    let meta: serde_json::Value = serde_json::from_str(&execution.recovery_metadata).unwrap_or_default();
    let members = meta["members"].as_array().cloned().unwrap_or_default();
    let text = |m: &serde_json::Value, k: &str| m[k].as_str().unwrap_or_default().to_string();
    // Every member's target first: a group is restored whole or not started.
    let mut plan = Vec::new();
    for member in &members {
        let (id, name) = (text(member, "configurationId"), text(member, "name"));
        let target = request.members.get(&id).or_else(|| request.members.get(&name)).cloned().ok_or_else(|| {
            RestoreError::Invalid(format!("members.{name}: give a target for every member of the group (by configuration id or name)"))
        })?;
        // Refused before anything is restored: a group is restored whole or not started.
        if configurations::find(catalog, &id).await?.source_type == SourceKind::EnvironmentVars && (actor.role < Role::Admin || actor.scope.is_some()) {
            return Err(RestoreError::Forbidden(format!("members.{name}: restoring configuration files (their values) needs the admin role")));
        }
        plan.push((member.clone(), id, name, target));
    }
    if let Some(unknown) = request.members.keys().find(|k| !plan.iter().any(|(_, id, name, _)| id == *k || name == *k)) {
        return Err(RestoreError::Invalid(format!("members.{unknown}: not a member of this group")));
    }
    let started = Instant::now();
    let mut reports = Vec::new();
    for (member, id, name, target) in plan {
        let report = if let Some(point) = member["restorePoint"].as_str() {
            let mut request: PhysicalRestore = serde_json::from_value(target).map_err(|e| RestoreError::Invalid(format!("members.{name}: {e}")))?;
            if request.target_time.is_some() || request.restore_point.is_some() {
                return Err(RestoreError::Invalid(format!("members.{name}: the group sets the point; give no targetTime or restorePoint")));
            }
            request.restore_point = Some(point.to_string());
            serde_json::to_value(restore_physical(catalog, secrets, targets, actor, &text(&member, "baseExecutionId"), request).await?).unwrap_or_default()
        } else {
            Box::pin(restore(catalog, secrets, targets, actor, &text(&member, "executionId"), target)).await?
        };
        reports.push(MemberReport { configuration_id: id, name, report });
    }
    let report = GroupReport {
        execution_id: execution_id.to_string(),
        point: text(&meta, "point"),
        members: reports,
        duration_seconds: started.elapsed().as_secs_f64(),
    };
    record_action(catalog, actor, "restore.consistency_group", execution_id, serde_json::to_value(&report).unwrap_or_default()).await?;
    Ok(report)
}
