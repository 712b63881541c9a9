//! Requests to run a plan, approved ahead: a person asks, an approver other than them approves
//! (or rejects), and the approved request's id is the `approvalCode` with which the requester
//! starts the run at the backup seeds' procedure door — once, before it expires, and only for
//! the plan version that was approved when they asked.

use bulwark_types::{DisasterType, NewRunRequest, Role, RunRequest, RunRequestDecision, RunRequestStatus};

use super::{RecoveryError, plans};
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::Principal;
use crate::platform::catalog::Catalog;
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::time;

/// How long a request waits for a decision, in hours.
const DECIDE_WITHIN_HOURS: i64 = 24;
/// How long an approval holds, in hours: a disaster's sign-off does not carry over to next
/// week's.
const USE_WITHIN_HOURS: i64 = 8;

const COLUMNS: &str = "r.id, r.plan_id, p.plan_name, r.plan_version, r.disaster_type, r.reason, r.incident_reference, r.affected_systems, r.status, r.requested_by, r.requester_id,
    r.created_at, r.decided_by, r.decided_at, r.decision_comment, r.expires_at, r.execution_id";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    plan_id: String,
    plan_name: String,
    plan_version: i64,
    disaster_type: DisasterType,
    reason: String,
    incident_reference: Option<String>,
    affected_systems: String,
    status: RunRequestStatus,
    requested_by: String,
    requester_id: String,
    created_at: String,
    decided_by: Option<String>,
    decided_at: Option<String>,
    decision_comment: Option<String>,
    expires_at: String,
    execution_id: Option<String>,
}

impl Row {
    /// The status as of `now`: a pending or approved request past its deadline has expired.
    fn status_at(&self, now: &str) -> RunRequestStatus {
        match self.status {
            RunRequestStatus::Pending | RunRequestStatus::Approved if self.expires_at.as_str() < now => RunRequestStatus::Expired,
            status => status,
        }
    }

    fn into_request(self, now: &str) -> RunRequest {
        RunRequest {
            status: self.status_at(now),
            affected_systems: serde_json::from_str(&self.affected_systems).unwrap_or_default(),
            id: self.id,
            plan_id: self.plan_id,
            plan_name: self.plan_name,
            plan_version: self.plan_version,
            disaster_type: self.disaster_type,
            reason: self.reason,
            incident_reference: self.incident_reference,
            requested_by: self.requested_by,
            created_at: self.created_at,
            decided_by: self.decided_by,
            decided_at: self.decided_at,
            decision_comment: self.decision_comment,
            expires_at: self.expires_at,
            execution_id: self.execution_id,
        }
    }
}

async fn find(catalog: &Catalog, id: &str) -> Result<Row, RecoveryError> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM recovery_run_requests r JOIN disaster_recovery_plans p ON p.id = r.plan_id WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(catalog.pool())
        .await?
        .ok_or_else(|| RecoveryError::NotFound(format!("run request {id}")))
}

/// Asks to run a plan's approved version. Approvers are told through the channels that route
/// approval requests.
pub async fn create(catalog: &Catalog, actor: &Principal, request: &NewRunRequest) -> Result<RunRequest, RecoveryError> {
    actor.require(Role::Operator)?;
    let (version, plan, _) = plans::runnable(catalog, &request.plan_id, false).await?;
    actor.require(plan.required_role)?;
    let reason = request.reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(RecoveryError::Invalid("reason: say why the plan must run, in up to 2,000 characters".into()));
    }
    let reference = request.incident_reference.as_deref().map(str::trim).filter(|r| !r.is_empty());
    if reference.is_some_and(|r| r.chars().count() > 200) {
        return Err(RecoveryError::Invalid("incidentReference: at most 200 characters".into()));
    }
    let affected = request.affected_systems.clone().unwrap_or_else(|| plan.affected_systems.clone());
    if affected.len() > 50 || affected.iter().any(|s| s.trim().is_empty() || s.chars().count() > 100) {
        return Err(RecoveryError::Invalid("affectedSystems: up to 50 names of 1 to 100 characters".into()));
    }
    let now = catalog.now().await?;
    let id = uuid::Uuid::new_v4().to_string();
    let expires_at = time::to_text(now + chrono::Duration::hours(DECIDE_WITHIN_HOURS));
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    sqlx::query(
        "INSERT INTO recovery_run_requests (id, plan_id, plan_version, disaster_type, reason, incident_reference, affected_systems, status, requested_by, requester_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, $11)",
    )
    .bind(&id)
    .bind(&request.plan_id)
    .bind(version)
    .bind(plan.disaster_type.as_str())
    .bind(reason)
    .bind(reference)
    .bind(serde_json::to_string(&affected).unwrap_or_default())
    .bind(&actor.username)
    .bind(&actor.user_id)
    .bind(time::to_text(now))
    .bind(&expires_at)
    .execute(&mut *tx.tx)
    .await?;
    tell_approvers_in(&mut tx.tx, &id, &plan.name, version, reason, &actor.username, &expires_at).await?;
    let detail = serde_json::json!({ "plan": request.plan_id, "version": version, "reason": reason, "incidentReference": reference });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "recovery.request", target_type: "recovery_run_request", target_id: Some(&id), detail }).await?;
    tx.commit().await?;
    get(catalog, actor, &id).await
}

