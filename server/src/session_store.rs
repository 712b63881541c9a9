//! tower-sessions storage in the catalog, so sessions survive restarts and are shared by
//! every node on a PostgreSQL catalog.

use async_trait::async_trait;
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::platform::sessions::{self, SessionRow};
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

#[derive(Clone, Debug)]
pub struct CatalogStore {
    catalog: Catalog,
}

impl CatalogStore {
    pub fn new(catalog: Catalog) -> CatalogStore {
        CatalogStore { catalog }
    }
}

fn backend<E: std::fmt::Display>(e: E) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn to_text(t: OffsetDateTime) -> String {
    let micros = t.unix_timestamp_nanos() / 1000;
    let secs = micros.div_euclid(1_000_000) as i64;
    let nanos = (micros.rem_euclid(1_000_000) * 1000) as u32;
    let utc = chrono::DateTime::from_timestamp(secs, nanos).unwrap_or_default();
    bulwark_core::platform::time::to_text(utc)
}

fn from_text(text: &str) -> Option<OffsetDateTime> {
    let t = bulwark_core::platform::time::parse(text)?;
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.timestamp_micros()) * 1000).ok()
}

#[async_trait]
impl SessionStore for CatalogStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        while sessions::exists(&self.catalog, &record.id.to_string()).await.map_err(backend)? {
            record.id = Id::default();
        }
        self.save(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let user_id = record.data.get(bulwark_app::ssr::USER_KEY).and_then(|v| v.as_str()).map(str::to_string);
        let row = SessionRow {
            id: record.id.to_string(),
            user_id,
            data: serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?,
            expires_at: to_text(record.expiry_date),
        };
        sessions::save(&self.catalog, &row).await.map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some(row) = sessions::load(&self.catalog, &id.to_string()).await.map_err(backend)? else {
            return Ok(None);
        };
        let data = serde_json::from_str(&row.data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = from_text(&row.expires_at)
            .ok_or_else(|| session_store::Error::Decode(format!("bad expiry {:?}", row.expires_at)))?;
        Ok(Some(Record { id: *id, data, expiry_date }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sessions::delete(&self.catalog, &id.to_string()).await.map_err(backend)
    }
}
