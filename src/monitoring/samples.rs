//! `system_health_monitoring`: samples recorded (a probe's with its service's new state in one
//! transaction; an outside agent's, checked), read back over a time range with the seeds'
//! summary, and downsampled so the table stays bounded: raw samples for a day, then one row per
//! service and minute for a week, then per hour for 90 days. A bucket keeps its worst status,
//! the averages of its figures weighted by what each row stands for, and how many samples it
//! stands for; the free-form fields (custom metrics, anomalies, alerts) stay on raw samples only.

use chrono::{DateTime, Duration, Timelike, Utc};

use super::probes::Reading;
use super::{HealthSample, HealthStatus, HealthSummary, MonitoredService, MonitoringError, RecordSample, ServiceHealth, ServicesHealth, RECORD_SCOPE};
use crate::alerts::{self, AlertType, Condition, Severity};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::time;

const COLUMNS: &str = "id, monitoring_timestamp, service_name, service_id, health_status, response_time_ms, cpu_usage, memory_usage, disk_usage, network_latency_ms, error_rate,
    throughput_rps, active_connections, custom_metrics, alerts_triggered, anomalies_detected, geographical_region, availability_zone, resolution, sample_count";

/// At most this many samples are sent back by a report (newest first).
const REPORT_LIMIT: i64 = 1000;

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    monitoring_timestamp: String,
    service_name: String,
    service_id: Option<String>,
    health_status: String,
    response_time_ms: Option<i64>,
    cpu_usage: Option<f64>,
    memory_usage: Option<f64>,
    disk_usage: Option<f64>,
    network_latency_ms: Option<i64>,
    error_rate: Option<f64>,
    throughput_rps: Option<f64>,
    active_connections: Option<i64>,
    custom_metrics: String,
    alerts_triggered: String,
    anomalies_detected: String,
    geographical_region: Option<String>,
    availability_zone: Option<String>,
    resolution: String,
    sample_count: i64,
}

impl From<Row> for HealthSample {
    fn from(r: Row) -> HealthSample {
        HealthSample {
            id: r.id,
            monitoring_timestamp: r.monitoring_timestamp,
            service_name: r.service_name,
            service_id: r.service_id,
            health_status: HealthStatus::parse(&r.health_status).unwrap_or(HealthStatus::Unknown),
            response_time_ms: r.response_time_ms,
            cpu_usage: r.cpu_usage,
            memory_usage: r.memory_usage,
            disk_usage: r.disk_usage,
            network_latency_ms: r.network_latency_ms,
            error_rate: r.error_rate,
            throughput_rps: r.throughput_rps,
            active_connections: r.active_connections,
            custom_metrics: serde_json::from_str(&r.custom_metrics).unwrap_or_default(),
            alerts_triggered: serde_json::from_str(&r.alerts_triggered).unwrap_or_default(),
            anomalies_detected: serde_json::from_str(&r.anomalies_detected).unwrap_or_default(),
            geographical_region: r.geographical_region,
            availability_zone: r.availability_zone,
            resolution: r.resolution,
            sample_count: r.sample_count,
        }
    }
}

/// A raw sample of `service_name` taken now, with no figures yet.
pub fn blank(service_name: &str, status: HealthStatus) -> HealthSample {
    HealthSample {
        id: uuid::Uuid::new_v4().to_string(),
        monitoring_timestamp: time::now_text(),
        service_name: service_name.to_string(),
        service_id: None,
        health_status: status,
        response_time_ms: None,
        cpu_usage: None,
        memory_usage: None,
        disk_usage: None,
        network_latency_ms: None,
        error_rate: None,
        throughput_rps: None,
        active_connections: None,
        custom_metrics: serde_json::json!({}),
        alerts_triggered: Vec::new(),
        anomalies_detected: serde_json::json!({}),
        geographical_region: None,
        availability_zone: None,
        resolution: "raw".into(),
        sample_count: 1,
    }
}

