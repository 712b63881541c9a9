//! Restore tests (`backup_tests`): a backup restored for real into a scratch target, checked,
//! timed and cleaned up. The restore time is the measured RTO, the backup's age at the test
//! the RPO it gives; both are compared with the configuration's targets, and what falls short
//! becomes an issue and a recommendation. A failed test raises an alert.
//!
//! Scratch targets: a temporary directory for files (every file is verified against its
//! SHA-256 as it lands, and the file count against the manifest); a new database on the
//! source's server for PostgreSQL dumps (every table the backup recorded must exist; row counts
//! are reported), dropped afterwards; a new data directory for base backups, replayed to the
//! latest archived WAL, started and checked, then stopped and removed.

use bulwark_types::TestMetrics;
pub use bulwark_types::TestStatus;
use serde::{Deserialize, Serialize};

use crate::alerts::{self, AlertType, Severity};
use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::catalog::{Catalog, CatalogError};
use crate::configurations::{self, Configuration, ConfigurationError};
use crate::error::{Classify, Kind};
use crate::executions::{self, Execution, ExecutionError, ExecutionStatus};
use crate::platform::jobs::{self, JobError, NewJob};
use crate::platform::secrets::SecretBox;
use crate::platform::time;

#[derive(Debug, thiserror::Error)]
pub enum TestingError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Configuration(#[from] ConfigurationError),
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    #[error(transparent)]
    Job(#[from] JobError),
}

impl From<sqlx::Error> for TestingError {
    fn from(e: sqlx::Error) -> Self {
        TestingError::Catalog(CatalogError::Query(e))
    }
}

impl Classify for TestingError {
    fn kind(&self) -> Kind {
        match self {
            TestingError::Invalid(_) => Kind::Invalid,
            TestingError::NotFound(_) => Kind::NotFound,
            TestingError::Auth(e) => e.kind(),
            TestingError::Catalog(e) => e.kind(),
            TestingError::Configuration(e) => e.kind(),
            TestingError::Execution(e) => e.kind(),
            TestingError::Job(e) => e.kind(),
        }
    }
}

/// A `backup_tests` row as the API and the console show it, in the seeds' names.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupTest {
    pub id: String,
    pub execution_id: String,
    /// `restoration` (restored into a scratch target and checked) or `integrity` (read back
    /// whole, nothing written).
    pub test_type: String,
    /// `single_backup`, `configuration` (its latest backup) or `full_system` (every active
    /// configuration's latest backup, one test each).
    pub test_scope: String,
    /// What the person named the environment; the restore always goes to a scratch target.
    pub test_environment: String,
    #[schema(value_type = serde_json::Value)]
    #[serde(serialize_with = "bulwark_types::serialize_json_text")]
    pub test_parameters: String,
    pub status: TestStatus,
    /// When it is due (`None`: at once).
    pub scheduled_for: Option<String>,
    #[serde(rename = "startTime")]
    pub started_at: Option<String>,
    #[serde(rename = "endTime")]
    pub completed_at: Option<String>,
    /// [`TestMetrics`] as JSON text: the measured RTO and RPO, the target, the sizes.
    #[schema(value_type = TestMetrics)]
    #[serde(serialize_with = "bulwark_types::serialize_json_text")]
    pub performance_metrics: String,
    #[schema(value_type = serde_json::Value)]
    #[serde(serialize_with = "bulwark_types::serialize_json_text")]
    pub issues_found: String,
    #[schema(value_type = serde_json::Value)]
    #[serde(serialize_with = "bulwark_types::serialize_json_text")]
    pub recommendations: String,
    pub created_at: String,
}

impl BackupTest {
    /// What it measured; all absent before it finishes.
    pub fn metrics(&self) -> TestMetrics {
        serde_json::from_str(&self.performance_metrics).unwrap_or_default()
    }

