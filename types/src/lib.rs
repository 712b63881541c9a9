//! Bulwark's shared vocabulary: what the core stores and the console shows, in one definition
//! that builds for the server and for the browser (wasm). Renaming a field or a variant here
//! fails to compile on both sides instead of a page silently showing nothing.

mod account;
mod alerts;
mod configurations;
mod cost;
mod execution;
mod health;
mod jobs;
mod json_text;
mod locations;
mod monitoring;
mod notifications;
mod overview;
mod recovery;
mod restoration;
mod restore_tests;
mod retention;
mod size;
mod source_kind;
mod status;
mod text_enum;

pub use alerts::{AcknowledgeRequest, Alert, AlertStatus, ResolveRequest};
pub use account::{AuditRow, Enrollment, Me, Role, TokenRow, UserRow};
pub use cost::{
    ConfigurationCost, ConfigurationStorage, CostAnalysis, CostBreakdown, CostPoint, CostRow, LocationCost, LocationStorage, Prices, StoragePoint, StorageUtilization, Suggestion,
    SuggestionAction,
};
pub use configurations::{ConfigurationDetail, ConfigurationRow, ExecutionLine, RecoveryWindowView, SlotLine};
pub use execution::{DirectoryRestored, Execution, SAFETY_EXECUTION_TYPE, ExecutionView, FileDiffRow, GroupMember, GroupPoint, MemberPosition, Progress};
pub use health::{Compliance, DailyBackups, Dashboard, DashboardOverview, HealthMetrics, HealthReport, HealthTrends, RecentExecution, StorageGrowth, SystemHealth, UpcomingTask};
pub use jobs::{JobLine, JobState};
pub use json_text::serialize as serialize_json_text;
pub use locations::{EntryView, FloorView, LocationRow, RecoveryKitView, ReplicationLine, ReplicationRuleLine, ReplicationStatus, SnapshotView, TestOutcome};
pub use monitoring::{HealthSample, HealthStatus, HealthSummary, MonitoredService, RecordSample, ServiceHealth, ServiceKind, ServiceRequest, ServiceSettings, ServicesHealth};
pub use notifications::{
    AlertEvent, AlertHistory, Channel, ChannelCreated, ChannelKind, ChannelRequest, ChannelSettings, Delivery, DeliveryAttempt, DeliveryStatus, EscalationSchedule, EscalationStep, Routing, Silence,
    SilenceRequest, SmtpSecurity,
};
pub use overview::Overview;
pub use recovery::{
    ApprovalStatus, Backoff, Criterion, DisasterScenario, DisasterType, DrStatus, DrillSettings, ExecuteRequest, ExecutionMode, FailoverCriteria, FailoverEvent, Gate, PlanDecision, PlanDetail, PlanDocument,
    NewRunRequest, PlanProblem, PlanRequest, PlanSummary, PlanVersion, RecoveryRun, RunRequest, RunRequestDecision, RunRequestStatus, RunStarted, RunStatus, ServiceState, StepAttempt, StepRun,
    StepSpec, StepStatus, StepType, TriggerType,
};
pub use restoration::{
    Alternative, ApprovalLine, ApprovalPolicy, ApprovalRule, AvailableBackup, ConflictResolution, Environment, Restoration, RestorationInitiated, RestorationProgress, RestorationRequest, RestorationScope,
    RestorationStatus, RestorationType, RestoreTargetLine, RollbackRequest, TargetType,
};
pub use restore_tests::{TestLine, TestMetrics, TestResultsView, TestStatus};
pub use retention::{CandidateLine, CleanupView, HoldLine, RetentionInfo};
pub use size::human_bytes;
pub use source_kind::SourceKind;
pub use status::{AlertType, ExecutionStatus, Severity};
