use serde::{Deserialize, Serialize};

use crate::ExecutionStatus;

/// The `executionType` of a backup a restoration takes of its target before writing over it:
/// a backup of that place, not of the configuration's source.
pub const SAFETY_EXECUTION_TYPE: &str = "safety";

/// One run of a configuration, as the catalog keeps it, the API answers it and its page follows
/// it over server-sent events. The JSON the catalog keeps as text (`recoveryMetadata`,
/// `progress`, `tags`) travels as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub id: String,
    pub configuration_id: String,
    pub execution_type: String,
    pub status: crate::ExecutionStatus,
    pub storage_location_id: Option<String>,
    pub snapshot_id: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub duration_seconds: Option<f64>,
    /// Logical bytes read from the source.
    pub size_bytes: Option<i64>,
    /// Bytes this execution added to the repository (compressed, encrypted).
    pub compressed_size_bytes: Option<i64>,
    /// Bytes the repository did not hold yet, before compression.
    pub new_bytes: Option<i64>,
    /// SHA-256 of the stream (or of the tree listing, which holds every file's SHA-256).
    pub checksum: Option<String>,
    pub error_message: Option<String>,
    pub verification_status: Option<String>,
    pub verified_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = serde_json::Value))]
    #[serde(with = "crate::json_text")]
    pub recovery_metadata: String,
    /// [`Progress`], as JSON text.
    #[cfg_attr(feature = "openapi", schema(value_type = Progress))]
    #[serde(with = "crate::json_text")]
    pub progress: String,
    pub requested_by: Option<String>,
    pub created_at: String,
    /// When retention or an administrator deleted its backup; the row stays as history.
    pub deleted_at: Option<String>,
    /// What the person who started it wrote (the seeds' `notes`).
    pub notes: Option<String>,
    /// A JSON object of tags to find it by (the seeds' `tags`); `{}` when none.
    #[cfg_attr(feature = "openapi", schema(value_type = serde_json::Value))]
    #[serde(with = "crate::json_text")]
    pub tags: String,
}

impl Execution {
    pub fn is_finished(&self) -> bool {
        self.status.is_finished()
    }

    /// The figures of the run (zeros before its first report).
    pub fn progress(&self) -> Progress {
        serde_json::from_str(&self.progress).unwrap_or_default()
    }

    /// What a restore needs beyond the snapshot (`sourceType`, `format`, the source's own facts).
    pub fn recovery_metadata(&self) -> serde_json::Value {
        serde_json::from_str(&self.recovery_metadata).unwrap_or_default()
    }
}

/// How far a backup has got: written about once a second while it runs, and its final figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct Progress {
    pub bytes_read: u64,
    /// Bytes the repository did not hold yet.
    pub bytes_new: u64,
    /// What the source holds, once known.
    pub bytes_total: Option<u64>,
    pub bytes_per_second: f64,
    /// 0–100; 100 only once finished.
    pub percent: f64,
    pub eta_seconds: Option<f64>,
    /// The snapshot was committed by an earlier attempt that stopped, and adopted.
    pub adopted: bool,
}

/// One execution as its page shows it; built from the execution's JSON, both on the server
/// and in the browser from each server-sent event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecutionView {
    pub id: String,
    pub configuration_id: String,
    /// The configuration's name, for the page to name it (not in the pushed events).
    pub configuration_name: Option<String>,
    pub execution_type: String,
    pub status: ExecutionStatus,
    pub percent: f64,
    pub bytes_read: u64,
    pub bytes_new: u64,
    pub bytes_total: Option<u64>,
    pub bytes_per_second: f64,
    pub eta_seconds: Option<f64>,
    pub size_bytes: Option<u64>,
    pub stored_bytes: Option<u64>,
    pub new_bytes: Option<u64>,
    pub duration_seconds: Option<f64>,
    pub checksum: Option<String>,
    pub snapshot_id: Option<String>,
    pub error_message: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    /// What was backed up, from the recovery metadata.
    pub source_type: Option<crate::SourceKind>,
    /// How the source was read (`pg_dump custom`, `pg_basebackup tar`), from the metadata.
    pub format: String,
    /// Recovery metadata, pretty-printed.
    pub metadata: String,
    /// `verified` or `failed` once read back; `None` before.
    pub verification_status: Option<String>,
    pub verified_at: Option<String>,
    /// A consistency group's point, read from its metadata.
    pub group: Option<GroupPoint>,
}

