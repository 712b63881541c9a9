//! approval_waiting: a restoration that has waited for an approver for an hour (or for half its
//! approval validity, when that is shorter) is an alert, told like any other (high for
//! production, medium elsewhere), so a request does not expire unseen. It resolves once the
//! request is decided, expires or is cancelled. Run each minute by the `alerts.evaluate` job.

use chrono::{DateTime, Duration, Utc};

use super::RestorationError;
use crate::alerts::{self, AlertType, Condition, Severity};
use crate::platform::catalog::Catalog;
use crate::platform::time;

fn subject(id: &str) -> String {
    format!("restoration:{id}")
}

/// Raises the alert of each request waiting too long as of `now`, resolves those no longer
/// waiting; returns how many it raised.
pub async fn evaluate_at(catalog: &Catalog, now: DateTime<Utc>) -> Result<usize, RestorationError> {
    let waiting: Vec<(String, String, String, String, String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT r.id, r.target_environment, r.target_identifier, r.initiated_by_name, c.name, r.created_at, r.approval_expires_at, r.configuration_id
           FROM restoration_jobs r JOIN backup_configurations c ON c.id = r.configuration_id WHERE r.status = 'approval_required'",
    )
    .fetch_all(catalog.pool())
    .await?;
    let mut raised = 0;
    let now_text = time::to_text(now);
    // Past its validity it is expired, whatever its row says until someone looks at it.
    let still = |expires: &Option<String>| expires.as_deref().is_none_or(|e| e > now_text.as_str());
    for (id, environment, target, requester, configuration, created, expires, configuration_id) in &waiting {
        let Some(created_at) = time::parse(created) else { continue };
        if !still(expires) {
            continue;
        }
        let validity = expires.as_deref().and_then(time::parse).map(|e| e - created_at).unwrap_or(Duration::hours(24));
        let limit = (validity / 2).min(Duration::hours(1));
        if now - created_at < limit || alerts::is_open(catalog, AlertType::ApprovalWaiting, &subject(id)).await? {
            continue;
        }
        let message = format!(
            "{requester}'s restore of {configuration} into {target} ({environment}) has waited {} minutes for an approver{}",
            (now - created_at).num_minutes(),
            expires.as_deref().map(|e| format!("; it expires at {e}")).unwrap_or_default()
        );
        let severity = if environment == "production" { Severity::High } else { Severity::Medium };
        let subject = subject(id);
        let condition = Condition { alert_type: AlertType::ApprovalWaiting, severity, subject: &subject, message: &message, configuration_id: Some(configuration_id), execution_id: None };
        alerts::raise_condition(catalog, &condition)
            .await?;
        raised += 1;
    }
    let open = alerts::open_subjects(catalog, AlertType::ApprovalWaiting).await?;
    for subject_text in open {
        let id = subject_text.strip_prefix("restoration:").unwrap_or_default();
        let row: Option<(String, Option<String>)> = sqlx::query_as("SELECT status, approval_expires_at FROM restoration_jobs WHERE id = $1").bind(id).fetch_optional(catalog.pool()).await?;
        let status = match &row {
            Some((status, expires)) if status == "approval_required" && !still(expires) => Some("expired"),
            Some((status, _)) => Some(status.as_str()),
            None => None,
        };
        if status != Some("approval_required") {
            let reason = format!("the request is no longer waiting: {}", status.unwrap_or("gone"));
            alerts::resolve(catalog, AlertType::ApprovalWaiting, &subject_text, &reason).await?;
        }
    }
    Ok(raised)
}