async fn tell_approvers_in(conn: &mut sqlx::AnyConnection, id: &str, plan: &str, version: i64, reason: &str, by: &str, expires_at: &str) -> Result<(), RecoveryError> {
    use crate::notifications::{self, About, Notice};
    let title = format!("Approval needed: run recovery plan {plan}");
    let text = format!(
        "{by} asks to run version {version} of the recovery plan {plan}: {reason}\n\nAn approver other than {by} decides before {expires_at} on the console's Approvals page, or with POST /api/disaster-recovery/requests/{id}/approve (or /reject)."
    );
    let record = serde_json::json!({ "runRequestId": id, "plan": plan, "planVersion": version, "reason": reason, "requestedBy": by, "expiresAt": expires_at });
    notifications::notify_on(conn, &Notice { event: "approval.requested", about: About::ApprovalRequest, title, text, record }).await?;
    Ok(())
}

pub async fn get(catalog: &Catalog, actor: &Principal, id: &str) -> Result<RunRequest, RecoveryError> {
    actor.require(Role::Viewer)?;
    let now = time::to_text(catalog.now().await?);
    Ok(find(catalog, id).await?.into_request(&now))
}

/// Requests, newest first; of one status when given.
pub async fn list(catalog: &Catalog, actor: &Principal, status: Option<RunRequestStatus>) -> Result<Vec<RunRequest>, RecoveryError> {
    actor.require(Role::Viewer)?;
    let now = time::to_text(catalog.now().await?);
    // Expired is not stored: a pending or approved request past its deadline.
    let (stored, deadline) = match status {
        None => ("", ""),
        Some(RunRequestStatus::Expired) => ("", "AND r.status IN ('pending', 'approved') AND r.expires_at < $2"),
        Some(s @ (RunRequestStatus::Pending | RunRequestStatus::Approved)) => (s.as_str(), "AND r.expires_at >= $2"),
        Some(s) => (s.as_str(), ""),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM recovery_run_requests r JOIN disaster_recovery_plans p ON p.id = r.plan_id
         WHERE ($1 = '' OR r.status = $1) {deadline} ORDER BY r.created_at DESC LIMIT 200"
    );
    let mut query = sqlx::query_as::<_, Row>(&sql).bind(stored);
    if !deadline.is_empty() {
        query = query.bind(&now);
    }
    let rows = query.fetch_all(catalog.pool()).await?;
    Ok(rows.into_iter().map(|r| r.into_request(&now)).collect())
}

/// How many requests wait for a decision `actor` may give: never their own.
pub async fn pending_for(catalog: &Catalog, actor: &Principal) -> Result<i64, RecoveryError> {
    actor.require(Role::Viewer)?;
    if actor.role < Role::Approver {
        return Ok(0);
    }
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM recovery_run_requests WHERE status = 'pending' AND requester_id <> $1 AND expires_at >= $2")
        .bind(&actor.user_id)
        .bind(time::to_text(catalog.now().await?))
        .fetch_one(catalog.pool())
        .await?)
}

/// Approves a pending request: its id now starts the run, for the next `USE_WITHIN_HOURS`.
pub async fn approve(catalog: &Catalog, actor: &Principal, id: &str, decision: &RunRequestDecision) -> Result<RunRequest, RecoveryError> {
    decide(catalog, actor, id, RunRequestStatus::Approved, decision.comment.as_deref()).await
}

/// Rejects a pending request, saying why.
pub async fn reject(catalog: &Catalog, actor: &Principal, id: &str, decision: &RunRequestDecision) -> Result<RunRequest, RecoveryError> {
    decide(catalog, actor, id, RunRequestStatus::Rejected, decision.comment.as_deref()).await
}

