//! Plans and their versions. A plan's content is its document; every version keeps the text
//! its author wrote. Editing a version still in draft (or under review) changes it in place and
//! puts it back to draft; editing any other version makes a new draft version, so what was
//! approved never changes under its approvers. A version is approved by `requiredApprovals`
//! people, none of them its author; it expires when its review date passes, and a run always
//! executes the plan's newest approved version that has not expired.

use bulwark_types::{ApprovalStatus, PlanDecision, PlanDetail, PlanDocument, PlanSummary, PlanVersion, Role};

use super::RecoveryError;
use super::document::{self, Format};
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::Principal;
use crate::platform::catalog::Catalog;
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::time;

const VERSION_COLUMNS: &str = "version, approval_status, document, document_format, plan, created_by, created_at, submitted_at, decided_by, decided_at, decision_reason, next_review_date";

#[derive(sqlx::FromRow)]
struct VersionRow {
    version: i64,
    approval_status: ApprovalStatus,
    document: String,
    document_format: String,
    plan: String,
    created_by: String,
    created_at: String,
    submitted_at: Option<String>,
    decided_by: Option<String>,
    decided_at: Option<String>,
    decision_reason: Option<String>,
    next_review_date: Option<String>,
}

impl VersionRow {
    fn into_version(self) -> Result<PlanVersion, RecoveryError> {
        let plan = read_plan(&self.plan)?;
        Ok(PlanVersion {
            version: self.version,
            approval_status: self.approval_status,
            document: self.document,
            document_format: self.document_format,
            plan,
            created_by: self.created_by,
            created_at: self.created_at,
            submitted_at: self.submitted_at,
            decided_by: self.decided_by,
            decided_at: self.decided_at,
            decision_reason: self.decision_reason,
            next_review_date: self.next_review_date,
        })
    }
}

/// A stored plan document (written by this module from a checked one).
pub fn read_plan(json: &str) -> Result<PlanDocument, RecoveryError> {
    serde_json::from_str(json).map_err(|e| RecoveryError::Stored(format!("a stored plan cannot be read: {e}")))
}

#[derive(sqlx::FromRow)]
struct PlanRow {
    id: String,
    current_version: i64,
    approved_version: Option<i64>,
    is_active: i64,
    next_drill_at: Option<String>,
    last_tested: Option<String>,
    created_by: String,
    updated_at: String,
}

fn parse_document(text: &str) -> Result<(PlanDocument, Format), RecoveryError> {
    document::read(text).map_err(RecoveryError::Document)
}

/// Creates a plan from a document: version 1, a draft.
pub async fn create(catalog: &Catalog, actor: &Principal, text: &str) -> Result<PlanDetail, RecoveryError> {
    actor.require(Role::Operator)?;
    let (plan, format) = parse_document(text)?;
    let id = uuid::Uuid::new_v4().to_string();
    let now = time::now_text();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    name_free(&mut tx.tx, &plan.name, None).await?;
    sqlx::query(
        "INSERT INTO disaster_recovery_plans (id, plan_name, current_version, approved_version, is_active, created_by, created_at, updated_at) VALUES ($1, $2, 1, NULL, 1, $3, $4, $4)",
    )
    .bind(&id)
    .bind(&plan.name)
    .bind(&actor.username)
    .bind(&now)
    .execute(&mut *tx.tx)
    .await?;
    insert_version(&mut tx.tx, &id, 1, &plan, text, format, &actor.username, &now).await?;
    let detail = serde_json::json!({ "name": plan.name, "version": 1, "steps": plan.steps.len() });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "recovery_plan.create", target_type: "recovery_plan", target_id: Some(&id), detail }).await?;
    tx.commit().await?;
    get(catalog, actor, &id).await
}

