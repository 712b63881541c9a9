//! Snapshot manifests and the file trees they point to.

use serde::{Deserialize, Serialize};

/// A snapshot manifest, stored sealed at `snapshots/<id>`. Written last: a backup exists only
/// once its manifest does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub version: u32,
    pub id: String,
    pub time: String,
    pub hostname: String,
    /// What was backed up: a path, or a name given to a stream.
    pub source: String,
    pub tags: Vec<String>,
    pub content: Content,
    pub summary: Summary,
    /// Source-specific recovery metadata (server version, WAL range, table list …).
    #[serde(default)]
    pub metadata: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Content {
    /// One byte stream (stdin, a command's output).
    #[serde(rename_all = "camelCase")]
    Stream { chunks: Vec<String>, size: u64, sha256: String },
    /// A directory tree; `tree` are the tree blobs holding the serialised [`Node`] list.
    #[serde(rename_all = "camelCase")]
    Tree { tree: Vec<String>, tree_size: u64, tree_sha256: String },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub files: u64,
    pub dirs: u64,
    /// Logical bytes read.
    pub bytes: u64,
    pub chunks: u64,
    /// Chunks the repository did not have yet.
    pub new_chunks: u64,
    /// Plaintext bytes of those new chunks.
    pub new_bytes: u64,
    /// Bytes uploaded (packs, sealed and compressed).
    pub stored_bytes: u64,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    File,
    Dir,
    Symlink,
}

/// One entry of a tree. Paths are relative, `/`-separated, without `.` or `..`; the list is
/// depth-first with siblings sorted by name, so a directory comes before what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    pub path: String,
    pub kind: NodeKind,
    pub mode: u32,
    pub mtime_ns: i64,
    #[serde(default)]
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunks: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// An object of a bucket: what S3 keeps beside its bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectAttributes>,
}

/// An S3 object's headers and user metadata, restored with its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectAttributes {
    /// The source's ETag when read: an unchanged ETag and size let the next backup reuse the
    /// object without reading it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// User metadata (`x-amz-meta-*`), names without the prefix.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// True if `path` is a safe relative path: no empty, `.` or `..` component, not absolute, no
/// NUL. (A backslash is an ordinary character in a Unix file name.) Restores refuse any other path.
pub fn is_safe_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\0')
        && path.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

/// True if `path` is `filter` or inside it.
pub fn matches_filter(path: &str, filter: &str) -> bool {
    let filter = filter.trim_matches('/');
    filter.is_empty() || path == filter || path.starts_with(&format!("{filter}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_refused() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a/\0"] {
            assert!(!is_safe_path(bad), "{bad:?}");
        }
        for good in ["a", "a/b", "dir with space/ünïcode.txt", "..hidden", "a/.b", "back\\slash"] {
            assert!(is_safe_path(good), "{good:?}");
        }
    }

    #[test]
    fn filters_match_whole_components() {
        assert!(matches_filter("docs/a.txt", "docs"));
        assert!(matches_filter("docs", "docs/"));
        assert!(!matches_filter("docs2/a.txt", "docs"));
        assert!(matches_filter("x", ""));
    }
}
