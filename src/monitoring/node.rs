//! A Bulwark node's own figures, sampled each minute by its prober as `node:<node id>`: CPU and
//! memory use, the use of the disk holding its data directory, and the job queue. Degraded at
//! 90% disk or 95% memory, unhealthy at 97% disk (backups and the catalog stop soon after):
//! service_unhealthy for the node then, resolved when it recovers.

use std::path::{Path, PathBuf};

use sysinfo::System;

use super::{samples, HealthSample, HealthStatus, MonitoringError};
use crate::alerts::{self, AlertType, Condition, Severity};
use crate::platform::catalog::Catalog;

pub struct NodeSampler {
    node_id: String,
    data_dir: PathBuf,
    /// Kept between samples: CPU use is measured between two refreshes.
    system: System,
}

/// The use of the filesystem holding `path`, in percent of what unprivileged writers may use
/// (as `df` counts it), and the bytes they may still write.
pub fn disk_usage(path: &Path) -> Option<(f64, u64)> {
    let stats = nix::sys::statvfs::statvfs(path).ok()?;
    let unit = stats.fragment_size() as u64;
    let used = (stats.blocks() as u64).saturating_sub(stats.blocks_free() as u64);
    let usable = used + stats.blocks_available() as u64;
    (usable > 0).then(|| (used as f64 * 100.0 / usable as f64, stats.blocks_available() as u64 * unit))
}

fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

impl NodeSampler {
    pub fn new(node_id: &str, data_dir: &Path) -> NodeSampler {
        let mut system = System::new();
        system.refresh_cpu_usage();
        NodeSampler { node_id: node_id.to_string(), data_dir: data_dir.to_path_buf(), system }
    }

    pub fn service_name(&self) -> String {
        format!("node:{}", self.node_id)
    }

    /// Samples the node now, records it and raises or resolves its alert.
    pub async fn sample(&mut self, catalog: &Catalog) -> Result<HealthSample, MonitoringError> {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        let cpu = f64::from(self.system.global_cpu_usage());
        let total = self.system.total_memory();
        let memory = if total > 0 { self.system.used_memory() as f64 * 100.0 / total as f64 } else { 0.0 };
        let disk = disk_usage(&self.data_dir);
        let (queued, running): (i64, i64) = sqlx::query_as("SELECT COALESCE(SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END), 0) FROM jobs WHERE state IN ('queued', 'running')")
            .fetch_one(catalog.pool())
            .await?;
        let disk_percent = disk.map(|(p, _)| p);
        let (status, why) = match disk_percent {
            Some(d) if d >= 97.0 => (HealthStatus::Unhealthy, format!("the data directory's disk is {d:.1}% full")),
            Some(d) if d >= 90.0 => (HealthStatus::Degraded, format!("the data directory's disk is {d:.1}% full")),
            _ if memory >= 95.0 => (HealthStatus::Degraded, format!("memory is {memory:.1}% used")),
            _ => (HealthStatus::Healthy, String::new()),
        };
        let name = self.service_name();
        let mut sample = samples::blank(&name, status);
        sample.cpu_usage = Some(round(cpu));
        sample.memory_usage = Some(round(memory));
        sample.disk_usage = disk_percent.map(round);
        sample.custom_metrics = serde_json::json!({
            "queuedJobs": queued,
            "runningJobs": running,
            "dataDir": self.data_dir.display().to_string(),
            "diskFreeBytes": disk.map(|(_, free)| free),
        });
        if status == HealthStatus::Unhealthy {
            sample.alerts_triggered.push(AlertType::ServiceUnhealthy.as_str().into());
            if !alerts::is_open(catalog, AlertType::ServiceUnhealthy, &name).await? {
                let message = format!("node {}: {why}", self.node_id);
                alerts::raise_condition(catalog, &Condition { alert_type: AlertType::ServiceUnhealthy, severity: Severity::High, subject: &name, message: &message, configuration_id: None, execution_id: None }).await?;
            }
        } else if alerts::is_open(catalog, AlertType::ServiceUnhealthy, &name).await? {
            alerts::resolve(catalog, AlertType::ServiceUnhealthy, &name, "the node's disk has room again").await?;
        }
        samples::insert(catalog, &sample).await?;
        Ok(sample)
    }
}
