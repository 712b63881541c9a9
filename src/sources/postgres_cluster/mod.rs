//! A PostgreSQL cluster that archives its WAL (a continuous configuration): backed up as
//! physical base backups (`pg_basebackup`), the start of a restorable window the archived WAL
//! extends; restored to any moment of the window into a new data directory ([`restore`]);
//! restore-tested by replaying to the newest archived WAL in a scratch cluster.

mod cluster_config;
mod restore;

pub use restore::{PhysicalRestore, RecoveryReport, base_backup_for, restore_physical};
// A cluster a recovery drill restored is stopped this way before its data directory goes.
pub(crate) use restore::stop_quietly;

use bulwark_types::RestorationType;

use super::{BackupRun, Description, RestoreRun, Source, SourceFuture, TestRun, failed, occupied, report, request, wrong_place};
use crate::configurations::Configuration;
use crate::engine::repo::RepoError;
use crate::engine::repo::backup::{self, BackupOptions};
use crate::engine::repo::snapshot::Snapshot;
use crate::engine::source::postgres::Database;
use crate::engine::source::{SourceError, SourceKind};
use crate::executions::{Execution, ExecutionError};
use crate::restore_tests::{self, Outcome};
use crate::restores::{Destination, Place, RestoreError, Targets};

pub struct PostgresCluster;

impl Source for PostgresCluster {
    fn describe(&self) -> Description {
        Description { name: "point-in-time PostgreSQL", restores_into: "a new data directory" }
    }

    fn back_up<'a>(&'a self, run: &'a BackupRun<'a>, options: BackupOptions) -> SourceFuture<'a, Result<(Snapshot, serde_json::Value), ExecutionError>> {
        Box::pin(base_backup(run, options))
    }

    fn restore<'a>(&'a self, run: &'a RestoreRun<'a>, execution_id: &'a str, body: serde_json::Value) -> SourceFuture<'a, Result<serde_json::Value, RestoreError>> {
        Box::pin(async move { Ok(report(restore_physical(run.catalog, run.secrets, run.targets, run.actor, execution_id, request(self, body)?).await?)) })
    }

    fn restore_test<'a>(&'a self, run: &'a TestRun<'a>) -> SourceFuture<'a, Outcome> {
        Box::pin(into_cluster(run))
    }

    fn check<'a>(&'a self, run: &'a RestoreRun<'a>, _: &'a Configuration, body: &'a serde_json::Value) -> SourceFuture<'a, Result<Place, RestoreError>> {
        Box::pin(async move {
            let r: PhysicalRestore = request(self, body.clone())?;
            restore::check(&r)?;
            Ok(Place::DataDirectory { path: run.targets.directory("targetDirectory", &r.target_directory)?, port: r.port })
        })
    }

    fn request_for(&self, d: &Destination) -> Result<serde_json::Value, RestoreError> {
        let Place::DataDirectory { path, port } = &d.place else {
            return Err(wrong_place(self, &d.place));
        };
        d.refuse_scope(&[("tables", &d.scope.tables), ("paths", &d.scope.paths), ("prefixes", &d.scope.prefixes)])?;
        match (d.restoration_type, &d.point_in_time) {
            (RestorationType::Full, None) | (RestorationType::PointInTime, Some(_)) => {}
            (RestorationType::Full, Some(_)) => return Err(RestoreError::Invalid("pointInTimeTarget: a full restore replays all archived WAL; choose point_in_time to stop earlier".into())),
            (RestorationType::PointInTime, None) => return Err(RestoreError::Invalid("pointInTimeTarget: the moment to restore to (RFC 3339)".into())),
            (t, _) => return Err(RestoreError::Invalid(format!("restorationType: a cluster restores full or point_in_time, not {t}"))),
        }
        let request = PhysicalRestore { target_directory: path.display().to_string(), target_time: d.point_in_time.clone(), restore_point: None, port: *port };
        restore::check(&request)?;
        Ok(serde_json::to_value(request).unwrap_or_default())
    }

    fn conflicts<'a>(&'a self, run: &'a RestoreRun<'a>, configuration: &'a Configuration, body: &'a serde_json::Value, _: &'a Execution) -> SourceFuture<'a, Result<Vec<String>, RestoreError>> {
        Box::pin(async move {
            let Place::DataDirectory { path, .. } = self.check(run, configuration, body).await? else { return Ok(Vec::new()) };
            Ok(occupied(&path, "a cluster is restored only into a new or empty directory"))
        })
    }

    /// Never: a data directory must be new or empty.
    fn writes_over(&self, _: &serde_json::Value) -> bool {
        false
    }
}

