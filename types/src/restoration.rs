//! The restoration workflow's vocabulary: the environments restores go into and the targets
//! named in them.

use serde::{Deserialize, Serialize};

use crate::text_enum::text_enum;

text_enum!(Environment, "environment" {
    Production => "production",
    Staging => "staging",
    Development => "development",
    DisasterRecovery => "disaster_recovery",
});

text_enum!(TargetType, "restore target type" {
    /// A PostgreSQL server (a database on it, or a new one).
    Postgresql => "postgresql",
    /// A directory files are restored into.
    Directory => "directory",
    /// A bucket (and prefix) objects are restored into.
    S3Bucket => "s3_bucket",
    /// A directory a whole PostgreSQL cluster is restored into and started from, for
    /// point-in-time restores.
    DataDirectory => "data_directory",
});

/// A restore target as the Restoration page lists it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreTargetLine {
    pub id: String,
    pub name: String,
    pub environment: Environment,
    pub target_type: TargetType,
    /// Where it is: a database URL, a directory, `s3://bucket/prefix at endpoint`.
    pub place: String,
    pub has_secret: bool,
    pub last_test_ok: Option<bool>,
    pub last_test_message: Option<String>,
}
