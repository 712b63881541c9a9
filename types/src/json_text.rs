//! JSON the catalog keeps as text, sent and read as the JSON itself.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Text that does not parse (never written by Bulwark) is sent as `null`.
pub fn serialize<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    serde_json::from_str::<serde_json::Value>(text).unwrap_or(serde_json::Value::Null).serialize(s)
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(serde_json::Value::deserialize(d)?.to_string())
}