/// A physical base backup (the start of a continuous configuration's restorable window).
async fn base_backup(run: &BackupRun<'_>, mut options: BackupOptions) -> Result<(Snapshot, serde_json::Value), ExecutionError> {
    let configuration = run.configuration;
    let database = Database { url: configuration.source_identifier.clone(), password: configuration.source_password(run.secrets)? };
    let cluster = database.cluster_metadata().await?;
    if !cluster.replication_role {
        return Err(ExecutionError::Source(SourceError::Unavailable(format!(
            "the role of {} may not open replication connections, which pg_basebackup needs: ALTER ROLE … REPLICATION",
            database.url
        ))));
    }
    let cluster_json = serde_json::to_value(&cluster).unwrap_or_default();
    options.metadata["postgresql"] = cluster_json.clone();
    options.source = format!("pg_basebackup {}", database.url);
    let reader = database.base_backup()?.stop_on(options.progress.cancel.clone());
    let log = reader.log();
    let snapshot = backup::backup_stream(run.repo, reader, options).await.map_err(|e| match e {
        RepoError::Source(message) => ExecutionError::Source(SourceError::Unavailable(message)),
        other => other.into(),
    })?;
    let log = log.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let range = crate::engine::source::postgres::parse_base_backup_log(&log)
        .ok_or_else(|| ExecutionError::Source(SourceError::Unavailable(format!("pg_basebackup did not report its WAL range: {}", log.trim()))))?;
    let start_file = range.start_file(cluster.wal_segment_bytes);
    let metadata = serde_json::json!({
        "sourceType": SourceKind::Postgresql,
        "format": "pg_basebackup tar",
        "postgresql": cluster_json,
        "wal": { "startLsn": range.start_lsn, "endLsn": range.end_lsn, "timeline": range.timeline, "startFile": start_file },
    });
    Ok((snapshot, metadata))
}

/// Restores a base backup, with the WAL archived after it, into a new data directory, starts
/// it on a free port, waits until recovery has ended and it answers, then stops and removes it.
async fn into_cluster(run: &TestRun<'_>) -> Outcome {
    let TestRun { catalog, secrets, actor, execution, .. } = *run;
    let port = match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(address) => address.port(),
        Err(e) => return failed(format!("no free port for the test cluster: {e}")),
    };
    let scratch = match restore_tests::scratch_dir(true) {
        Ok(dir) => dir,
        Err(issue) => return failed(issue),
    };
    let request = PhysicalRestore { target_directory: scratch.join("data").display().to_string(), target_time: None, restore_point: None, port: Some(port) };
    let targets = Targets::scratch(Some(&scratch), None);
    let outcome = match restore_physical(catalog, secrets, &targets, actor, &execution.id, request).await {
        Ok(r) => Outcome {
            bytes: r.bytes,
            items: r.wal_files as u64,
            issues: restore_tests::read_elsewhere(execution, &r.storage_location_id),
            detail: serde_json::json!({ "dataDirectory": r.data_directory, "port": r.port, "recoveredTo": r.recovered_to, "walFiles": r.wal_files }),
        },
        Err(e) => failed(format!("the restore failed: {e}")),
    };
    restore::stop_quietly(&scratch.join("data")).await;
    restore_tests::remove_scratch(&scratch);
    outcome
}

