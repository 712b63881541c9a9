//! Disaster recovery: the plan document a person writes (and keeps in git), and what the
//! console and the API show of plans, their runs step by step, failovers and drills.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::account::Role;
use crate::text_enum::text_enum;

text_enum!(DisasterScenario, "disaster scenario" {
    HardwareFailure => "hardware_failure",
    SoftwareCorruption => "software_corruption",
    CyberAttack => "cyber_attack",
    NaturalDisaster => "natural_disaster",
    PowerOutage => "power_outage",
    NetworkFailure => "network_failure",
    HumanError => "human_error",
    DataCenterOutage => "data_center_outage",
});

text_enum!(DisasterType, "disaster type" {
    DatabaseCorruption => "database_corruption",
    StorageFailure => "storage_failure",
    RegionOutage => "region_outage",
    SecurityBreach => "security_breach",
});

text_enum!(ApprovalStatus, "approval status" {
    Draft => "draft",
    UnderReview => "under_review",
    Approved => "approved",
    Rejected => "rejected",
    /// Approved once, but its review date has passed: it runs no more until reviewed again.
    Expired => "expired",
});

text_enum!(StepType, "step type" {
    BackupRestore => "backup_restore",
    ServiceStart => "service_start",
    DnsUpdate => "dns_update",
    LoadBalancerConfig => "load_balancer_config",
    DatabaseFailover => "database_failover",
    Validation => "validation",
    Notification => "notification",
    Cleanup => "cleanup",
});

text_enum!(ExecutionMode, "execution mode" {
    /// A person started it; gates wait for a person.
    Manual => "manual",
    /// Stops before every step for a person to confirm.
    SemiAutomated => "semi_automated",
    FullyAutomated => "fully_automated",
    /// A drill: against the plan's scratch targets, cleanup always runs.
    Test => "test",
});

text_enum!(TriggerType, "trigger type" {
    Manual => "manual",
    Automated => "automated",
    Scheduled => "scheduled",
    AlertBased => "alert_based",
});

text_enum!(RunStatus, "recovery run status" {
    Initiated => "initiated",
    InProgress => "in_progress",
    /// Stopped at a gate for a person.
    Waiting => "waiting",
    Completed => "completed",
    Failed => "failed",
    Cancelled => "cancelled",
    RolledBack => "rolled_back",
});

impl RunStatus {
    /// Nothing more happens to a run in this state.
    pub fn is_finished(self) -> bool {
        matches!(self, RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled | RunStatus::RolledBack)
    }
}

text_enum!(StepStatus, "step status" {
    Pending => "pending",
    Running => "running",
    Completed => "completed",
    Failed => "failed",
    /// Not run: the run stopped before it.
    Skipped => "skipped",
    /// Failed an attempt; the next one is due at `nextAttemptAt`.
    Retrying => "retrying",
    /// At its manual gate.
    Waiting => "waiting",
    /// Was running on a node that died, and is not safe to run twice: a person decides.
    Interrupted => "interrupted",
    RolledBack => "rolled_back",
});

/// A whole plan as its author writes it, in YAML or JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanDocument {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub disaster_scenario: DisasterScenario,
    pub disaster_type: DisasterType,
    /// 1 (the worst) to 5.
    pub severity: i64,
    #[serde(default)]
    pub affected_systems: Vec<String>,
    #[serde(default)]
    pub prerequisites: Vec<String>,
    pub estimated_rto_minutes: i64,
    pub estimated_rpo_minutes: i64,
    /// Who may run the plan (the lowest role that may); operators by default.
    #[serde(default = "operator")]
    pub required_role: Role,
    /// How many approvers (other than the version's author) approve a version.
    #[serde(default = "one")]
    pub required_approvals: i64,
    #[serde(default = "half_a_year")]
    pub review_frequency_days: i64,
    /// When a health rule starts the plan by itself (approved plans only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_criteria: Option<FailoverCriteria>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<DrillSettings>,
    pub steps: Vec<StepSpec>,
}

fn operator() -> Role {
    Role::Operator
}

fn one() -> i64 {
    1
}

fn half_a_year() -> i64 {
    182
}

/// A monitored service whose consecutive unhealthy probes start the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailoverCriteria {
    pub service: String,
    #[serde(default = "three")]
    pub unhealthy_probes: i64,
}

fn three() -> i64 {
    3
}

/// Drills: when they are due, and the scratch stand-ins of production targets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DrillSettings {
    /// A cron expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Production restore target → the scratch target a drill uses instead.
    #[serde(default)]
    pub targets: BTreeMap<String, String>,
}

