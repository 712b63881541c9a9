use serde::{Deserialize, Serialize};

/// What a configuration backs up; stored and sent as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A directory tree.
    Filesystem,
    /// A PostgreSQL database (`pg_dump`), or a whole cluster with its WAL when continuous.
    Postgresql,
    /// An S3-compatible bucket or prefix.
    S3Bucket,
    /// Supabase Storage, through its S3 endpoint.
    SupabaseStorage,
    /// An environment file or a directory of configuration files (values never shown).
    EnvironmentVars,
    /// A point across several other configurations.
    ConsistencyGroup,
}

impl SourceKind {
    pub const ALL: [SourceKind; 6] =
        [SourceKind::Filesystem, SourceKind::Postgresql, SourceKind::S3Bucket, SourceKind::SupabaseStorage, SourceKind::EnvironmentVars, SourceKind::ConsistencyGroup];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Filesystem => "filesystem",
            SourceKind::Postgresql => "postgresql",
            SourceKind::S3Bucket => "s3_bucket",
            SourceKind::SupabaseStorage => "supabase_storage",
            SourceKind::EnvironmentVars => "environment_vars",
            SourceKind::ConsistencyGroup => "consistency_group",
        }
    }

    pub fn parse(text: &str) -> Option<SourceKind> {
        SourceKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The seeds' `backupType` for what this kind holds.
    pub fn held_as(self) -> &'static str {
        match self {
            SourceKind::Postgresql => "database",
            SourceKind::Filesystem | SourceKind::S3Bucket | SourceKind::SupabaseStorage => "file_storage",
            SourceKind::EnvironmentVars => "configuration",
            SourceKind::ConsistencyGroup => "full_system",
        }
    }

    /// Backed up object by object from a bucket.
    pub fn is_bucket(self) -> bool {
        matches!(self, SourceKind::S3Bucket | SourceKind::SupabaseStorage)
    }

    /// Restored as files into a directory.
    pub fn is_files(self) -> bool {
        matches!(self, SourceKind::Filesystem | SourceKind::EnvironmentVars)
    }
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Read from the catalog's text column; a name this version does not know fails the read.
#[cfg(feature = "sqlx")]
impl sqlx::Type<sqlx::Any> for SourceKind {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <String as sqlx::Type<sqlx::Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <String as sqlx::Type<sqlx::Any>>::compatible(ty)
    }
}

#[cfg(feature = "sqlx")]
impl<'r> sqlx::Decode<'r, sqlx::Any> for SourceKind {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <String as sqlx::Decode<sqlx::Any>>::decode(value)?;
        SourceKind::parse(&text).ok_or_else(|| format!("unknown source type {text:?}").into())
    }
}