pub async fn insert_on(conn: &mut sqlx::AnyConnection, s: &HealthSample) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("INSERT INTO system_health_monitoring ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"))
        .bind(&s.id)
        .bind(&s.monitoring_timestamp)
        .bind(&s.service_name)
        .bind(&s.service_id)
        .bind(s.health_status.as_str())
        .bind(s.response_time_ms)
        .bind(s.cpu_usage)
        .bind(s.memory_usage)
        .bind(s.disk_usage)
        .bind(s.network_latency_ms)
        .bind(s.error_rate)
        .bind(s.throughput_rps)
        .bind(s.active_connections)
        .bind(s.custom_metrics.to_string())
        .bind(serde_json::to_string(&s.alerts_triggered).unwrap_or_else(|_| "[]".into()))
        .bind(s.anomalies_detected.to_string())
        .bind(&s.geographical_region)
        .bind(&s.availability_zone)
        .bind(&s.resolution)
        .bind(s.sample_count)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn insert(catalog: &Catalog, sample: &HealthSample) -> Result<(), MonitoringError> {
    let mut conn = catalog.pool().acquire().await?;
    insert_on(&mut conn, sample).await?;
    Ok(())
}

/// A probe's sample and its service's new state, in one transaction.
pub async fn record_probe(catalog: &Catalog, service: &MonitoredService, reading: &Reading, alerts_triggered: Vec<String>) -> Result<HealthSample, MonitoringError> {
    let mut sample = blank(&service.name, reading.status);
    sample.service_id = Some(service.id.clone());
    sample.response_time_ms = reading.response_time_ms;
    sample.network_latency_ms = reading.response_time_ms;
    sample.active_connections = reading.active_connections;
    sample.custom_metrics = serde_json::Value::Object(reading.metrics.clone());
    sample.custom_metrics["message"] = reading.message.clone().into();
    sample.alerts_triggered = alerts_triggered;
    sample.geographical_region = service.geographical_region.clone();
    sample.availability_zone = service.availability_zone.clone();
    let failures = if reading.status == HealthStatus::Unhealthy { service.consecutive_failures + 1 } else { 0 };
    let mut tx = catalog.pool().begin().await?;
    insert_on(&mut tx, &sample).await?;
    sqlx::query("UPDATE monitored_services SET last_status = $1, last_checked_at = $2, last_message = $3, consecutive_failures = $4 WHERE id = $5")
        .bind(reading.status.as_str())
        .bind(&sample.monitoring_timestamp)
        .bind(&reading.message)
        .bind(failures)
        .bind(&service.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(sample)
}

fn invalid(message: impl Into<String>) -> MonitoringError {
    MonitoringError::Invalid(message.into())
}

/// The subject of alerts about samples an outside agent pushes for `service_name`.
pub fn pushed_subject(service_name: &str) -> String {
    format!("pushed:{service_name}")
}

/// `POST /api/disaster-recovery/health/record`: an outside agent's sample, checked field by
/// field. An unhealthy one raises service_unhealthy for its service name; a healthy or
/// degraded one resolves it. Operators, and tokens scoped to recording only.
pub async fn record_pushed(catalog: &Catalog, actor: &Principal, pushed: &RecordSample) -> Result<HealthSample, MonitoringError> {
    if actor.scope.as_deref() != Some(RECORD_SCOPE) {
        actor.require(Role::Operator)?;
    }
    let name = pushed.service_name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid("service_name: 1 to 100 characters, without control characters"));
    }
    if name.starts_with("node:") || name.starts_with("location:") {
        return Err(invalid("service_name: names starting with node: or location: are Bulwark's own"));
    }
    // A pushed sample under a probed service's name would mix into its figures and clear or
    // raise its alerts behind the prober's back.
    let probed: Option<String> = sqlx::query_scalar("SELECT id FROM monitored_services WHERE name = $1").bind(name).fetch_optional(catalog.pool()).await?;
    if probed.is_some() {
        return Err(invalid(format!("service_name: {name:?} is a service Bulwark probes itself; push this agent's samples under a name of their own")));
    }
    let status_text = pushed.health_status.as_deref().unwrap_or_default();
    let status = HealthStatus::parse(status_text).ok_or_else(|| invalid(format!("health_status: {status_text:?} is not one of healthy, degraded, unhealthy, unknown")))?;
    for (field, value) in [("cpu_usage", pushed.cpu_usage), ("memory_usage", pushed.memory_usage), ("disk_usage", pushed.disk_usage), ("error_rate", pushed.error_rate)] {
        if value.is_some_and(|v| !(0.0..=100.0).contains(&v)) {
            return Err(invalid(format!("{field}: a percentage from 0 to 100")));
        }
    }
    // Bounded, so sums over a range cannot overflow (a day in milliseconds at most).
    if pushed.throughput_rps.is_some_and(|v| !(0.0..=1e9).contains(&v)) {
        return Err(invalid("throughput_rps: from 0 to 1,000,000,000"));
    }
    for (field, value) in [("response_time_ms", pushed.response_time_ms), ("network_latency_ms", pushed.network_latency_ms), ("active_connections", pushed.active_connections)] {
        if value.is_some_and(|v| !(0..=86_400_000).contains(&v)) {
            return Err(invalid(format!("{field}: from 0 to 86,400,000")));
        }
    }
    let object = |field: &str, value: &Option<serde_json::Value>| -> Result<serde_json::Value, MonitoringError> {
        match value {
            None | Some(serde_json::Value::Null) => Ok(serde_json::json!({})),
            Some(v @ serde_json::Value::Object(_)) if v.to_string().len() <= 16 * 1024 => Ok(v.clone()),
            Some(_) => Err(invalid(format!("{field}: an object of at most 16 KiB"))),
        }
    };
    let mut sample = blank(name, status);
    sample.response_time_ms = pushed.response_time_ms;
    sample.cpu_usage = pushed.cpu_usage;
    sample.memory_usage = pushed.memory_usage;
    sample.disk_usage = pushed.disk_usage;
    sample.network_latency_ms = pushed.network_latency_ms;
    sample.error_rate = pushed.error_rate;
    sample.throughput_rps = pushed.throughput_rps;
    sample.active_connections = pushed.active_connections;
    sample.custom_metrics = object("custom_metrics", &pushed.custom_metrics)?;
    sample.anomalies_detected = object("anomalies_detected", &pushed.anomalies_detected)?;
    for (field, value) in [("geographical_region", &pushed.geographical_region), ("availability_zone", &pushed.availability_zone)] {
        if value.as_deref().is_some_and(|v| v.chars().count() > 50 || v.chars().any(char::is_control)) {
            return Err(invalid(format!("{field}: up to 50 characters, without control characters")));
        }
    }
    sample.geographical_region = pushed.geographical_region.clone();
    sample.availability_zone = pushed.availability_zone.clone();
    let subject = pushed_subject(name);
    if status == HealthStatus::Unhealthy {
        sample.alerts_triggered.push(AlertType::ServiceUnhealthy.as_str().into());
    }
    let mut tx = catalog.pool().begin().await?;
    insert_on(&mut tx, &sample).await?;
    if status == HealthStatus::Unhealthy {
        let message = format!("{name} reports itself unhealthy");
        alerts::raise_on(&mut tx, &Condition { alert_type: AlertType::ServiceUnhealthy, severity: Severity::High, subject: &subject, message: &message, configuration_id: None, execution_id: None }).await?;
    }
    tx.commit().await?;
    if matches!(status, HealthStatus::Healthy | HealthStatus::Degraded) {
        alerts::resolve(catalog, AlertType::ServiceUnhealthy, &subject, "the service reported itself healthy again").await?;
    }
    Ok(sample)
}