    pub fn issues(&self) -> Vec<String> {
        serde_json::from_str(&self.issues_found).unwrap_or_default()
    }

    pub fn recommendations(&self) -> Vec<String> {
        serde_json::from_str(&self.recommendations).unwrap_or_default()
    }
}

const COLUMNS: &str = "id, execution_id, test_type, test_scope, test_environment, test_parameters, status, scheduled_for, started_at, completed_at, \
    performance_metrics, issues_found, recommendations, created_at";

/// The job kind that runs a test.
pub const JOB_KIND: &str = "restore_test";

/// A request for tests: the seeds' fields (`testType`, `testScope`, `targetBackup`,
/// `targetConfiguration`, `testEnvironment`, `testParameters`, `scheduledFor`), with
/// `executionId` and `configurationId` as the targets' other names.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleTest {
    /// The execution to test (`single_backup`); or
    #[serde(default, alias = "targetBackup")]
    pub execution_id: Option<String>,
    /// the latest completed execution of this configuration (`configuration`).
    #[serde(default, alias = "targetConfiguration")]
    pub configuration_id: Option<String>,
    /// `restoration` (the default; `restore` too) or `integrity`.
    #[serde(default)]
    pub test_type: Option<String>,
    /// Follows from the target when absent; `full_system` takes none.
    #[serde(default)]
    pub test_scope: Option<String>,
    #[serde(default)]
    pub test_environment: Option<String>,
    /// An object kept with the test.
    #[serde(default)]
    pub test_parameters: Option<serde_json::Value>,
    /// RFC 3339; the test waits until then.
    #[serde(default)]
    pub scheduled_for: Option<String>,
}

/// The checked form of a [`ScheduleTest`].
struct Request {
    test_type: &'static str,
    scope: &'static str,
    environment: String,
    parameters: String,
    scheduled_for: Option<chrono::DateTime<chrono::Utc>>,
}

impl ScheduleTest {
    fn checked(&self) -> Result<Request, TestingError> {
        let invalid = |m: &str| Err(TestingError::Invalid(m.to_string()));
        let test_type = match self.test_type.as_deref().unwrap_or("restoration") {
            "restoration" | "restore" => "restoration",
            "integrity" => "integrity",
            "disaster_recovery" | "performance" => {
                return invalid("testType: restoration or integrity (disaster-recovery drills run from a recovery plan)");
            }
            _ => return invalid("testType: restoration or integrity"),
        };
        let scope = match (self.test_scope.as_deref(), &self.execution_id, &self.configuration_id) {
            (None | Some("single_backup"), Some(_), None) => "single_backup",
            (None | Some("configuration"), None, Some(_)) => "configuration",
            (Some("full_system"), None, None) => "full_system",
            (Some("single_backup"), _, _) => return invalid("targetBackup: the execution to test (testScope single_backup)"),
            (Some("configuration"), _, _) => return invalid("targetConfiguration: the configuration whose latest backup to test (testScope configuration)"),
            (Some("full_system"), _, _) => return invalid("testScope: full_system tests every configuration; give no target"),
            (Some(_), _, _) => return invalid("testScope: single_backup, configuration or full_system"),
            (None, _, _) => return invalid("give executionId or configurationId"),
        };
        let environment = self.test_environment.as_deref().map(str::trim).filter(|e| !e.is_empty()).unwrap_or("scratch").to_string();
        if environment.eq_ignore_ascii_case("production") {
            return invalid("testEnvironment: tests restore into scratch targets, never into production");
        }
        if environment.len() > 64 || !environment.chars().all(|c| c.is_ascii_alphanumeric() || "-_. ".contains(c)) {
            return invalid("testEnvironment: at most 64 letters, digits, spaces, dots, dashes or underscores");
        }
        let parameters = match &self.test_parameters {
            None | Some(serde_json::Value::Null) => "{}".to_string(),
            Some(p @ serde_json::Value::Object(_)) if p.to_string().len() <= 8192 => p.to_string(),
            Some(serde_json::Value::Object(_)) => return invalid("testParameters: at most 8 KiB of JSON"),
            Some(_) => return invalid("testParameters: an object"),
        };
        let scheduled_for = match self.scheduled_for.as_deref() {
            None => None,
            Some(text) => Some(
                chrono::DateTime::parse_from_rfc3339(text)
                    .map_err(|_| TestingError::Invalid(format!("scheduledFor: {text:?} is not an RFC 3339 time, e.g. 2026-12-24T03:00:00Z")))?
                    .with_timezone(&chrono::Utc),
            ),
        };
        Ok(Request { test_type, scope, environment, parameters, scheduled_for })
    }
}