/// One step of a runbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub step_type: StepType,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub config: serde_json::Value,
    /// The steps that must complete first. Absent: the step before it (or, inside a parallel
    /// group, whatever came before the group); `[]`: none, it starts at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependencies: Option<Vec<String>>,
    /// Neighbouring steps with the same group run at the same time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_group: Option<String>,
    #[serde(default = "five_minutes")]
    pub timeout_seconds: i64,
    #[serde(default)]
    pub max_retries: i64,
    #[serde(default)]
    pub backoff: Backoff,
    /// A failing critical step stops the run and rolls back; an optional one is recorded.
    #[serde(default = "yes")]
    pub critical: bool,
    #[serde(default)]
    pub success_criteria: Vec<Criterion>,
    /// Undo this step when the run rolls back.
    #[serde(default = "yes")]
    pub rollback: bool,
    /// Wait for a person before the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
}

fn five_minutes() -> i64 {
    300
}

fn yes() -> bool {
    true
}

/// Exponential backoff between attempts: base × 2^(attempt−1), at most `cap`, with full jitter
/// when asked (a random wait up to that).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Backoff {
    pub base_seconds: f64,
    pub cap_seconds: f64,
    pub jitter: bool,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { base_seconds: 1.0, cap_seconds: 60.0, jitter: false }
    }
}

/// A check of a step's output: the value at `field` (dotted path) equals, is at least, at most,
/// or contains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Criterion {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub equals: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_most: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
}

/// A manual gate: the run waits before the step until someone with `role` confirms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gate {
    #[serde(default = "approver")]
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn approver() -> Role {
    Role::Approver
}

/// A plan as lists show it: its newest version's fields (the seeds' procedure fields too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PlanSummary {
    pub id: String,
    pub plan_name: String,
    /// The seeds' procedure name: the plan's.
    pub procedure_name: String,
    pub disaster_scenario: DisasterScenario,
    pub disaster_type: DisasterType,
    pub severity_level: i64,
    pub affected_systems: Vec<String>,
    /// Minutes.
    #[serde(rename = "estimatedRTO")]
    pub estimated_rto: i64,
    #[serde(rename = "estimatedRPO")]
    pub estimated_rpo: i64,
    pub current_version: i64,
    pub approved_version: Option<i64>,
    pub approval_status: ApprovalStatus,
    pub next_review_date: Option<String>,
    pub last_tested: Option<String>,
    pub next_drill_at: Option<String>,
    /// An approved version exists and the plan is active: it can run.
    pub is_active: bool,
    pub steps: i64,
    pub created_by: String,
    pub updated_at: String,
}

/// One version of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PlanVersion {
    pub version: i64,
    pub approval_status: ApprovalStatus,
    /// The document as written.
    pub document: String,
    /// `yaml` or `json`.
    pub document_format: String,
    pub plan: PlanDocument,
    pub created_by: String,
    pub created_at: String,
    pub submitted_at: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision_reason: Option<String>,
    pub next_review_date: Option<String>,
}

/// A plan with its versions, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PlanDetail {
    pub summary: PlanSummary,
    pub versions: Vec<PlanVersion>,
}

/// A new plan, or a new text for one: the document in YAML or JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanRequest {
    pub document: String,
}

/// A problem in a plan document, naming the step and the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PlanProblem {
    pub step: Option<String>,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for PlanProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.step {
            Some(step) => write!(f, "step `{step}`, {}: {}", self.field, self.message),
            None if self.field.is_empty() => f.write_str(&self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

/// A plan version's approval decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanDecision {
    pub version: i64,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The seeds' `POST /api/disaster-recovery/execute`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExecuteRequest {
    pub plan_id: String,
    #[serde(default = "manual_trigger")]
    pub trigger_type: TriggerType,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default = "manual_mode")]
    pub execution_mode: ExecutionMode,
    #[serde(default)]
    pub incident_reference: Option<String>,
    /// When the incident began (RFC 3339); the actual RTO is measured from it. Now by default.
    #[serde(default)]
    pub incident_started_at: Option<String>,
    #[serde(default)]
    pub affected_systems: Option<Vec<String>>,
}

fn manual_trigger() -> TriggerType {
    TriggerType::Manual
}

fn manual_mode() -> ExecutionMode {
    ExecutionMode::Manual
}

/// One step of a run as the console draws it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StepRun {
    pub id: String,
    pub step_name: String,
    pub step_order: i64,
    pub step_type: StepType,
    pub status: StepStatus,
    pub critical: bool,
    pub dependencies: Vec<String>,
    pub parallel_group: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub retry_count: i64,
    pub max_retries: i64,
    pub next_attempt_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub output_data: Option<serde_json::Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub validation_results: Option<serde_json::Value>,
    pub error_message: Option<String>,
    /// At a gate: who may confirm, and what it says.
    pub gate: Option<Gate>,
    pub gate_status: Option<String>,
    pub rollback_status: Option<String>,
    pub rollback_error: Option<String>,
    pub rolled_back_at: Option<String>,
    pub attempts: Vec<StepAttempt>,
}

