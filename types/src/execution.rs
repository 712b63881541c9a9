use serde::{Deserialize, Serialize};

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
}