/// A time range of the seeds: `1h` (the default), `6h`, `24h`, `7d`, `30d`.
pub fn range_start(time_range: Option<&str>, now: DateTime<Utc>) -> Result<DateTime<Utc>, MonitoringError> {
    let span = match time_range.unwrap_or("1h") {
        "1h" => Duration::hours(1),
        "6h" => Duration::hours(6),
        "24h" => Duration::hours(24),
        "7d" => Duration::days(7),
        "30d" => Duration::days(30),
        other => return Err(invalid(format!("timeRange: {other:?} is not one of 1h, 6h, 24h, 7d, 30d"))),
    };
    Ok(now - span)
}

/// The alert types about services, nodes and locations (the report's `alerts`).
pub const SERVICE_ALERTS: [AlertType; 5] = [AlertType::ServiceUnhealthy, AlertType::ServiceDegraded, AlertType::WalArchiveStalled, AlertType::StorageFull, AlertType::LocationUnreachable];

/// `GET /api/disaster-recovery/health`: the samples of the range (newest first, of `services`
/// when named), each service's summary and the open alerts about services.
pub async fn report(catalog: &Catalog, actor: &Principal, time_range: Option<&str>, services: &[String]) -> Result<ServicesHealth, MonitoringError> {
    actor.require(Role::Viewer)?;
    let since = time::to_text(range_start(time_range, Utc::now())?);
    // The names are bound, one placeholder each: no SQL is built from them.
    let filter = if services.is_empty() { String::new() } else { format!(" AND service_name IN ({})", placeholders(3, services.len())) };
    let sql = format!("SELECT {COLUMNS} FROM system_health_monitoring WHERE monitoring_timestamp >= $1{filter} ORDER BY monitoring_timestamp DESC LIMIT $2");
    let mut query = sqlx::query_as::<_, Row>(&sql)
        .bind(&since)
        .bind(REPORT_LIMIT);
    for s in services {
        query = query.bind(s);
    }
    let health_data: Vec<HealthSample> = query.fetch_all(catalog.pool()).await?.into_iter().map(HealthSample::from).collect();
    let summary = summary(catalog, &since, services).await?;
    let filter = alerts::Filter { status: Some("active".into()), any_of_types: SERVICE_ALERTS.to_vec(), limit: Some(500), ..alerts::Filter::default() };
    let open = alerts::list(catalog, actor, &filter).await?;
    Ok(ServicesHealth { success: true, health_data, summary, alerts: open })
}

