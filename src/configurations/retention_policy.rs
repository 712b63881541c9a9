//! Retention policies: which of a configuration's backups to keep. The rules are restic's and
//! Proxmox's (keep the last N, and the newest of each of the last N hours, days, weeks, months
//! and years), plus a maximum age past which nothing is kept.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// A configuration's `retentionPolicy`. Every field is optional; an empty policy keeps
/// everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetentionPolicy {
    pub keep_last: Option<u32>,
    pub keep_hourly: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
    pub keep_yearly: Option<u32>,
    /// Backups older than this are deleted whatever the other rules say (the seeds' `days`).
    #[serde(alias = "days")]
    pub max_age_days: Option<u32>,
}

impl RetentionPolicy {
    /// Parses a stored or submitted policy; the error names the field.
    pub fn parse(json: &serde_json::Value) -> Result<RetentionPolicy, String> {
        let policy: RetentionPolicy = serde_json::from_value(json.clone())
            .map_err(|e| format!("retentionPolicy: {e} (fields: keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly, maxAgeDays)"))?;
        if policy.max_age_days == Some(0) {
            return Err("retentionPolicy.maxAgeDays: at least 1 day".into());
        }
        if policy.has_keep_rules() && policy.keep_rules().iter().all(|(_, n)| *n == 0) {
            return Err("retentionPolicy: keeping nothing would delete every backup; give at least one rule above 0".into());
        }
        Ok(policy)
    }

    fn keep_rules(&self) -> [(&'static str, u32); 6] {
        [
            ("last", self.keep_last.unwrap_or(0)),
            ("hourly", self.keep_hourly.unwrap_or(0)),
            ("daily", self.keep_daily.unwrap_or(0)),
            ("weekly", self.keep_weekly.unwrap_or(0)),
            ("monthly", self.keep_monthly.unwrap_or(0)),
            ("yearly", self.keep_yearly.unwrap_or(0)),
        ]
    }

    fn has_keep_rules(&self) -> bool {
        [self.keep_last, self.keep_hourly, self.keep_daily, self.keep_weekly, self.keep_monthly, self.keep_yearly].iter().any(Option::is_some)
    }

    /// True when the policy can delete anything.
    pub fn deletes_anything(&self) -> bool {
        self.has_keep_rules() || self.max_age_days.is_some()
    }

    /// Decides, for backups given newest first as `(id, time)`, which to keep and why.
    pub fn plan(&self, backups: &[(String, DateTime<Utc>)], now: DateTime<Utc>) -> Vec<Verdict> {
        let mut reasons: Vec<Vec<String>> = vec![Vec::new(); backups.len()];
        if !self.has_keep_rules() {
            for r in &mut reasons {
                r.push("no keep rule".into());
            }
        }
        for (rule, n) in self.keep_rules() {
            if n == 0 {
                continue;
            }
            let mut last_bucket = None;
            let mut kept = 0;
            for (i, (_, time)) in backups.iter().enumerate() {
                if kept == n {
                    break;
                }
                let bucket = if rule == "last" { i as i64 } else { bucket(rule, *time) };
                if last_bucket != Some(bucket) {
                    last_bucket = Some(bucket);
                    kept += 1;
                    reasons[i].push(format!("keep {rule} {n}"));
                }
            }
        }
        backups
            .iter()
            .zip(reasons)
            .map(|((id, time), reasons)| {
                let too_old = self.max_age_days.is_some_and(|days| *time < now - Duration::days(days as i64));
                if too_old {
                    Verdict { id: id.clone(), keep: false, reason: format!("older than maxAgeDays {}", self.max_age_days.unwrap_or(0)) }
                } else if reasons.is_empty() {
                    Verdict { id: id.clone(), keep: false, reason: "no keep rule selects it".into() }
                } else {
                    Verdict { id: id.clone(), keep: true, reason: reasons.join(", ") }
                }
            })
            .collect()
    }
}

/// What a policy decided for one backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub id: String,
    pub keep: bool,
    pub reason: String,
}