/// Queues tests (operators and up): one for a backup or a configuration's latest, or one per
/// active configuration for `full_system`. Returns their rows.
pub async fn schedule(catalog: &Catalog, actor: &Principal, request: ScheduleTest) -> Result<Vec<BackupTest>, TestingError> {
    actor.require(Role::Operator)?;
    let checked = request.checked()?;
    let executions = match checked.scope {
        "single_backup" => vec![request.execution_id.clone().unwrap_or_default()],
        "configuration" => {
            let configuration = request.configuration_id.clone().unwrap_or_default();
            configurations::find(catalog, &configuration).await?;
            vec![latest_backup(catalog, &configuration).await?.ok_or_else(|| TestingError::Invalid("configurationId: it has no completed backup to test yet".into()))?]
        }
        _ => {
            let active: Vec<String> = sqlx::query_scalar("SELECT id FROM backup_configurations WHERE is_active = 1 ORDER BY name").fetch_all(catalog.pool()).await?;
            let mut latest = Vec::new();
            for configuration in active {
                latest.extend(latest_backup(catalog, &configuration).await?);
            }
            if latest.is_empty() {
                return Err(TestingError::Invalid("testScope: no active configuration has a completed backup to test yet".into()));
            }
            latest
        }
    };
    let mut tests = Vec::new();
    for execution_id in executions {
        let execution = executions::restorable(catalog, actor, &execution_id).await?;
        if execution.status != ExecutionStatus::Completed {
            return Err(TestingError::Invalid(format!("executionId: execution {execution_id} has not completed ({})", execution.status)));
        }
        tests.push(insert(catalog, &execution_id, &checked).await?);
    }
    Ok(tests)
}

/// The newest completed, not deleted execution of a configuration.
async fn latest_backup(catalog: &Catalog, configuration_id: &str) -> Result<Option<String>, TestingError> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT id FROM backup_executions WHERE configuration_id = $1 AND status = 'completed' AND deleted_at IS NULL AND {} ORDER BY completed_at DESC LIMIT 1",
        executions::of_source("")
    ))
    .bind(configuration_id)
    .fetch_optional(catalog.pool())
    .await?)
}

/// Records a scheduled test and queues its job (due at `scheduledFor`), in one transaction.
async fn insert(catalog: &Catalog, execution_id: &str, request: &Request) -> Result<BackupTest, TestingError> {
    let id = uuid::Uuid::new_v4().to_string();
    let mut tx = catalog.pool().begin().await?;
    sqlx::query(
        "INSERT INTO backup_tests (id, execution_id, test_type, test_scope, test_environment, test_parameters, status, scheduled_for, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'scheduled', $7, $8)",
    )
    .bind(&id)
    .bind(execution_id)
    .bind(request.test_type)
    .bind(request.scope)
    .bind(&request.environment)
    .bind(&request.parameters)
    .bind(request.scheduled_for.map(time::to_text))
    .bind(time::now_text())
    .execute(&mut *tx)
    .await?;
    let job = NewJob {
        priority: 7,
        subject_id: Some(id.clone()),
        max_attempts: 1,
        run_at: request.scheduled_for,
        ..NewJob::new(JOB_KIND, serde_json::json!({ "testId": id }))
    };
    jobs::enqueue_on(&mut tx, job).await?;
    tx.commit().await?;
    get(catalog, &id).await
}