/// `$first, $first+1, …` for `count` values.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// A service's counts over a range, as its parts are added up.
#[derive(Default)]
struct Figures {
    samples: i64,
    up: i64,
    response_ms_sum: f64,
    timed: i64,
    latest_at: String,
}

/// Each service's figures over the range (a bucket counts as the samples it stands for), in
/// three parts that never overlap: the minute and hour buckets in the range; the raw samples
/// of each whole minute after the range's start, summed per minute as they were written
/// (`system_health_minutes`, migration 0028); and the raw samples of the range's first,
/// partial minute.
async fn summary(catalog: &Catalog, since: &str, services: &[String]) -> Result<HealthSummary, MonitoringError> {
    let next_minute = time::parse(since)
        .map(|t| {
            let floor = t.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(t);
            if floor == t { t } else { floor + Duration::minutes(1) }
        })
        .map(time::to_text)
        .unwrap_or_else(|| since.to_string());
    // The names are bound, one placeholder each after the two bounds (each part reuses them).
    let names = if services.is_empty() { String::new() } else { format!(" AND service_name IN ({})", placeholders(3, services.len())) };
    let sample_sums = "CAST(SUM(sample_count) AS BIGINT), CAST(SUM(CASE WHEN health_status IN ('healthy', 'degraded') THEN sample_count ELSE 0 END) AS BIGINT),
                       CAST(COALESCE(SUM(response_time_ms * sample_count), 0) AS DOUBLE PRECISION), CAST(SUM(CASE WHEN response_time_ms IS NULL THEN 0 ELSE sample_count END) AS BIGINT),
                       MAX(monitoring_timestamp)";
    // One statement, so one snapshot: a fold committing between separate reads would move
    // samples from the minute sums to their bucket unseen by both. The samples are grouped by
    // an expression of the name: grouped by the column, SQLite walked its (service, time)
    // index for the order, every service's whole range with a row lookup each (15 ms for no
    // bucket at all), instead of the covering (resolution, time, …) index (0.2 ms).
    let sql = format!(
        "SELECT service_name || '', {sample_sums} FROM system_health_monitoring WHERE resolution IN ('minute', 'hour') AND monitoring_timestamp >= $1{names} GROUP BY service_name || ''
         UNION ALL
         SELECT service_name, CAST(SUM(samples) AS BIGINT), CAST(SUM(up) AS BIGINT), CAST(SUM(response_ms_sum) AS DOUBLE PRECISION), CAST(SUM(timed) AS BIGINT), MAX(latest_at)
           FROM system_health_minutes WHERE minute >= SUBSTR($2, 1, 16){names} GROUP BY service_name
         UNION ALL
         SELECT service_name || '', {sample_sums} FROM system_health_monitoring
          WHERE resolution = 'raw' AND monitoring_timestamp >= $1 AND monitoring_timestamp < $2{names} GROUP BY service_name || ''"
    );
    let mut query = sqlx::query_as::<_, (String, i64, i64, f64, i64, String)>(&sql).bind(since).bind(&next_minute);
    for s in services {
        query = query.bind(s);
    }
    let mut figures: std::collections::BTreeMap<String, Figures> = std::collections::BTreeMap::new();
    for (service, samples, up, response_ms_sum, timed, latest_at) in query.fetch_all(catalog.pool()).await? {
        let f = figures.entry(service).or_default();
        f.samples += samples;
        f.up += up;
        f.response_ms_sum += response_ms_sum;
        f.timed += timed;
        f.latest_at = f.latest_at.clone().max(latest_at);
    }
    // Each service's newest sample's status, kept by a trigger (migration 0028).
    let filter = if services.is_empty() { String::new() } else { format!(" WHERE service_name IN ({})", placeholders(1, services.len())) };
    let latest_sql = format!("SELECT service_name, health_status FROM system_health_latest{filter}");
    let mut query = sqlx::query_as::<_, (String, String)>(&latest_sql);
    for s in services {
        query = query.bind(s);
    }
    let latest: std::collections::HashMap<String, String> = query.fetch_all(catalog.pool()).await?.into_iter().collect();
    let mut summary = HealthSummary { overall_status: HealthStatus::Unknown, total_services: 0, healthy: 0, degraded: 0, unhealthy: 0, unknown: 0, services: Vec::new() };
    let mut worst: Option<HealthStatus> = None;
    for (service_name, Figures { samples, up, response_ms_sum, timed, latest_at }) in figures {
        let average = (timed > 0).then(|| response_ms_sum / timed as f64);
        let latest = latest.get(&service_name).map(String::as_str).unwrap_or_default();
        let latest_status = HealthStatus::parse(&latest).unwrap_or(HealthStatus::Unknown);
        match latest_status {
            HealthStatus::Healthy => summary.healthy += 1,
            HealthStatus::Degraded => summary.degraded += 1,
            HealthStatus::Unhealthy => summary.unhealthy += 1,
            HealthStatus::Unknown => summary.unknown += 1,
        }
        worst = Some(worst.map_or(latest_status, |w| if latest_status.badness() > w.badness() { latest_status } else { w }));
        let availability = if samples > 0 { (up as f64 * 1000.0 / samples as f64).round() / 10.0 } else { 0.0 };
        summary.services.push(ServiceHealth { service_name, latest_status, latest_at, samples, availability, average_response_time_ms: average.map(|a| (a * 10.0).round() / 10.0) });
    }
    summary.total_services = summary.services.len() as i64;
    summary.overall_status = worst.unwrap_or(HealthStatus::Unknown);
    Ok(summary)
}

