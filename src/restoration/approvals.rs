//! Four eyes on restores: approvers other than the requester approve or reject a restoration
//! that waits for approval. Each decision is one row per approver and request, bound to the
//! request's hash; the decision that completes the count queues the restore in the same
//! transaction, and a request changed since voids the approvals given (`jobs::update`).

use super::jobs::{self, SUBJECT};
use super::{Restoration, RestorationError, RestorationStatus};
use crate::platform::accounts::totp;
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::secrets::SecretBox;
use crate::platform::time;

pub use bulwark_types::ApprovalLine;

/// A request waiting for approval, as its approvers are told of it.
pub(super) struct Waiting<'a> {
    pub id: &'a str,
    pub configuration: &'a str,
    pub target: &'a str,
    pub environment: bulwark_types::Environment,
    pub restoration_type: bulwark_types::RestorationType,
    pub requested_by: &'a str,
    pub approvals_needed: i64,
    pub expires_at: Option<&'a str>,
}

/// Tells the channels that route approval requests that restoration `w.id` waits for an
/// approver, inside the transaction that recorded it (the request, or its change).
pub(super) async fn tell_approvers_in(conn: &mut sqlx::AnyConnection, w: &Waiting<'_>) -> Result<usize, RestorationError> {
    use crate::notifications::{self, About, Notice};
    let title = format!("Approval needed: restore {} into {} ({})", w.configuration, w.target, w.environment);
    let text = format!(
        "{} asks to restore {} ({}) into {} in {}. It needs {} approval{} from someone else{}.\n\nDecide on the console's Approvals page, or with POST /api/admin/backups/restoration/{}/approve (or /reject).",
        w.requested_by,
        w.configuration,
        w.restoration_type,
        w.target,
        w.environment,
        w.approvals_needed,
        if w.approvals_needed == 1 { "" } else { "s" },
        w.expires_at.map(|at| format!(" before {at}")).unwrap_or_default(),
        w.id
    );
    let record = serde_json::json!({
        "restorationId": w.id, "configuration": w.configuration, "targetIdentifier": w.target, "targetEnvironment": w.environment,
        "restorationType": w.restoration_type, "requestedBy": w.requested_by, "approvalsNeeded": w.approvals_needed, "approvalExpiresAt": w.expires_at,
    });
    let notice = Notice { event: "approval.requested", about: About::ApprovalRequest, title, text, record };
    Ok(notifications::notify_on(conn, &notice).await?)
}

/// The decisions on restoration `id`, oldest first.
pub(super) async fn of(catalog: &Catalog, id: &str) -> Result<Vec<ApprovalLine>, RestorationError> {
    let rows: Vec<(String, String, Option<String>, i64, String)> = sqlx::query_as(
        "SELECT decided_by_name, decision, reason, totp_confirmed, decided_at FROM approvals WHERE subject_type = $1 AND subject_id = $2 ORDER BY decided_at",
    )
    .bind(SUBJECT)
    .bind(id)
    .fetch_all(catalog.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(decided_by, decision, reason, totp, decided_at)| ApprovalLine { decided_by, decision, reason, totp_confirmed: totp != 0, decided_at })
        .collect())
}

/// Who may decide: an approver or administrator with a session or their own full token, never
/// the requester.
fn may_decide(actor: &Principal, requester: &jobs::Row) -> Result<(), RestorationError> {
    actor.require(Role::Approver)?;
    if requester.is_requester(actor) {
        return Err(RestorationError::Forbidden("you requested this restoration: another approver must decide it".into()));
    }
    Ok(())
}

fn waiting(row: &jobs::Row) -> Result<(), RestorationError> {
    match row.status {
        RestorationStatus::ApprovalRequired => Ok(()),
        status => Err(RestorationError::Conflict(format!("restoration {} is {status}: there is nothing to decide", row.id))),
    }
}

/// Approves restoration `id`. Where the policy asks for it, `totp_code` is a fresh code of the
/// approver's second factor. The approval that completes the count queues the restore.
pub async fn approve(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, id: &str, totp_code: Option<&str>, comment: Option<&str>) -> Result<Restoration, RestorationError> {
    let row = jobs::find(catalog, id).await?;
    may_decide(actor, &row)?;
    waiting(&row)?;
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if comment.is_some_and(|c| c.chars().count() > 2000) {
        return Err(RestorationError::Invalid("comment: up to 2000 characters".into()));
    }
    let confirmed = match totp_code.map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => {
            if !totp::confirm_action(catalog, secrets, &actor.user_id, code).await? {
                return Err(RestorationError::Forbidden("totpCode: wrong, expired or already used; type the code your authenticator shows now".into()));
            }
            true
        }
        None if row.require_totp != 0 => {
            return Err(RestorationError::Invalid(format!("totpCode: the {} policy needs a code from your authenticator to approve", row.target_environment)));
        }
        None => false,
    };
    decide(catalog, actor, &row, "approved", comment, confirmed).await
}

