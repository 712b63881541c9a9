use crate::text_enum::text_enum;

text_enum!(SourceKind, "source type" {
    /// A directory tree.
    Filesystem => "filesystem",
    /// A PostgreSQL database (`pg_dump`), or a whole cluster with its WAL when continuous.
    Postgresql => "postgresql",
    /// An S3-compatible bucket or prefix.
    S3Bucket => "s3_bucket",
    /// Supabase Storage, through its S3 endpoint.
    SupabaseStorage => "supabase_storage",
    /// An environment file or a directory of configuration files (values never shown).
    EnvironmentVars => "environment_vars",
    /// A point across several other configurations.
    ConsistencyGroup => "consistency_group",
});

impl SourceKind {
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
