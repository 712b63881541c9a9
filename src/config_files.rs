//! Configuration and environment file backups compared with the files as they are now: which
//! files were added, removed or changed, and for environment files which keys. Values are
//! secrets: they are compared here and never returned, logged or shown.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::engine::source::SourceKind;
use crate::platform::auth::{AuthError, Principal, Role};
use crate::configurations::{self, ConfigurationError};
use crate::platform::catalog::Catalog;
use crate::error::{Classify, Kind};
use crate::executions::{self, ExecutionError};
use crate::locations::{self, LocationError};
use crate::engine::repo::snapshot::NodeKind;
use crate::engine::repo::{RepoError, tree};
use crate::platform::secrets::SecretBox;
use crate::engine::source::env_file::{self, KeyChanges};

/// The largest environment file compared key by key (a bigger one is not a `.env` file).
const ENV_FILE_LIMIT: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ConfigFilesError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Configuration(#[from] ConfigurationError),
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    #[error(transparent)]
    Location(#[from] LocationError),
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl Classify for ConfigFilesError {
    fn kind(&self) -> Kind {
        match self {
            ConfigFilesError::Invalid(_) => Kind::Invalid,
            ConfigFilesError::Auth(e) => e.kind(),
            ConfigFilesError::Configuration(e) => e.kind(),
            ConfigFilesError::Execution(e) => e.kind(),
            ConfigFilesError::Location(e) => e.kind(),
            ConfigFilesError::Repo(e) => e.kind(),
        }
    }
}

/// One file's difference between the snapshot and now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileDiff {
    pub path: String,
    /// `added` (only now), `removed` (only in the snapshot), `changed` or `unchanged`.
    pub status: &'static str,
    /// For environment files: the keys that moved (names only).
    pub keys: Option<KeyChanges>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigDiff {
    pub execution_id: String,
    pub path: String,
    pub files: Vec<FileDiff>,
    /// Files that are not `unchanged`.
    pub differences: usize,
}

/// The regular files of a configuration source now, by path relative to it (a single file is
/// its own name), sorted.
pub(crate) fn current_files(source: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    if !std::fs::metadata(source)?.is_dir() {
        let name = source.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        return Ok(vec![(name, source.to_path_buf())]);
    }
    let mut out = Vec::new();
    let mut dirs = vec![source.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file()
                && let Ok(rel) = entry.path().strip_prefix(source)
            {
                out.push((rel.to_string_lossy().into_owned(), entry.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Compares an `environment_vars` execution with the files at its source now.
pub async fn diff(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, execution_id: &str) -> Result<ConfigDiff, ConfigFilesError> {
    actor.require(Role::Operator)?;
    let execution = executions::get(catalog, actor, execution_id).await?;
    let configuration = configurations::find(catalog, &execution.configuration_id).await?;
    if configuration.source_type != SourceKind::EnvironmentVars {
        return Err(ConfigFilesError::Invalid(format!("execution {execution_id} is not a backup of configuration files")));
    }
    let (Some(location), Some(snapshot_id)) = (&execution.storage_location_id, &execution.snapshot_id) else {
        return Err(ConfigFilesError::Invalid(format!("execution {execution_id} has no snapshot (status {})", execution.status)));
    };
    let repo = locations::open_repository(catalog, secrets, location).await?;
    let snapshot = repo.load_snapshot(snapshot_id).await?;
    let index = std::sync::Arc::new(repo.load_index().await?);
    let then: BTreeMap<String, _> = tree::load_tree(&repo, &index, &snapshot)
        .await?
        .into_iter()
        .filter(|n| n.kind == NodeKind::File)
        .map(|n| (n.path.clone(), n))
        .collect();
    let source = PathBuf::from(&configuration.source_identifier);
    let now: BTreeMap<String, PathBuf> = match current_files(&source) {
        Ok(files) => files.into_iter().collect(),
        // Gone entirely: every file was removed.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(ConfigFilesError::Invalid(format!("{}: {e}", source.display()))),
    };
    let paths: BTreeSet<&String> = then.keys().chain(now.keys()).collect();
    let mut files = Vec::new();
    for path in paths {
        let is_env = env_file::is_env_file(path.rsplit('/').next().unwrap_or(path));
        let current = now.get(path).map(std::fs::read).transpose().map_err(|e| ConfigFilesError::Invalid(format!("{path}: {e}")))?;
        let old = then.get(path);
        let status = match (old, &current) {
            (Some(_), None) => "removed",
            (None, Some(_)) => "added",
            (Some(node), Some(bytes)) if node.sha256.as_deref() == Some(hex::encode(Sha256::digest(bytes)).as_str()) => "unchanged",
            _ => "changed",
        };
        let keys = if is_env && status != "unchanged" {
            let before = match old {
                Some(_) => env_file::parse(&String::from_utf8_lossy(&crate::engine::repo::read::read_file(&repo, index.clone(), &snapshot, path, ENV_FILE_LIMIT).await?)),
                None => BTreeMap::new(),
            };
            let after = current.as_deref().map(|b| env_file::parse(&String::from_utf8_lossy(b))).unwrap_or_default();
            Some(KeyChanges::between(&before, &after))
        } else {
            None
        };
        files.push(FileDiff { path: path.clone(), status, keys });
    }
    let differences = files.iter().filter(|f| f.status != "unchanged").count();
    Ok(ConfigDiff { execution_id: execution_id.to_string(), path: configuration.source_identifier, files, differences })
}