async fn get(catalog: &Catalog, id: &str) -> Result<BackupTest, TestingError> {
    sqlx::query_as::<_, BackupTest>(&format!("SELECT {COLUMNS} FROM backup_tests WHERE id = $1"))
        .bind(id)
        .fetch_optional(catalog.pool())
        .await?
        .ok_or_else(|| TestingError::NotFound(format!("restore test {id} not found")))
}

/// How long a test of `test` is likely to take, in seconds: the mean of the last five finished
/// tests of the same type of its configuration, else how long its backup took, else a minute.
pub async fn estimated_duration(catalog: &Catalog, test: &BackupTest) -> Result<f64, TestingError> {
    let recent: Vec<String> = sqlx::query_scalar(
        "SELECT t.performance_metrics FROM backup_tests t JOIN backup_executions e ON e.id = t.execution_id
         WHERE e.configuration_id = (SELECT configuration_id FROM backup_executions WHERE id = $1) AND t.test_type = $2
           AND t.status IN ('passed', 'failed') ORDER BY t.completed_at DESC LIMIT 5",
    )
    .bind(&test.execution_id)
    .bind(&test.test_type)
    .fetch_all(catalog.pool())
    .await?;
    let seconds: Vec<f64> = recent.iter().filter_map(|m| serde_json::from_str::<TestMetrics>(m).ok()?.restore_seconds).collect();
    if !seconds.is_empty() {
        return Ok((seconds.iter().sum::<f64>() / seconds.len() as f64).max(1.0));
    }
    let backup: Option<f64> = sqlx::query_scalar("SELECT duration_seconds FROM backup_executions WHERE id = $1").bind(&test.execution_id).fetch_optional(catalog.pool()).await?.flatten();
    Ok(backup.unwrap_or(60.0).max(1.0))
}

/// The seeds' summary over the finished tests listed. RTO and RPO averages are in minutes, as a
/// configuration's targets are; the seconds are kept beside them.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TestSummary)]
pub struct Summary {
    pub total_tests: usize,
    pub passed_tests: usize,
    pub failed_tests: usize,
    #[serde(rename = "averageRTO")]
    pub average_rto: Option<f64>,
    #[serde(rename = "averageRPO")]
    pub average_rpo: Option<f64>,
    pub average_rto_seconds: Option<f64>,
    pub average_rpo_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Results {
    pub summary: Summary,
    pub tests: Vec<BackupTest>,
}

/// Which tests to list (the seeds' `testType`, `status`, `dateRange` filters).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResultsFilter {
    #[serde(default)]
    pub test_type: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// `24h`, `7d`, `30d`, `90d` …: tests created that recently.
    #[serde(default)]
    pub date_range: Option<String>,
}

impl ResultsFilter {
    /// The earliest creation time the range lets in.
    fn since(&self) -> Result<Option<String>, TestingError> {
        let Some(range) = self.date_range.as_deref().filter(|r| !r.is_empty()) else { return Ok(None) };
        let bad = || TestingError::Invalid(format!("dateRange: {range:?} is not a range such as 24h, 7d or 30d"));
        // The unit is the last character, whatever its width (a byte split could cut one).
        let (number, unit) = match range.char_indices().last() {
            Some((at, unit)) => (&range[..at], unit),
            None => return Err(bad()),
        };
        let n: i64 = number.parse().map_err(|_| bad())?;
        let span = match unit {
            'h' if (1..=24 * 366).contains(&n) => chrono::Duration::hours(n),
            'd' if (1..=3660).contains(&n) => chrono::Duration::days(n),
            _ => return Err(bad()),
        };
        Ok(Some(time::to_text(chrono::Utc::now() - span)))
    }
}

