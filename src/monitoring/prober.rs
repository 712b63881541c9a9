//! The loop every node with workers runs. Each second it claims the services due — a
//! conditional update moves `next_probe_at` one interval on, so of all the nodes exactly one
//! probes each interval — and probes them concurrently (at most [`CONCURRENT`] at once), each
//! probe recording its sample and judging its alerts on its own. Each minute it samples its
//! own node. Probes are not jobs: a sample missed when a node dies is not worth a retry, and
//! 20 probes a second through the job queue would cost more than the probes.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::node::NodeSampler;
use super::services::{self, Row};
use super::{probes, samples, verdicts, HealthSample, MonitoringError};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::secrets::SecretBox;
use crate::platform::time;

/// Probes running at once on one node.
pub const CONCURRENT: usize = 64;
/// How often a node samples itself.
const NODE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Claims the services due at `now`: each one whose `next_probe_at` this node moved on.
async fn claim_due(catalog: &Catalog, now: DateTime<Utc>) -> Result<Vec<Row>, MonitoringError> {
    let now_text = time::to_text(now);
    let mut claimed = Vec::new();
    for row in services::due(catalog, &now_text, 500).await? {
        // On the interval's grid, unless it fell behind (a node was down): then from now.
        let every = Duration::seconds(row.interval_seconds);
        let planned = time::parse(&row.next_probe_at).unwrap_or(now) + every;
        let next = if planned <= now { now + every } else { planned };
        let moved = sqlx::query("UPDATE monitored_services SET next_probe_at = $1 WHERE id = $2 AND next_probe_at = $3")
            .bind(time::to_text(next))
            .bind(&row.id)
            .bind(&row.next_probe_at)
            .execute(catalog.pool())
            .await?
            .rows_affected();
        if moved == 1 {
            claimed.push(row);
        }
    }
    Ok(claimed)
}

/// Probes one service (its password opened), records the sample and judges its alerts.
async fn probe_one(catalog: &Catalog, secrets: &SecretBox, row: Row) -> Result<HealthSample, MonitoringError> {
    let password = match &row.sealed_password {
        Some(sealed) => Some(secrets.open(&services::password_context(&row.id), sealed)?),
        None => None,
    };
    let service = row.into_service()?;
    let reading = probes::probe(&service, password.as_deref()).await;
    // Read again after the probe (which may take its whole timeout): a service deleted meanwhile
    // is not recorded, and one disabled raises nothing (no later probe would resolve it); the
    // failures in a row count from the latest state.
    let service = services::find(catalog, &service.id).await?.into_service()?;
    let triggered = if service.enabled { verdicts::judge(catalog, &service, &reading).await? } else { Vec::new() };
    samples::record_probe(catalog, &service, &reading, triggered).await
}

/// Claims and probes every service due at `now`, waiting for all of them; returns the samples.
pub async fn run_due(catalog: &Catalog, secrets: &SecretBox, now: DateTime<Utc>) -> Result<Vec<HealthSample>, MonitoringError> {
    let mut set = JoinSet::new();
    for row in claim_due(catalog, now).await? {
        let (catalog, secrets) = (catalog.clone(), secrets.clone());
        set.spawn(async move { probe_one(&catalog, &secrets, row).await });
    }
    let mut done = Vec::new();
    while let Some(result) = set.join_next().await {
        done.push(result.map_err(|e| MonitoringError::Stored(format!("a probe panicked: {e}")))??);
    }
    Ok(done)
}

/// `POST /api/admin/monitoring/services/{id}/check`: probes a service now, out of turn.
pub async fn check_now(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, id: &str) -> Result<HealthSample, MonitoringError> {
    actor.require(Role::Operator)?;
    probe_one(catalog, secrets, services::find(catalog, id).await?).await
}

/// Runs the prober until `shutdown` turns true; probes under way finish first.
pub async fn run(catalog: Catalog, secrets: SecretBox, node_id: String, data_dir: PathBuf, mut shutdown: watch::Receiver<bool>) {
    let permits = Arc::new(Semaphore::new(CONCURRENT));
    let mut running = JoinSet::new();
    let mut node = NodeSampler::new(&node_id, &data_dir);
    let mut node_due = tokio::time::Instant::now();
    while !*shutdown.borrow() {
        match claim_due(&catalog, Utc::now()).await {
            Ok(rows) => {
                for row in rows {
                    let Ok(permit) = permits.clone().acquire_owned().await else { break };
                    let (catalog, secrets) = (catalog.clone(), secrets.clone());
                    running.spawn(async move {
                        let id = row.id.clone();
                        if let Err(e) = probe_one(&catalog, &secrets, row).await {
                            tracing::warn!(service = %id, error = %e, "recording a probe failed");
                        }
                        drop(permit);
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "claiming the services due failed"),
        }
        if tokio::time::Instant::now() >= node_due {
            if let Err(e) = node.sample(&catalog).await {
                tracing::warn!(error = %e, "sampling this node failed");
            }
            node_due = tokio::time::Instant::now() + NODE_EVERY;
        }
        while running.try_join_next().is_some() {}
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = shutdown.changed() => {}
        }
    }
    while running.join_next().await.is_some() {}
}
