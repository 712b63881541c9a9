//! Each active storage location probed (write, read back, delete a small object, as the
//! connection test does; an immutable one only read, its repository's config): one that fails
//! two probes in a row (one slow answer is not an outage) raises location_unreachable (the
//! alert a backup that skipped it raises too), resolved by the first probe it answers again or
//! when it is no longer active. A probe that takes over 30 s has failed.

use super::HealthError;
use crate::alerts::{self, AlertType, Condition, Severity};
use crate::locations;
use crate::platform::catalog::Catalog;
use crate::platform::secrets::SecretBox;

/// A probe that has not answered by then has failed (S3 calls retry for minutes).
const PROBE_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Probes every active location; returns how many did not answer.
pub async fn evaluate(catalog: &Catalog, secrets: &SecretBox) -> Result<usize, HealthError> {
    let active: Vec<(String, String, i64, Option<i64>)> =
        sqlx::query_as("SELECT id, location_name, immutability, last_test_ok FROM backup_storage_locations WHERE is_active = 1 ORDER BY location_name").fetch_all(catalog.pool()).await?;
    let mut down = 0;
    for (id, name, immutable, last_ok) in &active {
        let subject = format!("storage_location:{id}");
        let answer = tokio::time::timeout(PROBE_LIMIT, locations::probe(catalog, secrets, id, *immutable == 0)).await;
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
    let open = alerts::open_subjects(catalog, AlertType::LocationUnreachable).await?;
    for subject in open {
        if !active.iter().any(|(id, ..)| format!("storage_location:{id}") == subject) {
            alerts::resolve(catalog, AlertType::LocationUnreachable, &subject, "the location is no longer active").await?;
        }
    }
    Ok(down)
}