/// How long each resolution is kept before it is folded into the next (or, hours, deleted).
const RAW_FOR: i64 = 24;
const MINUTES_FOR: i64 = 24 * 7;
const HOURS_FOR: i64 = 24 * 90;

/// What a downsampling pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Downsampled {
    pub raw_folded: u64,
    pub minutes_folded: u64,
    pub hours_deleted: u64,
}

/// Folds raw samples older than a day into minute buckets, minute buckets older than a week
/// into hour buckets, and deletes hour buckets older than 90 days. Cut-offs fall on bucket
/// boundaries, so a bucket is never split between two passes; each fold is one transaction.
pub async fn downsample(catalog: &Catalog, now: DateTime<Utc>) -> Result<Downsampled, MonitoringError> {
    let minute_cut = time::to_text(now - Duration::hours(RAW_FOR)).get(..16).unwrap_or_default().to_string() + ":00.000000Z";
    let hour_cut = time::to_text(now - Duration::hours(MINUTES_FOR)).get(..13).unwrap_or_default().to_string() + ":00:00.000000Z";
    let raw_folded = fold(catalog, "raw", "minute", 16, ":00.000000Z", &minute_cut).await?;
    let minutes_folded = fold(catalog, "minute", "hour", 13, ":00:00.000000Z", &hour_cut).await?;
    let hours_deleted = sqlx::query("DELETE FROM system_health_monitoring WHERE resolution = 'hour' AND monitoring_timestamp < $1")
        .bind(time::to_text(now - Duration::hours(HOURS_FOR)))
        .execute(catalog.pool())
        .await?
        .rows_affected();
    Ok(Downsampled { raw_folded, minutes_folded, hours_deleted })
}

