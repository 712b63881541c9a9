//! Browser sessions as stored in the catalog (the cookie carries only a random id).
//!
//! The web layer adapts this to its session middleware; keeping storage here means sessions
//! work the same on both catalog backends and are shared by every node. Rows are keyed by the
//! SHA-256 of the cookie's id, never the id itself: a copy of the catalog holds no session a
//! reader could replay.

use crate::platform::catalog::{Catalog, CatalogError};
use crate::platform::time;

/// The stored key of session `id`.
fn key(id: &str) -> String {
    crate::platform::accounts::secret::digest(id)
}

/// A stored session: opaque JSON data, the user it belongs to (for logging a user out
/// everywhere), and its expiry.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: Option<String>,
    pub data: String,
    pub expires_at: String,
}

/// Loads a session that has not expired; an expired one is as good as absent.
pub async fn load(catalog: &Catalog, id: &str) -> Result<Option<SessionRow>, CatalogError> {
    Ok(sqlx::query_as::<_, SessionRow>(
        "SELECT id, user_id, data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2",
    )
    .bind(key(id))
    .bind(time::now_text())
    .fetch_optional(catalog.pool())
    .await?)
}

pub async fn exists(catalog: &Catalog, id: &str) -> Result<bool, CatalogError> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM sessions WHERE id = $1").bind(key(id)).fetch_optional(catalog.pool()).await?;
    Ok(found.is_some())
}

/// Inserts or replaces a session; `row.id` is the cookie's id.
pub async fn save(catalog: &Catalog, row: &SessionRow) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, data, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, data = excluded.data, expires_at = excluded.expires_at",
    )
    .bind(key(&row.id))
    .bind(&row.user_id)
    .bind(&row.data)
    .bind(&row.expires_at)
    .execute(catalog.pool())
    .await?;
    Ok(())
}

pub async fn delete(catalog: &Catalog, id: &str) -> Result<(), CatalogError> {
    sqlx::query("DELETE FROM sessions WHERE id = $1").bind(key(id)).execute(catalog.pool()).await?;
    Ok(())
}

/// Removes expired sessions and setup links; returns how many rows went.
pub async fn delete_expired(catalog: &Catalog) -> Result<u64, CatalogError> {
    let now = time::now_text();
    let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(&now).execute(catalog.pool()).await?;
    let links = sqlx::query("DELETE FROM setup_tokens WHERE expires_at <= $1").bind(&now).execute(catalog.pool()).await?;
    Ok(sessions.rows_affected() + links.rows_affected())
}
