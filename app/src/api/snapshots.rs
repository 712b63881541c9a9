//! What a location's repository holds: snapshots, and the tree inside one.

use leptos::prelude::*;

pub use bulwark_types::{EntryView, SnapshotView};

use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "location_snapshots")]
pub async fn location_snapshots(id: String) -> Result<(String, Vec<SnapshotView>), AppError> {
    let p = crate::ssr::principal().await?;
    let (catalog, secrets) = (crate::ssr::catalog()?, crate::ssr::secrets()?);
    let name = bulwark_core::locations::get(&catalog, &p, &id).await.map_err(AppError::from_core)?.location_name;
    let rows = bulwark_core::locations::snapshots(&catalog, &secrets, &p, &id).await.map_err(AppError::from_core)?;
    Ok((
        name,
        rows.into_iter()
            .map(|s| SnapshotView { id: s.id, time: s.time, source: s.source, kind: s.kind.into(), bytes: s.bytes, files: s.files })
            .collect(),
    ))
}

#[server(prefix = "/_sfn", endpoint = "browse_snapshot")]
pub async fn browse_snapshot(id: String, snapshot: String, dir: String) -> Result<Vec<EntryView>, AppError> {
    let p = crate::ssr::principal().await?;
    let (catalog, secrets) = (crate::ssr::catalog()?, crate::ssr::secrets()?);
    let nodes = bulwark_core::locations::browse(&catalog, &secrets, &p, &id, &snapshot, &dir).await.map_err(AppError::from_core)?;
    Ok(nodes
        .into_iter()
        .map(|n| EntryView {
            name: n.path.rsplit('/').next().unwrap_or_default().to_string(),
            kind: format!("{:?}", n.kind).to_lowercase(),
            size: n.size,
            mode: format!("{:o}", n.mode),
            path: n.path,
        })
        .collect())
}