/// Tests newest first, filtered, with the summary over the finished ones among them.
pub async fn results(catalog: &Catalog, actor: &Principal, filter: &ResultsFilter, limit: i64) -> Result<Results, TestingError> {
    actor.require(Role::Viewer)?;
    let test_type = match filter.test_type.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some("restoration" | "restore") => Some("restoration"),
        Some("integrity") => Some("integrity"),
        Some(other) => return Err(TestingError::Invalid(format!("testType: {other:?} is not restoration or integrity"))),
    };
    let status = match filter.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s @ ("scheduled" | "running" | "passed" | "failed")) => Some(s),
        Some(other) => return Err(TestingError::Invalid(format!("status: {other:?} is not scheduled, running, passed or failed"))),
    };
    let since = filter.since()?;
    let tests = sqlx::query_as::<_, BackupTest>(&format!(
        "SELECT {COLUMNS} FROM backup_tests WHERE ($1 IS NULL OR test_type = $1) AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR created_at >= $3)
         ORDER BY created_at DESC LIMIT $4"
    ))
    .bind(test_type)
    .bind(status)
    .bind(since)
    .bind(limit.clamp(1, 500))
    .fetch_all(catalog.pool())
    .await?;
    let finished: Vec<&BackupTest> = tests.iter().filter(|t| t.status.is_finished()).collect();
    let metrics: Vec<TestMetrics> = finished.iter().map(|t| t.metrics()).collect();
    let average = |values: Vec<f64>| (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
    let rto = average(metrics.iter().filter_map(|m| m.restore_seconds).collect());
    let rpo = average(metrics.iter().filter_map(|m| m.data_age_seconds.map(|s| s as f64)).collect());
    let summary = Summary {
        total_tests: finished.len(),
        passed_tests: finished.iter().filter(|t| t.status == TestStatus::Passed).count(),
        failed_tests: finished.iter().filter(|t| t.status == TestStatus::Failed).count(),
        average_rto: rto.map(|s| (s / 60.0 * 100.0).round() / 100.0),
        average_rpo: rpo.map(|s| (s / 60.0 * 100.0).round() / 100.0),
        average_rto_seconds: rto,
        average_rpo_seconds: rpo,
    };
    Ok(Results { summary, tests })
}

/// The restore tests of one execution, newest first.
pub async fn of_execution(catalog: &Catalog, actor: &Principal, execution_id: &str) -> Result<Vec<BackupTest>, TestingError> {
    actor.require(Role::Viewer)?;
    Ok(sqlx::query_as::<_, BackupTest>(&format!("SELECT {COLUMNS} FROM backup_tests WHERE execution_id = $1 ORDER BY created_at DESC")).bind(execution_id).fetch_all(catalog.pool()).await?)
}

/// What one restore into a scratch target found.
pub struct Outcome {
    pub bytes: u64,
    /// Files or tables restored.
    pub items: u64,
    pub issues: Vec<String>,
    pub detail: serde_json::Value,
}

/// A test taken up to run: the test, the execution it restores and its configuration.
pub struct Started {
    pub test: BackupTest,
    pub execution: Execution,
    pub configuration: Configuration,
}

/// Marks a queued test running. The restore itself is its source kind's
/// (`crate::sources::Source::restore_test`), or [`read_back`] for an integrity test.
pub async fn start(catalog: &Catalog, test_id: &str) -> Result<Started, TestingError> {
    let test = get(catalog, test_id).await?;
    sqlx::query("UPDATE backup_tests SET status = 'running', started_at = $1 WHERE id = $2").bind(time::now_text()).bind(test_id).execute(catalog.pool()).await?;
    let execution = executions::find(catalog, &test.execution_id).await?;
    let configuration = configurations::find(catalog, &execution.configuration_id).await?;
    Ok(Started { test, execution, configuration })
}

