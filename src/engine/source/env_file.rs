//! Environment files (`.env`, `app.env`, `.env.production`): `KEY=value` lines, whose values
//! are secrets. Only key names and hashes ever leave this module; values are compared, never
//! returned.

use std::collections::BTreeMap;

/// True for names that hold `KEY=value` lines: `.env`, `.env.<stage>`, `<name>.env`.
pub fn is_env_file(name: &str) -> bool {
    name == ".env" || name.starts_with(".env.") || name.ends_with(".env")
}

/// The keys and values of an environment file. Blank lines and `#` comments are skipped;
/// `export KEY=value` is `KEY`; matching surrounding quotes are removed. A line without `=` is
/// kept under its trimmed text with an empty value, so a change to it still shows.
pub fn parse(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        let value = value.trim();
        let unquoted = ['"', '\''].iter().find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q))).unwrap_or(value);
        out.insert(key.trim().to_string(), unquoted.to_string());
    }
    out
}

/// How the keys of one file moved between two versions (names only).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Keys whose value differs (the values are not shown).
    pub changed: Vec<String>,
}

impl KeyChanges {
    pub fn between(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> KeyChanges {
        KeyChanges {
            added: after.keys().filter(|k| !before.contains_key(*k)).cloned().collect(),
            removed: before.keys().filter(|k| !after.contains_key(*k)).cloned().collect(),
            changed: after.iter().filter(|(k, v)| before.get(*k).is_some_and(|b| b != *v)).map(|(k, _)| k.clone()).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keys_and_changes() {
        let before = parse("# comment\nexport DATABASE_URL=\"postgres://u:p@db/app\"\nAPI_KEY='sk_live_1'\nDEBUG=false\nODD LINE\n\n");
        assert_eq!(before.keys().collect::<Vec<_>>(), ["API_KEY", "DATABASE_URL", "DEBUG", "ODD LINE"]);
        assert_eq!(before["DATABASE_URL"], "postgres://u:p@db/app");
        let after = parse("DATABASE_URL=postgres://u:p@db/app\nAPI_KEY=sk_live_2\nNEW_FLAG=1\nODD LINE\n");
        let changes = KeyChanges::between(&before, &after);
        assert_eq!(changes, KeyChanges { added: vec!["NEW_FLAG".into()], removed: vec!["DEBUG".into()], changed: vec!["API_KEY".into()] });
        assert!(is_env_file(".env") && is_env_file(".env.production") && is_env_file("api.env") && !is_env_file("env.yaml"));
    }
}
