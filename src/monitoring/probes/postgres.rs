//! A PostgreSQL server: connect, run the service's query (read-only, one statement) and read
//! what kind of server it is. A standby reports how far its replay is behind (degraded past
//! `maxLagSeconds`, or when it is not streaming); a primary with archiving on reports
//! `pg_stat_archiver`, and a failure newer than the last archived file is a stalled archive.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::{Connection, Row};

use super::Reading;
use crate::monitoring::ServiceSettings;

const DEFAULT_MAX_LAG_SECONDS: i64 = 300;

pub async fn probe(s: &ServiceSettings, password: Option<&str>, limit: Duration) -> Reading {
    let host = s.host.clone().unwrap_or_default();
    let port = s.port.unwrap_or(5432);
    let mut options = PgConnectOptions::new_without_pgpass()
        .host(host.trim_start_matches('[').trim_end_matches(']'))
        .port(port)
        .username(s.username.as_deref().unwrap_or_default())
        .database(s.database.as_deref().unwrap_or("postgres"))
        .ssl_mode(match s.ssl_mode.as_deref() {
            Some("disable") => PgSslMode::Disable,
            Some("require") => PgSslMode::Require,
            Some("verify-ca") => PgSslMode::VerifyCa,
            Some("verify-full") => PgSslMode::VerifyFull,
            _ => PgSslMode::Prefer,
        })
        .application_name("bulwark-probe")
        // Whatever the query says, it cannot change anything, and it cannot outlive the probe.
        .options([("default_transaction_read_only", "on"), ("statement_timeout", &format!("{}", limit.as_millis()))]);
    if let Some(password) = password {
        options = options.password(password);
    }
    if let Some(pem) = &s.ca_certificate {
        options = options.ssl_root_cert_from_pem(pem.as_bytes().to_vec());
    }
    let mut conn = match PgConnection::connect_with(&options).await {
        Ok(c) => c,
        Err(e) => return Reading::unhealthy(format!("connecting to {host}:{port} failed: {}", crate::error::chain(&e))),
    };
    let reading = read(&mut conn, s).await.unwrap_or_else(|e| Reading::unhealthy(format!("{host}:{port}: {}", crate::error::chain(&e))));
    let _ = conn.close().await;
    reading
}

async fn read(conn: &mut PgConnection, s: &ServiceSettings) -> Result<Reading, sqlx::Error> {
    let query = s.query.as_deref().unwrap_or("SELECT 1");
    // Prepared: one statement only.
    sqlx::query(query).fetch_optional(&mut *conn).await?;
    let (standby, connections): (bool, i64) = sqlx::query_as("SELECT pg_is_in_recovery(), (SELECT count(*) FROM pg_stat_activity)").fetch_one(&mut *conn).await?;
    let mut reading = Reading::healthy(if standby { "a standby answers" } else { "the primary answers" });
    reading.active_connections = Some(connections);
    reading.metrics.insert("standby".into(), standby.into());
    if standby {
        // Caught up when everything received is replayed (an idle primary sends nothing new:
        // the last replay's age is not lag then).
        let row = sqlx::query(
            "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0::float8
                         ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 END AS lag,
                    (SELECT COALESCE(status, 'hidden') FROM pg_stat_wal_receiver LIMIT 1) AS receiver",
        )
        .fetch_one(&mut *conn)
        .await?;
        let lag: Option<f64> = row.try_get("lag")?;
        let receiver: Option<String> = row.try_get("receiver")?;
        reading.metrics.insert("replicationLagSeconds".into(), lag.into());
        reading.metrics.insert("walReceiver".into(), receiver.clone().into());
        let max = s.max_lag_seconds.unwrap_or(DEFAULT_MAX_LAG_SECONDS);
        // A role without pg_read_all_stats sees the receiver's row but not its status: only a
        // missing receiver, or one in another state, is known not to stream.
        if !matches!(receiver.as_deref(), Some("streaming" | "hidden")) {
            reading.degrade(format!("the standby is not streaming (WAL receiver: {})", receiver.as_deref().unwrap_or("none")));
        }
        if let Some(lag) = lag.filter(|l| *l > max as f64) {
            reading.degrade(format!("the standby replays {lag:.0} s behind (more than {max} s)"));
        }
    } else {
        let row = sqlx::query(
            "SELECT current_setting('archive_mode') AS mode, archived_count, failed_count, last_archived_wal, last_archived_time::text AS archived_at,
                    last_failed_wal, last_failed_time::text AS failed_at, COALESCE(last_failed_time > COALESCE(last_archived_time, '-infinity'), false) AS failing
             FROM pg_stat_archiver",
        )
        .fetch_one(&mut *conn)
        .await?;
        let mode: String = row.try_get("mode")?;
        if mode != "off" {
            let failed_wal: Option<String> = row.try_get("last_failed_wal")?;
            let failed_at: Option<String> = row.try_get("failed_at")?;
            let failures: i64 = row.try_get("failed_count")?;
            reading.metrics.insert(
                "archiver".into(),
                serde_json::json!({
                    "archivedCount": row.try_get::<i64, _>("archived_count")?,
                    "failedCount": failures,
                    "lastArchivedWal": row.try_get::<Option<String>, _>("last_archived_wal")?,
                    "lastArchivedTime": row.try_get::<Option<String>, _>("archived_at")?,
                    "lastFailedWal": failed_wal,
                    "lastFailedTime": failed_at,
                }),
            );
            if row.try_get::<bool, _>("failing")? {
                reading.archive_failing = Some(format!(
                    "archiving WAL {} has failed since {} ({failures} failures so far)",
                    failed_wal.as_deref().unwrap_or("?"),
                    failed_at.as_deref().unwrap_or("?")
                ));
            }
        }
    }
    Ok(reading)
}