/// Replaces the plan's text: in place while its newest version is its author's draft (or under
/// review) that no run used, otherwise as a new draft version.
pub async fn update(catalog: &Catalog, actor: &Principal, id: &str, text: &str) -> Result<PlanDetail, RecoveryError> {
    actor.require(Role::Operator)?;
    let (plan, format) = parse_document(text)?;
    let now = time::now_text();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let current: Option<(i64, ApprovalStatus, String)> = sqlx::query_as(
        "SELECT p.current_version, v.approval_status, v.created_by FROM disaster_recovery_plans p JOIN disaster_recovery_plan_versions v ON v.plan_id = p.id AND v.version = p.current_version WHERE p.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx.tx)
    .await?;
    let (current, status, author) = current.ok_or_else(|| RecoveryError::NotFound(format!("recovery plan {id}")))?;
    name_free(&mut tx.tx, &plan.name, Some(id)).await?;
    // A version keeps one author (who may not approve it) and the text its runs executed: a
    // draft changes in place only for its own author and while no run (a drill) used it.
    let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_executions WHERE plan_id = $1 AND plan_version = $2").bind(id).bind(current).fetch_one(&mut *tx.tx).await?;
    let in_place = matches!(status, ApprovalStatus::Draft | ApprovalStatus::UnderReview) && author == actor.username && runs == 0;
    let version = if in_place {
        sqlx::query("DELETE FROM disaster_recovery_plan_approvals WHERE plan_id = $1 AND version = $2").bind(id).bind(current).execute(&mut *tx.tx).await?;
        sqlx::query("DELETE FROM disaster_recovery_plan_versions WHERE plan_id = $1 AND version = $2").bind(id).bind(current).execute(&mut *tx.tx).await?;
        current
    } else {
        current + 1
    };
    insert_version(&mut tx.tx, id, version, &plan, text, format, &actor.username, &now).await?;
    sqlx::query("UPDATE disaster_recovery_plans SET plan_name = $1, current_version = $2, updated_at = $3 WHERE id = $4")
        .bind(&plan.name)
        .bind(version)
        .bind(&now)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
    let detail = serde_json::json!({ "name": plan.name, "version": version, "steps": plan.steps.len() });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "recovery_plan.update", target_type: "recovery_plan", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    get(catalog, actor, id).await
}

async fn name_free(conn: &mut sqlx::AnyConnection, name: &str, except: Option<&str>) -> Result<(), RecoveryError> {
    let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM disaster_recovery_plans WHERE plan_name = $1 AND id <> $2")
        .bind(name)
        .bind(except.unwrap_or(""))
        .fetch_one(&mut *conn)
        .await?;
    if taken > 0 {
        return Err(RecoveryError::Conflict(format!("a recovery plan is already called {name:?}")));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn insert_version(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    version: i64,
    plan: &PlanDocument,
    text: &str,
    format: Format,
    author: &str,
    now: &str,
) -> Result<(), RecoveryError> {
    sqlx::query(
        "INSERT INTO disaster_recovery_plan_versions (plan_id, version, plan_name, disaster_scenario, disaster_type, severity_level, estimated_rto_minutes, estimated_rpo_minutes,
            document, document_format, plan, approval_status, review_frequency_days, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'draft', $12, $13, $14)",
    )
    .bind(id)
    .bind(version)
    .bind(&plan.name)
    .bind(plan.disaster_scenario.as_str())
    .bind(plan.disaster_type.as_str())
    .bind(plan.severity)
    .bind(plan.estimated_rto_minutes)
    .bind(plan.estimated_rpo_minutes)
    .bind(text)
    .bind(format.as_str())
    .bind(serde_json::to_string(plan).unwrap_or_default())
    .bind(plan.review_frequency_days)
    .bind(author)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Asks for review: the newest version, from draft to under_review.
pub async fn submit(catalog: &Catalog, actor: &Principal, id: &str, version: i64) -> Result<PlanDetail, RecoveryError> {
    actor.require(Role::Operator)?;
    let now = time::now_text();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let status = version_status(&mut tx.tx, id, version).await?;
    if status != ApprovalStatus::Draft {
        return Err(RecoveryError::Conflict(format!("version {version} is {status}; only a draft is submitted for review")));
    }
    sqlx::query("UPDATE disaster_recovery_plan_versions SET approval_status = 'under_review', submitted_at = $1 WHERE plan_id = $2 AND version = $3")
        .bind(&now)
        .bind(id)
        .bind(version)
        .execute(&mut *tx.tx)
        .await?;
    let detail = serde_json::json!({ "version": version });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "recovery_plan.submit", target_type: "recovery_plan", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    get(catalog, actor, id).await
}

async fn version_status(conn: &mut sqlx::AnyConnection, id: &str, version: i64) -> Result<ApprovalStatus, RecoveryError> {
    sqlx::query_scalar("SELECT approval_status FROM disaster_recovery_plan_versions WHERE plan_id = $1 AND version = $2")
        .bind(id)
        .bind(version)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| RecoveryError::NotFound(format!("version {version} of recovery plan {id}")))
}

/// One approver's approval of a version (a draft or one under review). The version's author
/// cannot approve it; once `requiredApprovals` people have, it is the plan's approved version
/// until its review date.
pub async fn approve(catalog: &Catalog, actor: &Principal, id: &str, decision: &PlanDecision) -> Result<PlanDetail, RecoveryError> {
    actor.require(Role::Approver)?;
    let now = catalog.now().await?;
    let now_text = time::to_text(now);
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let version = decision.version;
    let status = version_status(&mut tx.tx, id, version).await?;
    if !matches!(status, ApprovalStatus::Draft | ApprovalStatus::UnderReview) {
        return Err(RecoveryError::Conflict(format!("version {version} is {status}; edit the plan to make a new version")));
    }
    let (author, plan): (String, String) = sqlx::query_as("SELECT created_by, plan FROM disaster_recovery_plan_versions WHERE plan_id = $1 AND version = $2")
        .bind(id)
        .bind(version)
        .fetch_one(&mut *tx.tx)
        .await?;
    if author == actor.username {
        return Err(RecoveryError::Forbidden(format!("{author} wrote version {version}; another approver must approve it")));
    }
    let plan = read_plan(&plan)?;
    sqlx::query("INSERT INTO disaster_recovery_plan_approvals (plan_id, version, approver, decided_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
        .bind(id)
        .bind(version)
        .bind(&actor.username)
        .bind(&now_text)
        .execute(&mut *tx.tx)
        .await?;
    let approvals: Vec<String> = sqlx::query_scalar("SELECT approver FROM disaster_recovery_plan_approvals WHERE plan_id = $1 AND version = $2 ORDER BY decided_at, approver")
        .bind(id)
        .bind(version)
        .fetch_all(&mut *tx.tx)
        .await?;
    let approved = approvals.len() as i64 >= plan.required_approvals;
    if approved {
        let review = (now + chrono::Duration::days(plan.review_frequency_days)).format("%Y-%m-%d").to_string();
        sqlx::query(
            "UPDATE disaster_recovery_plan_versions SET approval_status = 'approved', decided_by = $1, decided_at = $2, decision_reason = $3, next_review_date = $4 WHERE plan_id = $5 AND version = $6",
        )
        .bind(approvals.join(", "))
        .bind(&now_text)
        .bind(&decision.reason)
        .bind(&review)
        .bind(id)
        .bind(version)
        .execute(&mut *tx.tx)
        .await?;
        sqlx::query("UPDATE disaster_recovery_plans SET approved_version = $1, updated_at = $2 WHERE id = $3").bind(version).bind(&now_text).bind(id).execute(&mut *tx.tx).await?;
        // A drill schedule starts counting from the approval: past its first slot without a
        // drill, the plan's drill is overdue.
        if let Some(next) = super::drills::next_drill(catalog, id, &plan, now).await? {
            sqlx::query("UPDATE disaster_recovery_plans SET next_drill_at = $1 WHERE id = $2 AND next_drill_at IS NULL").bind(&next).bind(id).execute(&mut *tx.tx).await?;
        }
    } else {
        sqlx::query("UPDATE disaster_recovery_plan_versions SET approval_status = 'under_review', submitted_at = COALESCE(submitted_at, $1) WHERE plan_id = $2 AND version = $3")
            .bind(&now_text)
            .bind(id)
            .bind(version)
            .execute(&mut *tx.tx)
            .await?;
    }
    let detail = serde_json::json!({ "version": version, "approvals": approvals, "approved": approved, "reason": decision.reason });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "recovery_plan.approve", target_type: "recovery_plan", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    get(catalog, actor, id).await
}

/// Rejects a version (with a reason): it can no longer be approved; an edit makes a new one.
pub async fn reject(catalog: &Catalog, actor: &Principal, id: &str, decision: &PlanDecision) -> Result<PlanDetail, RecoveryError> {
    actor.require(Role::Approver)?;
    let reason = decision.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).ok_or_else(|| RecoveryError::Invalid("reason: say why the version is rejected".into()))?;
    let now = time::now_text();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let status = version_status(&mut tx.tx, id, decision.version).await?;
    if !matches!(status, ApprovalStatus::Draft | ApprovalStatus::UnderReview) {
        return Err(RecoveryError::Conflict(format!("version {} is {status}", decision.version)));
    }
    sqlx::query("UPDATE disaster_recovery_plan_versions SET approval_status = 'rejected', decided_by = $1, decided_at = $2, decision_reason = $3 WHERE plan_id = $4 AND version = $5")
        .bind(&actor.username)
        .bind(&now)
        .bind(reason)
        .bind(id)
        .bind(decision.version)
        .execute(&mut *tx.tx)
        .await?;
    let detail = serde_json::json!({ "version": decision.version, "reason": reason });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "recovery_plan.reject", target_type: "recovery_plan", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    get(catalog, actor, id).await
}

/// Marks approved versions whose review date has passed as expired; a plan whose approved
/// version expired has none until a new one is approved.
pub async fn expire_due(catalog: &Catalog) -> Result<u64, RecoveryError> {
    let today = catalog.now().await?.format("%Y-%m-%d").to_string();
    let mut tx = catalog.pool().begin().await?;
    let expired = sqlx::query("UPDATE disaster_recovery_plan_versions SET approval_status = 'expired' WHERE approval_status = 'approved' AND next_review_date < $1")
        .bind(&today)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if expired > 0 {
        sqlx::query(
            "UPDATE disaster_recovery_plans SET approved_version = NULL WHERE approved_version IS NOT NULL AND EXISTS
                (SELECT 1 FROM disaster_recovery_plan_versions v WHERE v.plan_id = disaster_recovery_plans.id AND v.version = disaster_recovery_plans.approved_version AND v.approval_status = 'expired')",
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(expired)
}

/// Every plan (viewers may read them).
pub async fn list(catalog: &Catalog, actor: &Principal) -> Result<Vec<PlanSummary>, RecoveryError> {
    actor.require(Role::Viewer)?;
    expire_due(catalog).await?;
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM disaster_recovery_plans ORDER BY plan_name").fetch_all(catalog.pool()).await?;
    let mut plans = Vec::with_capacity(ids.len());
    for id in ids {
        plans.push(summary(catalog, &id).await?);
    }
    Ok(plans)
}

/// One plan with all its versions.
pub async fn get(catalog: &Catalog, actor: &Principal, id: &str) -> Result<PlanDetail, RecoveryError> {
    actor.require(Role::Viewer)?;
    let summary = summary(catalog, id).await?;
    let rows: Vec<VersionRow> = sqlx::query_as(&format!("SELECT {VERSION_COLUMNS} FROM disaster_recovery_plan_versions WHERE plan_id = $1 ORDER BY version DESC"))
        .bind(id)
        .fetch_all(catalog.pool())
        .await?;
    let versions = rows.into_iter().map(VersionRow::into_version).collect::<Result<_, _>>()?;
    Ok(PlanDetail { summary, versions })
}

async fn summary(catalog: &Catalog, id: &str) -> Result<PlanSummary, RecoveryError> {
    let row: PlanRow = sqlx::query_as(
        "SELECT id, current_version, approved_version, is_active, next_drill_at, last_tested, created_by, updated_at FROM disaster_recovery_plans WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(catalog.pool())
    .await?
    .ok_or_else(|| RecoveryError::NotFound(format!("recovery plan {id}")))?;
    let current: VersionRow = sqlx::query_as(&format!("SELECT {VERSION_COLUMNS} FROM disaster_recovery_plan_versions WHERE plan_id = $1 AND version = $2"))
        .bind(id)
        .bind(row.current_version)
        .fetch_one(catalog.pool())
        .await?;
    let status = current.approval_status;
    let review = current.next_review_date.clone();
    let plan = read_plan(&current.plan)?;
    Ok(PlanSummary {
        id: row.id,
        plan_name: plan.name.clone(),
        procedure_name: plan.name.clone(),
        disaster_scenario: plan.disaster_scenario,
        disaster_type: plan.disaster_type,
        severity_level: plan.severity,
        affected_systems: plan.affected_systems.clone(),
        estimated_rto: plan.estimated_rto_minutes,
        estimated_rpo: plan.estimated_rpo_minutes,
        current_version: row.current_version,
        approved_version: row.approved_version,
        approval_status: status,
        next_review_date: review,
        last_tested: row.last_tested,
        next_drill_at: row.next_drill_at,
        is_active: row.is_active != 0 && row.approved_version.is_some(),
        steps: plan.steps.len() as i64,
        created_by: row.created_by,
        updated_at: row.updated_at,
    })
}

/// The version a run executes: the approved one, or for a drill of a plan not approved yet, its
/// newest (whose production steps then wait for an approver).
pub async fn runnable(catalog: &Catalog, id: &str, drill: bool) -> Result<(i64, PlanDocument, bool), RecoveryError> {
    expire_due(catalog).await?;
    let row: Option<(i64, Option<i64>, i64)> = sqlx::query_as("SELECT current_version, approved_version, is_active FROM disaster_recovery_plans WHERE id = $1")
        .bind(id)
        .fetch_optional(catalog.pool())
        .await?;
    let (current, approved, active) = row.ok_or_else(|| RecoveryError::NotFound(format!("recovery plan {id}")))?;
    if active == 0 {
        return Err(RecoveryError::Conflict("the plan is not active".into()));
    }
    let (version, is_approved) = match (approved, drill) {
        (Some(version), _) => (version, true),
        (None, true) => {
            let mut conn = catalog.pool().acquire().await?;
            let status = version_status(&mut conn, id, current).await?;
            if !matches!(status, ApprovalStatus::Draft | ApprovalStatus::UnderReview) {
                return Err(RecoveryError::Conflict(format!("version {current} is {status}: edit the plan for a new draft to drill")));
            }
            (current, false)
        }
        (None, false) => return Err(RecoveryError::Conflict("the plan has no approved version that is still within its review date; approve one first".into())),
    };
    let plan: String = sqlx::query_scalar("SELECT plan FROM disaster_recovery_plan_versions WHERE plan_id = $1 AND version = $2").bind(id).bind(version).fetch_one(catalog.pool()).await?;
    Ok((version, read_plan(&plan)?, is_approved))
}

/// The lines that changed from one version's text to another's, in unified form.
pub async fn diff(catalog: &Catalog, actor: &Principal, id: &str, from: i64, to: i64) -> Result<String, RecoveryError> {
    actor.require(Role::Viewer)?;
    let text = |version: i64| async move {
        sqlx::query_scalar::<_, String>("SELECT document FROM disaster_recovery_plan_versions WHERE plan_id = $1 AND version = $2")
            .bind(id)
            .bind(version)
            .fetch_optional(catalog.pool())
            .await?
            .ok_or_else(|| RecoveryError::NotFound(format!("version {version} of recovery plan {id}")))
    };
    let (old, new) = (text(from).await?, text(to).await?);
    Ok(similar::TextDiff::from_lines(&old, &new).unified_diff().context_radius(3).header(&format!("version {from}"), &format!("version {to}")).to_string())
}

/// A version's document, in the format asked for (the text as written when it is the same).
pub async fn export(catalog: &Catalog, actor: &Principal, id: &str, version: Option<i64>, format: Option<&str>) -> Result<String, RecoveryError> {
    let detail = get(catalog, actor, id).await?;
    let version = version.unwrap_or(detail.summary.current_version);
    let v = detail.versions.into_iter().find(|v| v.version == version).ok_or_else(|| RecoveryError::NotFound(format!("version {version} of recovery plan {id}")))?;
    let wanted = match format {
        None => return Ok(v.document),
        Some("yaml") => Format::Yaml,
        Some("json") => Format::Json,
        Some(other) => return Err(RecoveryError::Invalid(format!("format: yaml or json, not {other:?}"))),
    };
    Ok(if wanted.as_str() == v.document_format { v.document } else { document::write(&v.plan, wanted) })
}

/// Deletes a plan that never ran (admins); one with runs is deactivated instead, so its ledger
/// stays.
pub async fn delete(catalog: &Catalog, actor: &Principal, id: &str) -> Result<(), RecoveryError> {
    actor.require(Role::Admin)?;
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_executions WHERE plan_id = $1").bind(id).fetch_one(&mut *tx.tx).await?;
    let action = if runs > 0 {
        sqlx::query("UPDATE disaster_recovery_plans SET is_active = 0, updated_at = $1 WHERE id = $2").bind(time::now_text()).bind(id).execute(&mut *tx.tx).await?.rows_affected()
    } else {
        sqlx::query("DELETE FROM disaster_recovery_plan_approvals WHERE plan_id = $1").bind(id).execute(&mut *tx.tx).await?;
        sqlx::query("DELETE FROM disaster_recovery_plan_versions WHERE plan_id = $1").bind(id).execute(&mut *tx.tx).await?;
        sqlx::query("DELETE FROM disaster_recovery_plans WHERE id = $1").bind(id).execute(&mut *tx.tx).await?.rows_affected()
    };
    if action == 0 {
        return Err(RecoveryError::NotFound(format!("recovery plan {id}")));
    }
    let detail = serde_json::json!({ "deactivated": runs > 0 });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "recovery_plan.delete", target_type: "recovery_plan", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    Ok(())
}
