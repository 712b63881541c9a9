//! Each active storage location probed (write, read back, delete a small object, as the
//! connection test does; an immutable one only read, its repository's config): one that fails
//! two probes in a row (one slow answer is not an outage) raises location_unreachable (the
//! alert a backup that skipped it raises too), resolved by the first probe it answers again or
//! when it is no longer active. A probe that takes over 30 s has failed. Each probe is a health
//! sample (`location:<name>`); a local location's disk use is measured too, and a disk 95% full
//! raises storage_full, resolved once it is below again (S3 servers do not tell their free
//! space).

use super::HealthError;
use crate::alerts::{self, AlertType, Condition, Severity};
use crate::locations;
use crate::platform::catalog::Catalog;
use crate::platform::secrets::SecretBox;

/// A probe that has not answered by then has failed (S3 calls retry for minutes).
const PROBE_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Probes every active location; returns how many did not answer.
pub async fn evaluate(catalog: &Catalog, secrets: &SecretBox) -> Result<usize, HealthError> {
    let active: Vec<(String, String, i64, Option<i64>, String, Option<String>)> =
        sqlx::query_as("SELECT id, location_name, immutability, last_test_ok, provider, path_prefix FROM backup_storage_locations WHERE is_active = 1 ORDER BY location_name")
            .fetch_all(catalog.pool())
            .await?;
    let mut down = 0;
    for (id, name, immutable, last_ok, provider, path) in &active {
        let subject = format!("storage_location:{id}");
        let started = std::time::Instant::now();
        let answer = tokio::time::timeout(PROBE_LIMIT, locations::probe(catalog, secrets, id, *immutable == 0)).await;
        let disk = (provider == "local").then(|| path.as_deref().and_then(|p| crate::monitoring::node::disk_usage(std::path::Path::new(p)))).flatten();
        record_sample(catalog, &subject, name, &answer, started.elapsed(), disk).await?;
        let failure = match answer {
            Ok(Ok(result)) if result.ok => None,
            Ok(Ok(result)) => Some(result.message),
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => {
                let message = format!("no answer within {} s", PROBE_LIMIT.as_secs());
                sqlx::query("UPDATE backup_storage_locations SET last_test_at = $1, last_test_ok = 0, last_test_message = $2 WHERE id = $3")
                    .bind(crate::platform::time::now_text())
                    .bind(&message)
                    .bind(id)
                    .execute(catalog.pool())
                    .await?;
                Some(message)
            }
        };
        match failure {
            None => {
                alerts::resolve(catalog, AlertType::LocationUnreachable, &subject, "the location answered a probe again").await?;
            }
            Some(why) => {
                down += 1;
                // The probe before this one failed too (its result was the last test's).
                if *last_ok == Some(0) && !alerts::is_open(catalog, AlertType::LocationUnreachable, &subject).await? {
                    let message = format!("storage location {name:?} does not answer: {why}");
                    let condition = Condition { alert_type: AlertType::LocationUnreachable, severity: Severity::High, subject: &subject, message: &message, configuration_id: None, execution_id: None };
                    alerts::raise_condition(catalog, &condition).await?;
                }
            }
        }
    }
    // A location no longer active (or gone) is not an outage.
    for alert_type in [AlertType::LocationUnreachable, AlertType::StorageFull] {
        for subject in alerts::open_subjects(catalog, alert_type).await? {
            if !active.iter().any(|(id, ..)| format!("storage_location:{id}") == subject) {
                alerts::resolve(catalog, alert_type, &subject, "the location is no longer active").await?;
            }
        }
    }
    Ok(down)
}

/// A disk this full raises storage_full.
const FULL_PERCENT: f64 = 95.0;

/// The probe as a health sample of `location:<name>`, with a local location's disk use; raises
/// or resolves storage_full.
async fn record_sample(
    catalog: &Catalog,
    subject: &str,
    name: &str,
    answer: &Result<Result<locations::TestResult, locations::LocationError>, tokio::time::error::Elapsed>,
    took: std::time::Duration,
    disk: Option<(f64, u64)>,
) -> Result<(), HealthError> {
    use crate::monitoring::{samples, HealthStatus};
    let answered = matches!(answer, Ok(Ok(r)) if r.ok);
    let full = disk.is_some_and(|(used, _)| used >= FULL_PERCENT);
    let status = if !answered { HealthStatus::Unhealthy } else if full { HealthStatus::Degraded } else { HealthStatus::Healthy };
    let mut sample = samples::blank(&format!("location:{name}"), status);
    sample.response_time_ms = Some(took.as_millis() as i64);
    sample.disk_usage = disk.map(|(used, _)| (used * 100.0).round() / 100.0);
    sample.custom_metrics = serde_json::json!({ "diskFreeBytes": disk.map(|(_, free)| free) });
    if full {
        sample.alerts_triggered.push(AlertType::StorageFull.as_str().into());
        if !alerts::is_open(catalog, AlertType::StorageFull, subject).await? {
            let message = format!("storage location {name:?} is {:.1}% full", disk.map(|(used, _)| used).unwrap_or_default());
            let condition = Condition { alert_type: AlertType::StorageFull, severity: Severity::High, subject, message: &message, configuration_id: None, execution_id: None };
            alerts::raise_condition(catalog, &condition).await?;
        }
    } else if disk.is_some() && alerts::is_open(catalog, AlertType::StorageFull, subject).await? {
        alerts::resolve(catalog, AlertType::StorageFull, subject, "the location's disk has room again").await?;
    }
    samples::insert(catalog, &sample).await?;
    Ok(())
}
