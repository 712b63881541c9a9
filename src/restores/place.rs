//! Where a restore writes, whatever its kind: what the restoration workflow compares with named
//! targets (to find the environment) and with the backed-up source (restoring over it is
//! production), and what each kind builds its request from when a named target is chosen.

use std::path::PathBuf;

use bulwark_types::{RestorationScope, RestorationType};
use serde::{Deserialize, Serialize};

/// A place a restore writes (read back from a recovery run's record of what a restore
/// created, to remove it again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum Place {
    /// A database on a PostgreSQL server (`url` without a password).
    Database { host: String, port: u16, database: String, url: String },
    /// A directory files are written into.
    Directory { path: PathBuf },
    /// A new data directory a cluster is unpacked into, and the port it is started on.
    DataDirectory { path: PathBuf, port: Option<u16> },
    /// Keys under a prefix of a bucket (`endpoint` `None` for AWS itself).
    Bucket { endpoint: Option<String>, bucket: String, prefix: String },
    /// A consistency group's members, each at its own place.
    Members { members: Vec<Place> },
}

impl Place {
    /// Every single place (a group's members flattened).
    pub fn each(&self) -> Vec<&Place> {
        match self {
            Place::Members { members } => members.iter().flat_map(Place::each).collect(),
            one => vec![one],
        }
    }

    /// One line for a person: `postgresql://host:5432/db`, a path, `s3://bucket/prefix`.
    pub fn describe(&self) -> String {
        match self {
            Place::Database { url, .. } => url.clone(),
            Place::Directory { path } => path.display().to_string(),
            Place::DataDirectory { path, .. } => path.display().to_string(),
            Place::Bucket { endpoint, bucket, prefix } => format!("s3://{bucket}/{prefix} at {}", endpoint.as_deref().unwrap_or("AWS")),
            Place::Members { members } => members.iter().map(Place::describe).collect::<Vec<_>>().join(", "),
        }
    }
}

/// A restore into a named target: the place, its secret (a password, a secret access key, with
/// what the S3 client needs besides), what to restore and up to when. Each kind turns it into
/// its own request shape (`crate::sources::Source::request_for`).
#[derive(Debug, Clone)]
pub struct Destination {
    pub place: Place,
    pub secret: Option<String>,
    /// A bucket target's region and access key id.
    pub region: Option<String>,
    pub access_key: Option<String>,
    pub restoration_type: RestorationType,
    pub scope: RestorationScope,
    pub point_in_time: Option<String>,
    /// Write over what the target holds (after a safety snapshot of it), where the kind
    /// otherwise refuses: a database's tables.
    pub overwrite: bool,
}

impl Destination {
    /// The scope's entries of one sort, refused when the restoration type does not take them:
    /// `full` takes none, the `partial` types (the first names them) need some.
    pub fn selection(&self, field: &str, chosen: &[String], partial: &[RestorationType]) -> Result<Vec<String>, super::RestoreError> {
        let invalid = |m: String| super::RestoreError::Invalid(m);
        let named = partial.first().copied().unwrap_or(RestorationType::Partial);
        match self.restoration_type {
            RestorationType::Full if !chosen.is_empty() => Err(invalid(format!("restorationScope.{field}: a full restore takes everything; choose {named} to restore only some"))),
            RestorationType::Full => Ok(Vec::new()),
            t if partial.contains(&t) && chosen.is_empty() => Err(invalid(format!("restorationScope.{field}: a {t} restore names what to restore"))),
            t if partial.contains(&t) => Ok(chosen.to_vec()),
            t => Err(invalid(format!("restorationType: this backup restores full or {named}, not {t}"))),
        }
    }

    /// The other sorts of scope must be empty.
    pub fn refuse_scope(&self, fields: &[(&str, &[String])]) -> Result<(), super::RestoreError> {
        match fields.iter().find(|(_, v)| !v.is_empty()) {
            Some((field, _)) => Err(super::RestoreError::Invalid(format!("restorationScope.{field}: this backup has no {field}"))),
            None => Ok(()),
        }
    }
}

impl Place {
    /// The database `url` names, checked against the server's allowed hosts (`field` names the
    /// request's field in errors).
    pub fn database(targets: &super::Targets, field: &str, url: &str) -> Result<Place, super::RestoreError> {
        let options = targets.database(field, url)?;
        Ok(Place::Database { host: options.get_host().to_string(), port: options.get_port(), database: options.get_database().unwrap_or_default().to_string(), url: url.to_string() })
    }
}