async fn decide(catalog: &Catalog, actor: &Principal, id: &str, outcome: RunRequestStatus, comment: Option<&str>) -> Result<RunRequest, RecoveryError> {
    actor.require(Role::Approver)?;
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if comment.is_some_and(|c| c.chars().count() > 2000) {
        return Err(RecoveryError::Invalid("comment: up to 2,000 characters".into()));
    }
    if outcome == RunRequestStatus::Rejected && comment.is_none() {
        return Err(RecoveryError::Invalid("comment: say why the plan must not run".into()));
    }
    let row = find(catalog, id).await?;
    if row.requester_id == actor.user_id {
        return Err(RecoveryError::Forbidden("you asked for this run: another approver decides it".into()));
    }
    // Approving needs the plan still runnable and the plan's role; rejecting only an approver.
    if outcome == RunRequestStatus::Approved {
        actor.require(plans::runnable(catalog, &row.plan_id, false).await?.1.required_role)?;
    }
    let now = catalog.now().await?;
    let now_text = time::to_text(now);
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    // Read again under the lock: of two approvers deciding at once, the second sees the first.
    let (status, expires_at): (RunRequestStatus, String) = sqlx::query_as("SELECT status, expires_at FROM recovery_run_requests WHERE id = $1").bind(id).fetch_one(&mut *tx.tx).await?;
    if status != RunRequestStatus::Pending || expires_at < now_text {
        let status = if status == RunRequestStatus::Pending { RunRequestStatus::Expired } else { status };
        return Err(RecoveryError::Conflict(format!("run request {id} is {status}: there is nothing to decide")));
    }
    let approved: Option<i64> = sqlx::query_scalar("SELECT approved_version FROM disaster_recovery_plans WHERE id = $1").bind(&row.plan_id).fetch_one(&mut *tx.tx).await?;
    if outcome == RunRequestStatus::Approved && approved != Some(row.plan_version) {
        return Err(RecoveryError::Conflict(format!("the plan's approved version is no longer {}: the requester asks again", row.plan_version)));
    }
    let deadline = if outcome == RunRequestStatus::Approved { time::to_text(now + chrono::Duration::hours(USE_WITHIN_HOURS)) } else { expires_at };
    sqlx::query("UPDATE recovery_run_requests SET status = $1, decided_by = $2, decided_at = $3, decision_comment = $4, expires_at = $5 WHERE id = $6")
        .bind(outcome.as_str())
        .bind(&actor.username)
        .bind(&now_text)
        .bind(comment)
        .bind(&deadline)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
    let action = if outcome == RunRequestStatus::Approved { "recovery.request.approve" } else { "recovery.request.reject" };
    let detail = serde_json::json!({ "plan": row.plan_id, "version": row.plan_version, "requestedBy": row.requested_by, "comment": comment });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action, target_type: "recovery_run_request", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    get(catalog, actor, id).await
}

/// An approved request about to start its run: who approved it, and what the requester asked.
pub(super) struct Approved {
    pub id: String,
    pub approver: String,
    pub version: i64,
    pub reason: String,
    pub incident_reference: Option<String>,
    pub affected_systems: Vec<String>,
}

/// Checks that request `id` lets `actor` run plan `plan_id` for `disaster_type` now. The
/// request is spent by the run's own transaction (`spend_on`).
pub(super) async fn check(catalog: &Catalog, actor: &Principal, id: &str, plan_id: &str, disaster_type: DisasterType) -> Result<Approved, RecoveryError> {
    let row = find(catalog, id).await.map_err(|e| match e {
        RecoveryError::NotFound(_) => RecoveryError::NotFound(format!("approvalCode: run request {id}")),
        other => other,
    })?;
    if row.requester_id != actor.user_id {
        return Err(RecoveryError::Forbidden(format!("approvalCode: run request {id} is {}'s; only they start the run it approves", row.requested_by)));
    }
    if row.plan_id != plan_id {
        return Err(RecoveryError::Invalid(format!("approvalCode: run request {id} is for another procedure ({})", row.plan_name)));
    }
    if row.disaster_type != disaster_type {
        return Err(RecoveryError::Invalid(format!("disasterType: run request {id} was approved for {}", row.disaster_type)));
    }
    let now = time::to_text(catalog.now().await?);
    match row.status_at(&now) {
        RunRequestStatus::Approved => {}
        RunRequestStatus::Used => {
            return Err(RecoveryError::Conflict(format!("approvalCode: run request {id} started run {} already", row.execution_id.unwrap_or_default())));
        }
        status => return Err(RecoveryError::Conflict(format!("approvalCode: run request {id} is {status}, not approved"))),
    }
    let affected_systems = serde_json::from_str(&row.affected_systems).unwrap_or_default();
    Ok(Approved {
        approver: row.decided_by.unwrap_or_default(),
        id: row.id,
        version: row.plan_version,
        reason: row.reason,
        incident_reference: row.incident_reference,
        affected_systems,
    })
}

/// Spends request `id` on run `execution_id`, inside the transaction that records the run:
/// of two runs started with one request, the second finds it used and starts nothing.
pub(super) async fn spend_on(conn: &mut sqlx::AnyConnection, id: &str, execution_id: &str, now: &str) -> Result<(), RecoveryError> {
    // The version is checked again here, under the run's lock: a plan approved again since
    // the check leaves this request unspent.
    let spent = sqlx::query(
        "UPDATE recovery_run_requests SET status = 'used', execution_id = $1 WHERE id = $2 AND status = 'approved' AND expires_at >= $3
             AND plan_version = (SELECT approved_version FROM disaster_recovery_plans WHERE id = recovery_run_requests.plan_id)",
    )
        .bind(execution_id)
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if spent == 0 {
        return Err(RecoveryError::Conflict(format!("approvalCode: run request {id} was used, expired or outdated by a new approval of the plan meanwhile")));
    }
    Ok(())
}
