//! Timestamps as stored in the catalog.
//!
//! Both catalog backends store times as TEXT in one fixed-width UTC format
//! (`2026-11-22T19:30:08.123456Z`), so lexical order is time order and the same SQL compares
//! them on SQLite and PostgreSQL.

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats a time the way the catalog stores it.
pub fn to_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The current time in catalog format.
pub fn now_text() -> String {
    to_text(Utc::now())
}

/// Parses a catalog time; `None` for text that is not one (never panics on stored data).
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn fixed_width_sorts_like_time() {
        let a = to_text(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap());
        let b = to_text(Utc.with_ymd_and_hms(2026, 10, 2, 3, 4, 5).unwrap());
        assert_eq!(a, "2026-01-02T03:04:05.000000Z");
        assert!(a < b);
        assert_eq!(parse(&a).map(to_text), Some(a));
        assert_eq!(parse("yesterday"), None);
    }
}