/// Replaces the `from` rows older than `cut` with one `to` row per service and bucket (the
/// timestamp's first `prefix` characters).
async fn fold(catalog: &Catalog, from: &str, to: &str, prefix: usize, suffix: &str, cut: &str) -> Result<u64, MonitoringError> {
    let weighted = |column: &str, cast: &str| {
        format!("CAST(SUM({column} * sample_count) AS {cast}) / NULLIF(CAST(SUM(CASE WHEN {column} IS NULL THEN 0 ELSE sample_count END) AS {cast}), 0)")
    };
    let integer = |column: &str| format!("CAST({} AS BIGINT)", weighted(column, "DOUBLE PRECISION"));
    let real = |column: &str| weighted(column, "DOUBLE PRECISION");
    let bucket = format!("substr(monitoring_timestamp, 1, {prefix})");
    let sql = format!(
        "INSERT INTO system_health_monitoring ({COLUMNS})
         SELECT '{to}:' || {bucket} || ':' || MIN(id), {bucket} || '{suffix}', service_name, MAX(service_id),
                CASE MAX(CASE health_status WHEN 'unhealthy' THEN 3 WHEN 'degraded' THEN 2 WHEN 'unknown' THEN 1 ELSE 0 END)
                     WHEN 3 THEN 'unhealthy' WHEN 2 THEN 'degraded' WHEN 1 THEN 'unknown' ELSE 'healthy' END,
                {}, {}, {}, {}, {}, {}, {}, {}, '{{}}', '[]', '{{}}', MAX(geographical_region), MAX(availability_zone), '{to}', CAST(SUM(sample_count) AS BIGINT)
         FROM system_health_monitoring WHERE resolution = '{from}' AND monitoring_timestamp < $1
         GROUP BY service_name, {bucket}",
        integer("response_time_ms"),
        real("cpu_usage"),
        real("memory_usage"),
        real("disk_usage"),
        integer("network_latency_ms"),
        real("error_rate"),
        real("throughput_rps"),
        integer("active_connections"),
    );
    let mut tx = catalog.pool().begin().await?;
    sqlx::query(&sql).bind(cut).execute(&mut *tx).await?;
    let folded = sqlx::query("DELETE FROM system_health_monitoring WHERE resolution = $1 AND monitoring_timestamp < $2").bind(from).bind(cut).execute(&mut *tx).await?.rows_affected();
    if from == "raw" {
        // Their per-minute sums go with them (the cut falls on a minute): from now on the
        // summary counts them in their buckets.
        sqlx::query("DELETE FROM system_health_minutes WHERE minute < SUBSTR($1, 1, 16)").bind(cut).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(folded)
}

/// A token for an outside agent: it may record health samples and do nothing else (revocable
/// like any token). Operators.
pub async fn record_token(catalog: &Catalog, actor: &Principal, name: &str, expires_in_days: Option<i64>) -> Result<crate::platform::accounts::tokens::CreatedToken, MonitoringError> {
    use crate::platform::accounts::tokens::{self, NewToken};
    actor.require(Role::Operator)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
        return Err(invalid("name: 1 to 80 characters, without control characters (say which agent uses it)"));
    }
    let new = NewToken { name: format!("Health record: {name}"), role: Some(Role::Viewer), expires_in_days };
    Ok(tokens::create_scoped(catalog, actor, new, RECORD_SCOPE).await?)
}