/// Records what the test's restore found, measured against the configuration's RTO and RPO,
/// and raises (or resolves) its alert.
pub async fn finish(catalog: &Catalog, started: &Started, outcome: Outcome, restore_seconds: f64) -> Result<BackupTest, TestingError> {
    let Started { test, execution, configuration } = started;
    let test_id = test.id.as_str();
    let data_age = execution.completed_at.as_deref().and_then(time::parse).map(|at| (chrono::Utc::now() - at).num_seconds());
    let mut recommendations = Vec::new();
    if let Some(rto) = configuration.rto_minutes
        && restore_seconds > rto as f64 * 60.0
    {
        recommendations.push(format!(
            "the restore took {restore_seconds:.0} s, over the RTO of {rto} min: restore from a faster location, split the configuration, or raise the RTO"
        ));
    }
    if let (Some(rpo), Some(age)) = (configuration.rpo_minutes, data_age)
        && age > rpo * 60
    {
        recommendations.push(format!("the newest tested backup was {} min old, over the RPO of {rpo} min: back up more often", age / 60));
    }
    let passed = outcome.issues.is_empty();
    let metrics = TestMetrics {
        restore_seconds: Some((restore_seconds * 1000.0).round() / 1000.0),
        data_age_seconds: data_age,
        rto_minutes: configuration.rto_minutes,
        rpo_minutes: configuration.rpo_minutes,
        rto_met: configuration.rto_minutes.map(|m| restore_seconds <= m as f64 * 60.0),
        rpo_met: configuration.rpo_minutes.zip(data_age).map(|(m, age)| age <= m * 60),
        bytes_restored: Some(outcome.bytes),
        items_restored: Some(outcome.items),
        target: outcome.detail,
    };
    sqlx::query("UPDATE backup_tests SET status = $1, completed_at = $2, performance_metrics = $3, issues_found = $4, recommendations = $5 WHERE id = $6")
        .bind(if passed { TestStatus::Passed } else { TestStatus::Failed }.as_str())
        .bind(time::now_text())
        .bind(serde_json::to_string(&metrics).unwrap_or_default())
        .bind(serde_json::json!(outcome.issues).to_string())
        .bind(serde_json::json!(recommendations).to_string())
        .bind(test_id)
        .execute(catalog.pool())
        .await?;
    let subject = format!("backup_execution:{}", execution.id);
    if passed {
        alerts::resolve(catalog, AlertType::RestoreTestFailed, &subject, &format!("test {test_id} restored it and found nothing wrong")).await?;
    } else {
        let message = format!("a test restore of execution {} failed: {}", execution.id, outcome.issues.join("; "));
        let condition = alerts::Condition {
            alert_type: AlertType::RestoreTestFailed,
            severity: Severity::High,
            subject: &subject,
            message: &message,
            configuration_id: Some(&execution.configuration_id),
            execution_id: Some(&execution.id),
        };
        alerts::raise_condition(catalog, &condition).await?;
    }
    get(catalog, test_id).await
}

/// Reads the backup back whole as a restore would, writing nothing (`crate::verify`).
pub async fn read_back(catalog: &Catalog, secrets: &SecretBox, execution: &Execution) -> Outcome {
    match crate::verify::run(catalog, secrets, &execution.id).await {
        Ok(report) => Outcome { bytes: report.bytes, items: report.files, issues: report.problems, detail: serde_json::json!({ "verifiedAt": report.verified_at }) },
        Err(e) => Outcome { bytes: 0, items: 0, issues: vec![e.to_string()], detail: serde_json::json!({}) },
    }
}

/// A new scratch directory for a test restore: a random name no one can create first.
pub(crate) fn scratch_dir(owner_is_server: bool) -> Result<std::path::PathBuf, String> {
    let dir = crate::platform::child::scratch_dir(&std::env::temp_dir(), "bulwark-restore-test-").map_err(|e| format!("no scratch directory: {e}"))?;
    if owner_is_server && let Some(Some((uid, gid))) = crate::platform::child::server_user_ids() {
        // The restored cluster runs as the server user, who must reach its data directory.
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    Ok(dir)
}

pub(crate) fn remove_scratch(dir: &std::path::Path) {
    if let Err(e) = std::fs::remove_dir_all(dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %dir.display(), error = %e, "removing a test restore's directory failed");
    }
}