/// Rejects restoration `id` with a reason; it will not run.
pub async fn reject(catalog: &Catalog, actor: &Principal, id: &str, reason: &str) -> Result<Restoration, RestorationError> {
    let row = jobs::find(catalog, id).await?;
    may_decide(actor, &row)?;
    waiting(&row)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(RestorationError::Invalid("reason: say why, in up to 2000 characters".into()));
    }
    decide(catalog, actor, &row, "rejected", Some(reason), false).await
}

async fn decide(catalog: &Catalog, actor: &Principal, row: &jobs::Row, decision: &str, reason: Option<&str>, totp_confirmed: bool) -> Result<Restoration, RestorationError> {
    let now = time::to_text(catalog.now().await?);
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    // Read again under the lock: of two approvers deciding at once, the second sees the first.
    let (status, hash, expires): (RestorationStatus, String, Option<String>) =
        sqlx::query_as("SELECT status, request_hash, approval_expires_at FROM restoration_jobs WHERE id = $1").bind(&row.id).fetch_one(&mut *tx.tx).await?;
    if expires.as_deref().is_some_and(|at| at < now.as_str()) {
        return Err(RestorationError::Conflict(format!("restoration {} expired at {}: request it again", row.id, expires.unwrap_or_default())));
    }
    if status != RestorationStatus::ApprovalRequired {
        return Err(RestorationError::Conflict(format!("restoration {} was {status} meanwhile: there is nothing to decide", row.id)));
    }
    if hash != row.request_hash {
        return Err(RestorationError::Conflict(format!("restoration {} changed while you looked at it: look again", row.id)));
    }
    let already: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM approvals WHERE subject_type = $1 AND subject_id = $2 AND decided_by = $3")
        .bind(SUBJECT)
        .bind(&row.id)
        .bind(&actor.user_id)
        .fetch_one(&mut *tx.tx)
        .await?;
    if already > 0 {
        return Err(RestorationError::Conflict("you already decided on this restoration; another approver must add theirs".into()));
    }
    sqlx::query(
        "INSERT INTO approvals (id, subject_type, subject_id, decided_by, decided_by_name, decision, reason, request_hash, totp_confirmed, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(SUBJECT)
    .bind(&row.id)
    .bind(&actor.user_id)
    .bind(&actor.username)
    .bind(decision)
    .bind(reason)
    .bind(&hash)
    .bind(i64::from(totp_confirmed))
    .bind(&now)
    .execute(&mut *tx.tx)
    .await?;
    let approvers: Vec<String> = sqlx::query_scalar(
        "SELECT decided_by_name FROM approvals WHERE subject_type = $1 AND subject_id = $2 AND decision = 'approved' AND request_hash = $3 ORDER BY decided_at",
    )
    .bind(SUBJECT)
    .bind(&row.id)
    .bind(&hash)
    .fetch_all(&mut *tx.tx)
    .await?;
    let outcome = match decision {
        "rejected" => Some(RestorationStatus::Rejected),
        _ if approvers.len() as i64 >= row.approvals_needed => Some(RestorationStatus::Initiated),
        _ => None,
    };
    if let Some(status) = outcome {
        let message = (status == RestorationStatus::Rejected).then(|| format!("rejected by {}: {}", actor.username, reason.unwrap_or("")));
        sqlx::query("UPDATE restoration_jobs SET status = $1, approved_by = $2, error_message = COALESCE($3, error_message), updated_at = $4 WHERE id = $5 AND status = 'approval_required'")
            .bind(status.as_str())
            .bind((!approvers.is_empty()).then(|| approvers.join(", ")))
            .bind(message)
            .bind(&now)
            .bind(&row.id)
            .execute(&mut *tx.tx)
            .await?;
        if status == RestorationStatus::Initiated {
            jobs::queue_in(&mut tx.tx, &row.id).await?;
        }
    }
    let detail = serde_json::json!({
        "decision": decision, "reason": reason, "totpConfirmed": totp_confirmed, "requestHash": hash,
        "approvals": approvers.len(), "approvalsNeeded": row.approvals_needed, "target": row.target_identifier, "environment": row.target_environment,
    });
    let action = if decision == "approved" { "restoration.approve" } else { "restoration.reject" };
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action, target_type: "restoration", target_id: Some(&row.id), detail }).await?;
    tx.commit().await?;
    crate::platform::jobs::wake_idle();
    jobs::get(catalog, actor, &row.id).await
}

/// How many restorations wait for a decision `actor` may give (the navigation's badge): none
/// for roles that cannot approve, and never one's own requests.
pub async fn pending_for(catalog: &Catalog, actor: &Principal) -> Result<i64, RestorationError> {
    actor.require(Role::Viewer)?;
    if actor.role < Role::Approver {
        return Ok(0);
    }
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM restoration_jobs r WHERE r.status = 'approval_required' AND r.initiated_by <> $1 AND r.approval_expires_at >= $2
             AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.subject_type = $3 AND a.subject_id = r.id AND a.decided_by = $1)",
    )
    .bind(&actor.user_id)
    .bind(time::to_text(catalog.now().await?))
    .bind(SUBJECT)
    .fetch_one(catalog.pool())
    .await?)
}