impl ExecutionView {
    /// The page's view of an execution (from the server function, or from each server-sent
    /// event in the browser): typed on both sides by `crate::Execution`.
    pub fn of(e: &Execution) -> ExecutionView {
        let progress = e.progress();
        let metadata = e.recovery_metadata();
        ExecutionView {
            id: e.id.clone(),
            configuration_id: e.configuration_id.clone(),
            configuration_name: None,
            execution_type: e.execution_type.clone(),
            status: e.status,
            percent: progress.percent,
            bytes_read: progress.bytes_read,
            bytes_new: progress.bytes_new,
            bytes_total: progress.bytes_total,
            bytes_per_second: progress.bytes_per_second,
            eta_seconds: progress.eta_seconds,
            size_bytes: e.size_bytes.and_then(|b| u64::try_from(b).ok()),
            stored_bytes: e.compressed_size_bytes.and_then(|b| u64::try_from(b).ok()),
            new_bytes: e.new_bytes.and_then(|b| u64::try_from(b).ok()),
            duration_seconds: e.duration_seconds,
            checksum: e.checksum.clone(),
            snapshot_id: e.snapshot_id.clone(),
            error_message: e.error_message.clone(),
            started_at: e.started_at.clone(),
            completed_at: e.completed_at.clone(),
            source_type: metadata["sourceType"].as_str().and_then(crate::SourceKind::parse),
            format: metadata["format"].as_str().unwrap_or_default().to_string(),
            metadata: serde_json::to_string_pretty(&metadata).unwrap_or_default(),
            verification_status: e.verification_status.clone(),
            verified_at: e.verified_at.clone(),
            group: serde_json::from_value(metadata.clone()).ok(),
        }
    }

    pub fn is_finished(&self) -> bool {
        self.status.is_finished()
    }
}

/// One file of a configuration-file diff: names only, never values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDiffRow {
    pub path: String,
    pub status: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}


/// What a directory restore tells the page: a sentence, and each file it could not read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectoryRestored {
    pub sentence: String,
    pub unreadable: Vec<String>,
}

/// A consistency group's point, as its execution's recovery metadata keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupPoint {
    pub source_type: crate::SourceKind,
    /// When the point was taken.
    pub point: String,
    pub members: Vec<GroupMember>,
}

/// One member of a consistency group's point, and where its data for the point is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMember {
    pub configuration_id: String,
    pub name: String,
    pub source_type: crate::SourceKind,
    #[serde(flatten)]
    pub position: MemberPosition,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MemberPosition {
    /// A continuous database: replayed from its base backup to the group's restore point.
    #[serde(rename_all = "camelCase")]
    RestorePoint { restore_point: String, lsn: String, wal_file: String, base_execution_id: String },
    /// Any other member: the execution the group ran for it.
    #[serde(rename_all = "camelCase")]
    Execution { execution_id: String, snapshot_id: Option<String>, checksum: Option<String>, size_bytes: Option<i64> },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the server sends (JSON text columns as JSON) is what the page reads back, figures
    /// included: the two sides share one definition, so no field can drift to a silent zero.
    #[test]
    fn an_execution_travels_as_json_and_back() {
        let progress = Progress { bytes_read: 7 << 20, bytes_total: Some(8 << 20), percent: 87.5, eta_seconds: Some(3.0), ..Default::default() };
        let execution = Execution {
            id: "e".into(),
            configuration_id: "c".into(),
            execution_type: "manual".into(),
            status: crate::ExecutionStatus::Running,
            storage_location_id: None,
            snapshot_id: None,
            started_at: Some("2026-12-05T06:00:00.000000Z".into()),
            completed_at: None,
            duration_seconds: None,
            size_bytes: None,
            compressed_size_bytes: None,
            new_bytes: None,
            checksum: None,
            error_message: None,
            verification_status: None,
            verified_at: None,
            recovery_metadata: r#"{"format":"pg_dump custom","sourceType":"postgresql"}"#.into(),
            progress: serde_json::to_string(&progress).unwrap(),
            requested_by: None,
            created_at: "2026-12-05T06:00:00.000000Z".into(),
            deleted_at: None,
            notes: None,
            tags: "{}".into(),
        };
        let sent = serde_json::to_value(&execution).unwrap();
        assert_eq!(sent["recoveryMetadata"]["sourceType"], "postgresql", "JSON, not text: {sent}");
        assert_eq!(sent["progress"]["bytesRead"], 7 << 20);
        let received: Execution = serde_json::from_value(sent.clone()).unwrap();
        assert_eq!(serde_json::to_value(&received).unwrap(), sent, "the same, whatever the key order of the text");
        assert_eq!(received.progress(), progress);
        assert_eq!(received.recovery_metadata()["format"], "pg_dump custom");
        assert!(!received.is_finished());
    }

    /// The manifest a group's backup writes reads back as its point, whichever way each member
    /// is held, and writes out the same keys.
    #[test]
    fn a_group_point_reads_both_kinds_of_member() {
        let stored = serde_json::json!({
            "sourceType": "consistency_group", "point": "2026-12-05T06:00:00.000000Z",
            "members": [
                { "configurationId": "c1", "name": "orders", "sourceType": "postgresql", "restorePoint": "bulwark-e",
                  "lsn": "0/3000090", "walFile": "000000010000000000000003", "baseExecutionId": "b" },
                { "configurationId": "c2", "name": "uploads", "sourceType": "filesystem", "executionId": "e2",
                  "snapshotId": "s", "checksum": null, "sizeBytes": 42 },
            ],
        });
        let point: GroupPoint = serde_json::from_value(stored.clone()).unwrap();
        assert!(matches!(&point.members[0].position, MemberPosition::RestorePoint { lsn, .. } if lsn == "0/3000090"));
        assert!(matches!(&point.members[1].position, MemberPosition::Execution { size_bytes: Some(42), .. }));
        assert_eq!(serde_json::to_value(&point).unwrap(), stored);
    }
}