/// One attempt of a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StepAttempt {
    pub attempt: i64,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub status: StepStatus,
    pub error_message: Option<String>,
    /// The wait before the next attempt.
    pub backoff_ms: Option<i64>,
}

/// A run of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RecoveryRun {
    pub id: String,
    pub execution_name: String,
    pub plan_id: String,
    pub plan_version: i64,
    pub trigger_type: TriggerType,
    pub execution_mode: ExecutionMode,
    pub status: RunStatus,
    pub incident_reference: Option<String>,
    pub incident_started_at: String,
    pub initiated_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub total_duration_ms: Option<i64>,
    pub actual_rto_seconds: Option<f64>,
    pub actual_rpo_seconds: Option<f64>,
    pub data_loss_amount: i64,
    pub affected_services: Vec<String>,
    pub recovery_steps_completed: i64,
    pub recovery_steps_total: i64,
    pub success_criteria_met: Option<bool>,
    pub error_details: Option<String>,
    pub rollback_initiated: bool,
    pub rollback_completed: bool,
    pub initiated_by: String,
    /// Who signed this run off: `plan approval`, or the approver of the procedure door's code.
    pub approved_by: Option<String>,
    /// How the approver signed: `authenticator code` or `run request <id>`.
    pub approval_reference: Option<String>,
    pub steps: Vec<StepRun>,
}

/// The seeds' answer to starting a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RunStarted {
    pub success: bool,
    pub execution_id: String,
    pub status: RunStatus,
    /// Minutes.
    #[serde(rename = "estimatedRTO")]
    pub estimated_rto: i64,
    pub next_steps: Vec<String>,
    pub execution: RecoveryRun,
}

/// A failover, with the seeds' fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FailoverEvent {
    pub id: String,
    pub event_name: String,
    pub trigger_type: String,
    pub source_system: String,
    pub target_system: String,
    pub failover_reason: String,
    pub automated: bool,
    pub initiated_at: String,
    pub completed_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub status: String,
    pub data_consistency_check: bool,
    pub traffic_redirected: bool,
    pub dns_updated: bool,
    pub notification_sent: bool,
    pub execution_id: Option<String>,
}

/// A monitored service's latest state, as the DR dashboard lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceState {
    pub service_name: String,
    pub health_status: String,
    pub monitoring_timestamp: String,
}

/// The disaster-recovery seeds' `GET /api/disaster-recovery/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DrStatus {
    pub success: bool,
    /// healthy, degraded or critical.
    pub status: String,
    /// Why it is not healthy, one sentence each.
    pub reasons: Vec<String>,
    pub active_executions: Vec<RecoveryRun>,
    pub system_health: Vec<ServiceState>,
    pub recent_failovers: Vec<FailoverEvent>,
    /// Each configuration's newest restorable point against its RPO.
    pub backup_status: Vec<crate::Compliance>,
}

text_enum!(RunRequestStatus, "run request status" {
    /// Waiting for an approver.
    Pending => "pending",
    /// Approved: its id is the `approvalCode` that starts the run, once, before it expires.
    Approved => "approved",
    Rejected => "rejected",
    /// Spent: the run it started is named.
    Used => "used",
    /// Not decided, or not used, in time.
    Expired => "expired",
});

/// A person's request to run a plan, for an approver other than them to approve ahead: the
/// approved request's id is the backup seeds' `approvalCode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RunRequest {
    pub id: String,
    pub plan_id: String,
    pub plan_name: String,
    /// The approved version the request is for: a plan approved again since needs a new request.
    pub plan_version: i64,
    pub disaster_type: DisasterType,
    pub reason: String,
    pub incident_reference: Option<String>,
    pub affected_systems: Vec<String>,
    pub status: RunRequestStatus,
    pub requested_by: String,
    pub created_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision_comment: Option<String>,
    /// A pending request must be decided, an approved one used, before this time.
    pub expires_at: String,
    /// The run an approved request started.
    pub execution_id: Option<String>,
}

/// `POST /api/disaster-recovery/requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewRunRequest {
    pub plan_id: String,
    /// Why the plan must run: what the approver reads.
    pub reason: String,
    #[serde(default)]
    pub incident_reference: Option<String>,
    /// The plan's own when absent.
    #[serde(default)]
    pub affected_systems: Option<Vec<String>>,
}

/// An approver's decision on a run request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunRequestDecision {
    /// A note for an approval; required for a rejection.
    #[serde(default)]
    pub comment: Option<String>,
}
