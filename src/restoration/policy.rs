//! Approval policies, one per environment: whether restores into it need approval, by how many
//! people other than the requester, with a second-factor code or not, how long a request waits,
//! whether break-glass is allowed, and how long a completed restore can be rolled back. An
//! environment without a stored policy has the default one.

use super::{ApprovalPolicy, ApprovalRule, Environment, RestorationError, RestorationType};
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::time;

/// Production restores need one approver; `full` restores into disaster recovery too (they
/// replace a standby site whole); staging and development none. No break-glass anywhere.
pub fn default_for(environment: Environment) -> ApprovalPolicy {
    let require_approval = match environment {
        Environment::Production => ApprovalRule::Always,
        Environment::DisasterRecovery => ApprovalRule::FullOnly,
        Environment::Staging | Environment::Development => ApprovalRule::Never,
    };
    ApprovalPolicy { environment, require_approval, approvers_required: 1, require_totp: false, validity_hours: 24, break_glass_allowed: false, rollback_hours: 24 }
}

/// Whether a restore of `restoration_type` needs approval under `policy`.
pub fn needs_approval(policy: &ApprovalPolicy, restoration_type: RestorationType) -> bool {
    match policy.require_approval {
        ApprovalRule::Always => true,
        ApprovalRule::FullOnly => restoration_type == RestorationType::Full,
        ApprovalRule::Never => false,
    }
}

type Row = (String, i64, i64, i64, i64, i64);

/// The policy in force for `environment`.
pub async fn of(catalog: &Catalog, environment: Environment) -> Result<ApprovalPolicy, RestorationError> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT require_approval, approvers_required, require_totp, validity_hours, break_glass_allowed, rollback_hours FROM approval_policies WHERE environment = $1",
    )
    .bind(environment.as_str())
    .fetch_optional(catalog.pool())
    .await?;
    let Some((rule, approvers_required, totp, validity_hours, break_glass, rollback_hours)) = row else {
        return Ok(default_for(environment));
    };
    let require_approval = ApprovalRule::parse(&rule).ok_or_else(|| RestorationError::Invalid(format!("the stored policy of {environment} has an unknown rule {rule:?}")))?;
    Ok(ApprovalPolicy {
        environment,
        require_approval,
        approvers_required,
        require_totp: totp != 0,
        validity_hours,
        break_glass_allowed: break_glass != 0,
        rollback_hours,
    })
}

/// Every environment's policy.
pub async fn list(catalog: &Catalog, actor: &Principal) -> Result<Vec<ApprovalPolicy>, RestorationError> {
    actor.require(Role::Viewer)?;
    let mut policies = Vec::new();
    for &environment in Environment::ALL {
        policies.push(of(catalog, environment).await?);
    }
    Ok(policies)
}

/// Replaces an environment's policy (administrators; audited with the old and new values).
pub async fn set(catalog: &Catalog, actor: &Principal, policy: ApprovalPolicy) -> Result<ApprovalPolicy, RestorationError> {
    actor.require(Role::Admin)?;
    let invalid = |m: &str| Err(RestorationError::Invalid(m.into()));
    if !(1..=5).contains(&policy.approvers_required) {
        return invalid("approversRequired: 1 to 5 approvers");
    }
    if !(1..=720).contains(&policy.validity_hours) {
        return invalid("validityHours: 1 to 720 hours (30 days)");
    }
    if !(1..=720).contains(&policy.rollback_hours) {
        return invalid("rollbackHours: 1 to 720 hours (30 days)");
    }
    let old = of(catalog, policy.environment).await?;
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    sqlx::query("DELETE FROM approval_policies WHERE environment = $1").bind(policy.environment.as_str()).execute(&mut *tx.tx).await?;
    sqlx::query(
        "INSERT INTO approval_policies (environment, require_approval, approvers_required, require_totp, validity_hours, break_glass_allowed, rollback_hours, updated_by, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(policy.environment.as_str())
    .bind(policy.require_approval.as_str())
    .bind(policy.approvers_required)
    .bind(i64::from(policy.require_totp))
    .bind(policy.validity_hours)
    .bind(i64::from(policy.break_glass_allowed))
    .bind(policy.rollback_hours)
    .bind(&actor.username)
    .bind(time::now_text())
    .execute(&mut *tx.tx)
    .await?;
    let detail = serde_json::json!({ "old": old, "new": policy });
    let entry = Entry { actor: &Actor::from(actor), action: "approval_policy.update", target_type: "approval_policy", target_id: Some(policy.environment.as_str()), detail };
    audit::append(&mut tx, entry).await?;
    tx.commit().await?;
    Ok(policy)
}