/// A test proves the backup's own location: a restore served by a replica instead is a finding.
pub(crate) fn read_elsewhere(execution: &Execution, read_from: &str) -> Vec<String> {
    match execution.storage_location_id.as_deref() {
        Some(own) if own != read_from => vec![format!("the backup's location {own} could not be read; the restore came from replica {read_from}")],
        _ => Vec::new(),
    }
}

/// How long a configuration's latest backup may go without a verification or a restore test.
pub const SWEEP_AFTER_DAYS: i64 = 7;

/// The daily sweep: for every active configuration whose latest backup has not been verified,
/// or not been restore-tested, in the last [`SWEEP_AFTER_DAYS`] days, queues that. Returns how
/// many verifications and tests it queued.
pub async fn sweep(catalog: &Catalog) -> Result<(usize, usize), TestingError> {
    let since = time::to_text(chrono::Utc::now() - chrono::Duration::days(SWEEP_AFTER_DAYS));
    let latest: Vec<(String, Option<String>)> = sqlx::query_as(&format!(
        "SELECT e.id, e.verified_at FROM backup_executions e JOIN backup_configurations c ON c.id = e.configuration_id
         WHERE c.is_active = 1 AND e.status = 'completed' AND e.deleted_at IS NULL AND {}
           AND e.completed_at = (SELECT MAX(x.completed_at) FROM backup_executions x
                                 WHERE x.configuration_id = e.configuration_id AND x.status = 'completed' AND x.deleted_at IS NULL AND {})",
        executions::of_source("e"),
        executions::of_source("x")
    ))
    .fetch_all(catalog.pool())
    .await?;
    let (mut verifications, mut tests) = (0, 0);
    for (execution_id, verified_at) in latest {
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE subject_id = $1 AND kind = $2 AND state IN ('queued', 'running')")
            .bind(&execution_id)
            .bind(crate::verify::JOB_KIND)
            .fetch_one(catalog.pool())
            .await?;
        if verified_at.is_none_or(|at| at < since) && pending == 0 {
            let job = NewJob { priority: 8, subject_id: Some(execution_id.clone()), max_attempts: 2, ..NewJob::new(crate::verify::JOB_KIND, serde_json::json!({ "executionId": execution_id })) };
            jobs::enqueue(catalog, job).await?;
            verifications += 1;
        }
        let tested: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM backup_tests WHERE execution_id = $1 AND created_at > $2")
            .bind(&execution_id)
            .bind(&since)
            .fetch_one(catalog.pool())
            .await?;
        if tested == 0 {
            schedule(catalog, &Principal::system("restore test sweep"), ScheduleTest { execution_id: Some(execution_id), ..Default::default() }).await?;
            tests += 1;
        }
    }
    Ok((verifications, tests))
}

/// The job kind of the daily sweep.
pub const SWEEP_JOB_KIND: &str = "testing.sweep";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_ranges_are_read_whatever_the_input() {
        let range = |r: &str| ResultsFilter { date_range: Some(r.into()), ..Default::default() }.since();
        assert!(range("24h").unwrap().is_some() && range("30d").unwrap().is_some());
        assert!(range("").unwrap().is_none(), "no range");
        // Found by schemathesis: a last character wider than a byte panicked the request.
        for bad in ["7ä", "3@\u{cf9f4}", "÷Í\u{99}£", "d", "0d", "-1h", "5w", "99999d"] {
            assert_eq!(range(bad).unwrap_err().kind(), Kind::Invalid, "{bad}");
        }
    }
}
