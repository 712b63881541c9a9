//! Each active storage location probed (write, read back, delete a small object, as the
//! connection test does): one that does not answer raises location_unreachable (the alert a
//! backup that skipped it raises too), resolved by the first probe it answers again.

use super::HealthError;
use crate::alerts::{self, AlertType, Condition, Severity};
use crate::locations;
use crate::platform::catalog::Catalog;
use crate::platform::secrets::SecretBox;

/// Probes every active location; returns how many did not answer.
pub async fn evaluate(catalog: &Catalog, secrets: &SecretBox) -> Result<usize, HealthError> {
    let active: Vec<(String, String)> = sqlx::query_as("SELECT id, location_name FROM backup_storage_locations WHERE is_active = 1 ORDER BY location_name").fetch_all(catalog.pool()).await?;
    let mut down = 0;
    for (id, name) in active {
        let subject = format!("storage_location:{id}");
        let answer = locations::probe(catalog, secrets, &id).await;
        let failure = match answer {
            Ok(result) if result.ok => None,
            Ok(result) => Some(result.message),
            Err(e) => Some(e.to_string()),
        };
        match failure {
            None => {
                alerts::resolve(catalog, AlertType::LocationUnreachable, &subject, "the location answered a probe again").await?;
            }
            Some(why) => {
                down += 1;
                if !alerts::is_open(catalog, AlertType::LocationUnreachable, &subject).await? {
                    let message = format!("storage location {name:?} does not answer: {why}");
                    let condition = Condition { alert_type: AlertType::LocationUnreachable, severity: Severity::High, subject: &subject, message: &message, configuration_id: None, execution_id: None };
                    alerts::raise_condition(catalog, &condition).await?;
                }
            }
        }
    }
    Ok(down)
}
