//! Schedules: when a configuration's backups run by themselves.
//!
//! A configuration's `schedule` is a cron expression (five fields, or six with seconds first);
//! without one, its frequency's preset applies. `continuous` means WAL archiving plus a base
//! backup on this schedule (daily by default). Every node's scheduler looks at the schedules a
//! few times a minute and fires the latest slot that is due; the slot's row in
//! `schedule_slots` is what makes it fire once: whichever node inserts it runs it, and after a
//! downtime only the latest missed slot runs, once.

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};

use crate::error::{Classify, Kind};

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("schedule: {0:?} is not a cron expression ({1}); use five fields like \"0 2 * * *\", or a preset frequency")]
    Invalid(String, String),
    #[error("schedule: a custom frequency needs a cron expression")]
    Missing,
}

impl Classify for ScheduleError {
    fn kind(&self) -> Kind {
        Kind::Invalid
    }
}

/// The cron expression a frequency stands for when no schedule is given.
pub fn preset(frequency: &str) -> Option<&'static str> {
    match frequency {
        "hourly" => Some("0 * * * *"),
        // Base backups of continuous configurations, like daily ones, run at night.
        "daily" | "continuous" => Some("0 1 * * *"),
        "weekly" => Some("0 1 * * 0"),
        "monthly" => Some("0 1 1 * *"),
        _ => None,
    }
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    expression: String,
}

impl Schedule {
    pub fn parse(expression: &str) -> Result<Schedule, ScheduleError> {
        let expression = expression.trim();
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(expression)
            .map_err(|e| ScheduleError::Invalid(expression.to_string(), e.to_string()))?;
        // A pattern that never matches (say, 30 February) would leave the scheduler nothing.
        cron.find_next_occurrence(&Utc::now(), false)
            .map_err(|_| ScheduleError::Invalid(expression.to_string(), "it never occurs".into()))?;
        Ok(Schedule { cron, expression: expression.to_string() })
    }

    /// The schedule of a configuration with `frequency` and an optional cron `schedule`;
    /// `None` when it only runs when asked (`manual`).
    pub fn of(frequency: &str, schedule: Option<&str>) -> Result<Option<Schedule>, ScheduleError> {
        match schedule.map(str::trim).filter(|s| !s.is_empty()) {
            _ if frequency == "manual" => Ok(None),
            Some(expression) => Schedule::parse(expression).map(Some),
            None => match preset(frequency) {
                Some(expression) => Schedule::parse(expression).map(Some),
                None => Err(ScheduleError::Missing),
            },
        }
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first slot strictly after `time`.
    pub fn next_after(&self, time: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&time, false).ok()
    }

    /// The latest slot at or before `now` that is later than `since`: what is due now.
    pub fn due(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_previous_occurrence(&now, true).ok().filter(|slot| *slot > since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("a test time").with_timezone(&Utc)
    }

    #[test]
    fn presets_and_expressions() {
        assert!(Schedule::of("manual", Some("0 * * * *")).expect("manual").is_none());
        let daily = Schedule::of("daily", None).expect("daily").expect("scheduled");
        assert_eq!(daily.next_after(at("2026-11-23T00:30:00Z")), Some(at("2026-11-23T01:00:00Z")));
        let custom = Schedule::of("hourly", Some("15 */6 * * *")).expect("custom").expect("scheduled");
        assert_eq!(custom.next_after(at("2026-11-23T00:30:00Z")), Some(at("2026-11-23T06:15:00Z")));
        assert!(matches!(Schedule::of("custom", Some("  ")), Err(ScheduleError::Missing)));
        assert!(matches!(Schedule::of("custom", Some("61 * * * *")), Err(ScheduleError::Invalid(..))));
        assert!(matches!(Schedule::of("custom", Some("0 0 30 2 *")), Err(ScheduleError::Invalid(..))));
        let seconds = Schedule::parse("*/5 * * * * *").expect("six fields");
        assert_eq!(seconds.next_after(at("2026-11-23T00:00:01Z")), Some(at("2026-11-23T00:00:05Z")));
    }

    #[test]
    fn only_the_latest_missed_slot_is_due() {
        let hourly = Schedule::parse("0 * * * *").expect("hourly");
        // Down from 01:10 to 05:20: four slots were missed, one runs.
        assert_eq!(hourly.due(at("2026-11-23T01:00:00Z"), at("2026-11-23T05:20:00Z")), Some(at("2026-11-23T05:00:00Z")));
        // The slot already fired: nothing is due until the next.
        assert_eq!(hourly.due(at("2026-11-23T05:00:00Z"), at("2026-11-23T05:59:59Z")), None);
        assert_eq!(hourly.due(at("2026-11-23T05:00:00Z"), at("2026-11-23T06:00:00Z")), Some(at("2026-11-23T06:00:00Z")));
    }
}