/// The hour, day, ISO week, month or year a time falls in, as one comparable number.
fn bucket(rule: &str, t: DateTime<Utc>) -> i64 {
    let (y, m, d) = (t.year() as i64, t.month() as i64, t.day() as i64);
    match rule {
        "hourly" => ((y * 100 + m) * 100 + d) * 100 + t.hour() as i64,
        "daily" => (y * 100 + m) * 100 + d,
        "weekly" => {
            let w = t.iso_week();
            w.year() as i64 * 100 + w.week() as i64
        }
        "monthly" => y * 100 + m,
        _ => y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("a test time").with_timezone(&Utc)
    }

    /// Backups every 6 hours over 20 days, newest first.
    fn history(now: DateTime<Utc>) -> Vec<(String, DateTime<Utc>)> {
        (0..80).map(|i| (format!("b{i}"), now - Duration::hours(6 * i))).collect()
    }

    fn kept(verdicts: &[Verdict]) -> Vec<&str> {
        verdicts.iter().filter(|v| v.keep).map(|v| v.id.as_str()).collect()
    }

    #[test]
    fn keep_last_and_daily_pick_the_newest_of_each_day() {
        let now = at("2026-11-23T20:00:00Z");
        let policy = RetentionPolicy { keep_last: Some(2), keep_daily: Some(3), ..Default::default() };
        let verdicts = policy.plan(&history(now), now);
        // b0, b1 (last 2); the newest of 23, 22 and 21 November: b0, b4 (22nd 20:00), b8.
        assert_eq!(kept(&verdicts), ["b0", "b1", "b4", "b8"]);
        assert_eq!(verdicts[0].reason, "keep last 2, keep daily 3");
        assert!(!verdicts[2].keep && verdicts[2].reason == "no keep rule selects it");
    }

    #[test]
    fn weekly_and_monthly_buckets() {
        let now = at("2026-11-23T20:00:00Z"); // a Monday
        let policy = RetentionPolicy { keep_weekly: Some(2), keep_monthly: Some(2), ..Default::default() };
        let verdicts = policy.plan(&history(now), now);
        // This week's newest (b0), last week's newest (Sunday 22nd, 20:00: b4); November's
        // newest (b0 again) and no October (the history starts on 4 November).
        assert_eq!(kept(&verdicts), ["b0", "b4"]);
    }

    #[test]
    fn max_age_overrides_and_an_empty_policy_keeps_everything() {
        let now = at("2026-11-23T20:00:00Z");
        let aged = RetentionPolicy { keep_last: Some(100), max_age_days: Some(5), ..Default::default() };
        let verdicts = aged.plan(&history(now), now);
        assert_eq!(verdicts.iter().filter(|v| v.keep).count(), 21, "5 days of 4 a day, and b20 exactly 5 days old");
        assert!(verdicts[79].reason.starts_with("older than maxAgeDays 5"));
        let empty = RetentionPolicy::default();
        assert!(empty.plan(&history(now), now).iter().all(|v| v.keep));
        assert!(!empty.deletes_anything());
    }

    #[test]
    fn bad_policies_name_the_field() {
        assert!(RetentionPolicy::parse(&serde_json::json!({"keepDaily": 7, "keepForever": true})).unwrap_err().starts_with("retentionPolicy:"));
        assert!(RetentionPolicy::parse(&serde_json::json!({"maxAgeDays": 0})).unwrap_err().starts_with("retentionPolicy.maxAgeDays"));
        assert!(RetentionPolicy::parse(&serde_json::json!({"keepLast": 0})).is_err());
        assert!(RetentionPolicy::parse(&serde_json::json!({"keepLast": -1})).is_err());
        assert_eq!(RetentionPolicy::parse(&serde_json::json!({})).unwrap(), RetentionPolicy::default());
    }
}
