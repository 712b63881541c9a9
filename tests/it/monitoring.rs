//! Monitored services against real servers: an HTTP server the test runs (its status switched
//! to fail and recover), a real TLS server (`openssl s_server`) whose certificate expires in a
//! few days, TCP ports open and closed, and PostgreSQL clusters (a primary whose archiving
//! fails and then works, its streaming standby, a cluster with a password). Each interval is
//! probed once however many nodes claim it; alerts are raised after the failures in a row the
//! service allows, once, and resolve by themselves; old samples are folded into buckets; bad
//! services and samples are refused with a sentence and nothing is saved.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use bulwark_core::alerts::{self, AlertStatus, AlertType, Filter};
use bulwark_core::engine::repo::crypto::Key;
use bulwark_core::error::{Classify, Kind};
use bulwark_core::monitoring::{prober, samples, services, HealthStatus, RecordSample, ServiceKind, ServiceRequest, ServiceSettings};
use bulwark_core::platform::auth::{Principal, Role};
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::platform::secrets::SecretBox;
use bulwark_core::platform::time;
use chrono::{Duration, Utc};

use crate::{on_both_catalogs, user};

on_both_catalogs!(services_are_probed_once_per_interval_and_alert, postgres_servers_are_read, old_samples_are_folded, bad_services_and_samples_are_refused);

fn viewer() -> Principal {
    Principal { user_id: "-".into(), username: "-".into(), role: Role::Viewer, token_id: None, scope: None }
}

async fn active(catalog: &Catalog, alert_type: AlertType) -> Vec<alerts::Alert> {
    alerts::list(catalog, &viewer(), &Filter { alert_type: Some(alert_type.as_str().into()), status: Some("active".into()), ..Default::default() }).await.unwrap()
}

fn request(name: &str, kind: ServiceKind, settings: ServiceSettings) -> ServiceRequest {
    ServiceRequest { name: name.into(), kind: Some(kind), settings, interval_seconds: Some(5), timeout_seconds: Some(3), ..Default::default() }
}

/// An HTTP server answering `/health` with the status the test sets, and "status: ok".
async fn target() -> (String, u16, Arc<AtomicU16>) {
    let status = Arc::new(AtomicU16::new(200));
    let s = status.clone();
    let app = axum::Router::new().route(
        "/health",
        axum::routing::get(move || {
            let s = s.clone();
            async move { (axum::http::StatusCode::from_u16(s.load(Ordering::SeqCst)).unwrap(), "status: ok") }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://127.0.0.1:{port}/health"), port, status)
}

/// A real TLS server (`openssl s_server -www`) whose certificate, signed by a new authority,
/// is valid for `days`; returns its address, the authority's PEM and the process.
fn tls_server(days: u32) -> (String, String, std::process::Child) {
    let dir = bulwark_testkit::temp_dir("tls-target");
    let authority = bulwark_testkit::tls::authority_and_server(&dir, days).unwrap();
    let port = bulwark_testkit::free_port();
    let child = std::process::Command::new("openssl")
        .current_dir(&dir)
        .args(["s_server", "-www", "-quiet", "-accept", &port.to_string(), "-cert", "cert.pem", "-key", "key.pem"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed().as_secs() < 20, "openssl s_server did not listen");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (format!("https://localhost:{port}/"), authority, child)
}

async fn services_are_probed_once_per_interval_and_alert(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let (url, port, status) = target().await;
    let web = services::create(&catalog, &secrets, &admin, &request("web", ServiceKind::Http, ServiceSettings { url: Some(url.clone()), body_contains: Some("status: ok".into()), ..Default::default() })).await.unwrap();
    let open = services::create(&catalog, &secrets, &admin, &request("open port", ServiceKind::Tcp, ServiceSettings { host: Some("127.0.0.1".into()), port: Some(port), ..Default::default() })).await.unwrap();
    let closed_port = bulwark_testkit::free_port();
    let closed = services::create(&catalog, &secrets, &admin, &request("closed port", ServiceKind::Tcp, ServiceSettings { host: Some("127.0.0.1".into()), port: Some(closed_port), ..Default::default() })).await.unwrap();

    // Two nodes' probers at the same moment: each service is probed once.
    let t0 = Utc::now();
    let (a, b) = tokio::join!(prober::run_due(&catalog, &secrets, t0), prober::run_due(&catalog, &secrets, t0));
    let mut probed: Vec<String> = a.unwrap().into_iter().chain(b.unwrap()).map(|s| s.service_name).collect();
    probed.sort();
    assert_eq!(probed, ["closed port", "open port", "web"]);
    assert!(prober::run_due(&catalog, &secrets, t0).await.unwrap().is_empty(), "not due again within the interval");
    let web_now = services::get(&catalog, &admin, &web.id).await.unwrap();
    assert_eq!((web_now.last_status, web_now.last_message.as_deref()), (Some(HealthStatus::Healthy), Some(format!("GET {url} answered 200 OK with \"status: ok\"").as_str())));
    assert_eq!(services::get(&catalog, &admin, &open.id).await.unwrap().last_status, Some(HealthStatus::Healthy));
    let closed_now = services::get(&catalog, &admin, &closed.id).await.unwrap();
    assert_eq!((closed_now.last_status, closed_now.consecutive_failures), (Some(HealthStatus::Unhealthy), 1));
    assert!(active(&catalog, AlertType::ServiceUnhealthy).await.is_empty(), "one failure is not an outage (two in a row are)");

    // The web service fails: the second failure in a row raises one alert, a third counts nothing more.
    status.store(503, Ordering::SeqCst);
    for step in 1..=3 {
        prober::run_due(&catalog, &secrets, t0 + Duration::seconds(6 * step)).await.unwrap();
    }
    let down = active(&catalog, AlertType::ServiceUnhealthy).await;
    assert_eq!(down.len(), 2, "{down:?}");
    let web_alert = down.iter().find(|a| a.subject == format!("monitored_service:{}", web.id)).expect("the web service's alert");
    assert_eq!(web_alert.occurrences, 1);
    assert!(web_alert.message.starts_with(&format!("web failed 2 probes in a row: GET {url} answered 503 Service Unavailable, not 2xx or 3xx")), "{}", web_alert.message);
    assert!(down.iter().any(|a| a.message.contains(&format!("127.0.0.1:{closed_port} refuses a connection"))), "{down:?}");

    // It recovers: the next probe resolves the alert with what it found.
    status.store(200, Ordering::SeqCst);
    prober::run_due(&catalog, &secrets, t0 + Duration::seconds(24)).await.unwrap();
    let resolved = alerts::get(&catalog, &admin, &web_alert.id).await.unwrap();
    assert_eq!(resolved.status, AlertStatus::Resolved);
    assert!(resolved.resolution_notes.as_deref().unwrap_or_default().contains("answered 200 OK"), "{resolved:?}");

    // Over TLS: a certificate expiring in 5 days is degraded (warned 14 days ahead), and one
    // from an authority the service does not trust is unhealthy.
    let (https, authority, mut server) = tls_server(5);
    let settings = ServiceSettings { url: Some(https.clone()), ca_certificate: Some(authority.clone()), ..Default::default() };
    let tls = services::create(&catalog, &secrets, &admin, &request("tls", ServiceKind::Http, settings)).await.unwrap();
    let untrusted = services::create(&catalog, &secrets, &admin, &request("untrusted", ServiceKind::Http, ServiceSettings { url: Some(https.clone()), ..Default::default() })).await.unwrap();
    let sample = prober::check_now(&catalog, &secrets, &admin, &tls.id).await.unwrap();
    assert_eq!(sample.health_status, HealthStatus::Degraded, "{sample:?}");
    assert_eq!(sample.custom_metrics["tlsDaysLeft"].as_i64(), Some(4), "{sample:?}");
    assert!(sample.custom_metrics["message"].as_str().unwrap().starts_with(&format!("the TLS certificate of {https} expires in 4 days")), "{sample:?}");
    let degraded = active(&catalog, AlertType::ServiceDegraded).await;
    assert_eq!(degraded.len(), 1);
    let bad = prober::check_now(&catalog, &secrets, &admin, &untrusted.id).await.unwrap();
    assert_eq!(bad.health_status, HealthStatus::Unhealthy);
    assert!(bad.custom_metrics["message"].as_str().unwrap().contains("certificate"), "{bad:?}");
    // Warned only 3 days ahead, the same certificate is fine: the alert resolves.
    let mut change = request("tls", ServiceKind::Http, ServiceSettings { url: Some(https), ca_certificate: Some(authority), tls_expiry_days: Some(3), ..Default::default() });
    change.kind = None;
    services::update(&catalog, &secrets, &admin, &tls.id, &change).await.unwrap();
    assert_eq!(prober::check_now(&catalog, &secrets, &admin, &tls.id).await.unwrap().health_status, HealthStatus::Healthy);
    assert!(active(&catalog, AlertType::ServiceDegraded).await.is_empty());
    server.kill().unwrap();

    // The seeds' report: every sample of the hour, each service's summary; by name.
    let report = samples::report(&catalog, &viewer(), Some("1h"), &[]).await.unwrap();
    let web_summary = report.summary.services.iter().find(|s| s.service_name == "web").unwrap();
    assert_eq!((web_summary.samples, web_summary.latest_status, web_summary.availability), (5, HealthStatus::Healthy, 40.0), "{web_summary:?}");
    assert_eq!(report.summary.overall_status, HealthStatus::Unhealthy, "the closed port is still down");
    assert_eq!(report.alerts.iter().filter(|a| a.alert_type == AlertType::ServiceUnhealthy).count(), 1, "the closed port's (the untrusted service failed once)");
    let only_web = samples::report(&catalog, &viewer(), Some("1h"), &["web".into()]).await.unwrap();
    assert!(only_web.health_data.len() == 5 && only_web.health_data.iter().all(|s| s.service_name == "web"), "{:?}", only_web.health_data);
    assert!(only_web.health_data.windows(2).all(|w| w[0].monitoring_timestamp >= w[1].monitoring_timestamp), "newest first");

    // Deleting a service resolves its alerts.
    services::delete(&catalog, &admin, &closed.id).await.unwrap();
    assert!(active(&catalog, AlertType::ServiceUnhealthy).await.is_empty());
}

async fn postgres_servers_are_read(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    // A primary whose archive_command fails until a file exists, and its streaming standby.
    let switch = std::env::temp_dir().join(format!("bulwark-archive-ok-{}-{}", std::process::id(), uuid::Uuid::new_v4()));
    let command = format!("test -f {}", switch.display());
    let primary = bulwark_testkit::PgCluster::start(&[("archive_mode", "on"), ("archive_command", &command)]).unwrap();
    let standby = primary.start_standby().unwrap();
    let pg = |name: &str, port: u16, query: Option<&str>| {
        let settings = ServiceSettings { host: Some("127.0.0.1".into()), port: Some(port), username: Some("postgres".into()), query: query.map(str::to_string), ..Default::default() };
        ServiceRequest { failures_before_alert: Some(1), ..request(name, ServiceKind::Postgres, settings) }
    };
    let p = services::create(&catalog, &secrets, &admin, &pg("primary", primary.port, Some("SELECT count(*) FROM pg_class"))).await.unwrap();
    let s = services::create(&catalog, &secrets, &admin, &pg("standby", standby.port, None)).await.unwrap();

    // The archiver fails on the next WAL file.
    primary.psql("postgres", "CREATE TABLE t AS SELECT 1 AS x; SELECT pg_switch_wal();").unwrap();
    let waited = std::time::Instant::now();
    while primary.psql("postgres", "SELECT failed_count FROM pg_stat_archiver").unwrap().trim() == "0" {
        assert!(waited.elapsed().as_secs() < 30, "the archiver never tried");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let sample = prober::check_now(&catalog, &secrets, &admin, &p.id).await.unwrap();
    assert_eq!((sample.health_status, sample.custom_metrics["standby"].as_bool()), (HealthStatus::Healthy, Some(false)), "{sample:?}");
    assert!(sample.active_connections.is_some_and(|n| n >= 1));
    assert!(sample.alerts_triggered.contains(&"wal_archive_stalled".to_string()), "{sample:?}");
    let stalled = active(&catalog, AlertType::WalArchiveStalled).await;
    assert_eq!(stalled.len(), 1);
    assert!(stalled[0].message.starts_with("primary: archiving WAL 0000000100000000000000"), "{}", stalled[0].message);

    // Archiving works again: the next probe resolves it.
    std::fs::write(&switch, b"").unwrap();
    // The archiver waits a minute after three failures; a reload wakes it.
    primary.psql("postgres", "SELECT pg_reload_conf()").unwrap();
    let waited = std::time::Instant::now();
    while primary.psql("postgres", "SELECT archived_count FROM pg_stat_archiver").unwrap().trim() == "0" {
        assert!(waited.elapsed().as_secs() < 90, "the archiver never succeeded");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    prober::check_now(&catalog, &secrets, &admin, &p.id).await.unwrap();
    assert!(active(&catalog, AlertType::WalArchiveStalled).await.is_empty());

    // The standby streams and has replayed what it received.
    let sample = prober::check_now(&catalog, &secrets, &admin, &s.id).await.unwrap();
    assert_eq!((sample.health_status, sample.custom_metrics["standby"].as_bool()), (HealthStatus::Healthy, Some(true)), "{sample:?}");
    assert_eq!(sample.custom_metrics["walReceiver"].as_str(), Some("streaming"), "{sample:?}");
    // TLS as the admin asks: this server offers none, so `require` fails where `prefer` passes.
    let tls = services::create(&catalog, &secrets, &admin, &ServiceRequest {
        settings: ServiceSettings { ssl_mode: Some("require".into()), ..pg("tls", standby.port, None).settings },
        ..pg("tls", standby.port, None)
    })
    .await
    .unwrap();
    assert_eq!(tls.settings.ssl_mode.as_deref(), Some("require"));
    let sample = prober::check_now(&catalog, &secrets, &admin, &tls.id).await.unwrap();
    assert_eq!(sample.health_status, HealthStatus::Unhealthy, "{sample:?}");
    assert!(sample.custom_metrics["message"].as_str().unwrap().to_lowercase().contains("tls") || sample.custom_metrics["message"].as_str().unwrap().to_lowercase().contains("ssl"), "{sample:?}");
    assert_eq!(services::get(&catalog, &admin, &s.id).await.unwrap().settings.ssl_mode.as_deref(), Some("prefer"));
    // A query that writes fails: probes run read-only.
    let writer = services::create(&catalog, &secrets, &admin, &pg("writer", primary.port, Some("CREATE TABLE nope (x int)"))).await.unwrap();
    let sample = prober::check_now(&catalog, &secrets, &admin, &writer.id).await.unwrap();
    assert_eq!(sample.health_status, HealthStatus::Unhealthy);
    assert!(sample.custom_metrics["message"].as_str().unwrap().contains("read-only"), "{sample:?}");

    // Once the primary is gone, the standby is not streaming: degraded.
    primary.stop().unwrap();
    let waited = std::time::Instant::now();
    loop {
        let sample = prober::check_now(&catalog, &secrets, &admin, &s.id).await.unwrap();
        if sample.health_status == HealthStatus::Degraded {
            assert!(sample.custom_metrics["message"].as_str().unwrap().starts_with("the standby is not streaming"), "{sample:?}");
            break;
        }
        assert!(waited.elapsed().as_secs() < 30, "the standby still streams: {sample:?}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    // The primary down is unhealthy (one failure alerts here).
    assert_eq!(prober::check_now(&catalog, &secrets, &admin, &p.id).await.unwrap().health_status, HealthStatus::Unhealthy);
    let down = active(&catalog, AlertType::ServiceUnhealthy).await;
    assert!(down.iter().any(|a| a.subject == format!("monitored_service:{}", p.id) && a.message.starts_with("primary failed 1 probe in a row: connecting to 127.0.0.1")), "{down:?}");

    // A password, sealed: the right one connects, a wrong one does not.
    let locked = bulwark_testkit::PgCluster::start_with_password("s3cret-pw").unwrap();
    let right = services::create(&catalog, &secrets, &admin, &ServiceRequest { password: Some("s3cret-pw".into()), ..pg("locked", locked.port, None) }).await.unwrap();
    assert!(right.has_password);
    assert_eq!(prober::check_now(&catalog, &secrets, &admin, &right.id).await.unwrap().health_status, HealthStatus::Healthy);
    let wrong = services::create(&catalog, &secrets, &admin, &ServiceRequest { password: Some("wrong".into()), ..pg("locked wrong", locked.port, None) }).await.unwrap();
    let sample = prober::check_now(&catalog, &secrets, &admin, &wrong.id).await.unwrap();
    assert!(sample.custom_metrics["message"].as_str().unwrap().contains("password authentication failed"), "{sample:?}");
    // Moving the service to another host needs the password again.
    let mut moved = pg("locked", standby.port, None);
    moved.kind = None;
    let refused = services::update(&catalog, &secrets, &admin, &right.id, &moved).await.unwrap_err();
    assert_eq!(refused.to_string(), "password: the host, port or user changed; enter the password again");
    let _ = (standby.stop(), locked.stop(), std::fs::remove_file(&switch));
}

async fn old_samples_are_folded(catalog: Catalog) {
    let now = Utc::now();
    let minute = |t: chrono::DateTime<Utc>| time::to_text(t).get(..16).unwrap().to_string();
    let add = async |at: chrono::DateTime<Utc>, status: HealthStatus, ms: i64, resolution: &str, count: i64| {
        let mut s = samples::blank("svc", status);
        s.monitoring_timestamp = time::to_text(at);
        s.response_time_ms = Some(ms);
        s.resolution = resolution.into();
        s.sample_count = count;
        samples::insert(&catalog, &s).await.unwrap();
    };
    // Three raw samples in one minute of yesterday, one raw sample of the last hour.
    // A minute's start thirty hours ago (whatever the time of day the test runs).
    let yesterday = time::parse(&(minute(now - Duration::hours(30)) + ":00.000000Z")).unwrap();
    add(yesterday, HealthStatus::Healthy, 10, "raw", 1).await;
    add(yesterday + Duration::seconds(10), HealthStatus::Degraded, 20, "raw", 1).await;
    add(yesterday + Duration::seconds(20), HealthStatus::Healthy, 30, "raw", 1).await;
    add(now - Duration::minutes(30), HealthStatus::Healthy, 5, "raw", 1).await;
    // Two minute buckets of one hour last week; an hour bucket of four months ago.
    let last_week = (now - Duration::days(9)).date_naive().and_hms_opt(8, 0, 0).unwrap().and_utc();
    add(last_week, HealthStatus::Healthy, 20, "minute", 3).await;
    add(last_week + Duration::minutes(5), HealthStatus::Unhealthy, 40, "minute", 1).await;
    add(now - Duration::days(120), HealthStatus::Healthy, 1, "hour", 60).await;

    // The month's summary counts each sample once, before folding and after (the raw ones
    // summed per minute as written, then in their bucket: never both).
    let counted = async || {
        let report = samples::report(&catalog, &viewer(), Some("30d"), &[]).await.unwrap();
        report.summary.services.iter().find(|s| s.service_name == "svc").map(|s| (s.samples, s.latest_at.clone()))
    };
    let latest = time::to_text(now - Duration::minutes(30));
    assert_eq!(counted().await, Some((8, latest.clone())));
    let done = samples::downsample(&catalog, now).await.unwrap();
    assert_eq!((done.raw_folded, done.minutes_folded, done.hours_deleted), (3, 2, 1));
    assert_eq!(counted().await, Some((8, latest)));
    let rows: Vec<(String, String, String, i64, Option<i64>)> =
        sqlx::query_as("SELECT monitoring_timestamp, resolution, health_status, sample_count, response_time_ms FROM system_health_monitoring ORDER BY monitoring_timestamp")
            .fetch_all(catalog.pool())
            .await
            .unwrap();
    let hour_of_last_week = time::to_text(last_week).get(..13).unwrap().to_string() + ":00:00.000000Z";
    assert_eq!(
        rows,
        [
            (hour_of_last_week, "hour".into(), "unhealthy".into(), 4, Some(25)),
            (minute(yesterday) + ":00.000000Z", "minute".into(), "degraded".into(), 3, Some(20)),
            (time::to_text(now - Duration::minutes(30)), "raw".into(), "healthy".into(), 1, Some(5)),
        ]
    );
    // A second pass finds nothing to fold.
    assert_eq!(samples::downsample(&catalog, now).await.unwrap(), samples::Downsampled::default());
}

async fn bad_services_and_samples_are_refused(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let operator = user(&catalog, "ops", Role::Operator).await;
    let http = |url: &str| ServiceSettings { url: Some(url.into()), ..Default::default() };
    let cases = [
        (ServiceRequest { interval_seconds: Some(0), ..request("zero", ServiceKind::Http, http("http://127.0.0.1/")) }, "intervalSeconds: from 5 to 86,400 seconds"),
        (request("ftp", ServiceKind::Http, http("ftp://example.com/")), "settings.url: a service is probed over http:// or https://, not ftp://"),
        (request("creds", ServiceKind::Http, http("https://user:pw@example.com/")), "settings.url: no user name or password in the address"),
        (ServiceRequest { timeout_seconds: Some(5), ..request("slow", ServiceKind::Http, http("http://127.0.0.1/")) }, "timeoutSeconds: from 1 to 60 seconds, and shorter than the interval"),
        (request("no port", ServiceKind::Tcp, ServiceSettings { host: Some("db".into()), ..Default::default() }), "settings.port: from 1 to 65535"),
        (request("bad host", ServiceKind::Tcp, ServiceSettings { host: Some("db; rm -rf /".into()), port: Some(1), ..Default::default() }), "settings.host: a host name or an address"),
        (request("no user", ServiceKind::Postgres, ServiceSettings { host: Some("db".into()), ..Default::default() }), "settings.username: the user to connect as"),
        (ServiceRequest { kind: None, ..request("kindless", ServiceKind::Http, http("http://127.0.0.1/")) }, "kind: http, tcp or postgres"),
        (ServiceRequest { password: Some("x".into()), ..request("pw", ServiceKind::Http, http("http://127.0.0.1/")) }, "password: only a PostgreSQL service has one"),
        (
            request("tls", ServiceKind::Postgres, ServiceSettings { host: Some("db".into()), username: Some("u".into()), ssl_mode: Some("sometimes".into()), ..Default::default() }),
            "settings.sslMode: one of disable, prefer, require, verify-ca, verify-full, not \"sometimes\"",
        ),
    ];
    for (bad, sentence) in cases {
        let e = services::create(&catalog, &secrets, &admin, &bad).await.unwrap_err();
        assert_eq!((e.kind(), e.to_string().as_str()), (Kind::Invalid, sentence), "{bad:?}");
    }
    let e = services::create(&catalog, &secrets, &operator, &request("ops", ServiceKind::Http, http("http://127.0.0.1/"))).await.unwrap_err();
    assert_eq!(e.kind(), Kind::Forbidden);
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM monitored_services").fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(count, 0, "nothing saved");

    // Pushed samples: the seeds' fields, checked.
    let pushed = |json: serde_json::Value| serde_json::from_value::<RecordSample>(json).unwrap();
    for (body, sentence) in [
        (serde_json::json!({ "service_name": "api", "health_status": "fine" }), "health_status: \"fine\" is not one of healthy, degraded, unhealthy, unknown"),
        (serde_json::json!({ "service_name": "api", "health_status": "healthy", "cpu_usage": 150.0 }), "cpu_usage: a percentage from 0 to 100"),
        (serde_json::json!({ "service_name": "api", "health_status": "healthy", "response_time_ms": 9_000_000_000_000_000_000i64 }), "response_time_ms: from 0 to 86,400,000"),
        (serde_json::json!({ "service_name": "", "health_status": "healthy" }), "service_name: 1 to 100 characters, without control characters"),
        (serde_json::json!({ "service_name": "node:x", "health_status": "healthy" }), "service_name: names starting with node: or location: are Bulwark's own"),
        (serde_json::json!({ "service_name": "api", "health_status": "healthy", "custom_metrics": [1] }), "custom_metrics: an object of at most 16 KiB"),
    ] {
        let e = samples::record_pushed(&catalog, &operator, &pushed(body)).await.unwrap_err();
        assert_eq!(e.to_string(), sentence);
    }
    assert_eq!(samples::record_pushed(&catalog, &viewer(), &pushed(serde_json::json!({ "service_name": "api", "health_status": "healthy" }))).await.unwrap_err().kind(), Kind::Forbidden);
    // A probed service's name is the prober's: an agent pushing under it would clear its alerts.
    let probed = services::create(&catalog, &secrets, &admin, &ServiceRequest { enabled: Some(false), ..request("web", ServiceKind::Http, http("http://127.0.0.1/")) }).await.unwrap();
    let e = samples::record_pushed(&catalog, &operator, &pushed(serde_json::json!({ "service_name": "web", "health_status": "healthy" }))).await.unwrap_err();
    assert_eq!(e.to_string(), "service_name: \"web\" is a service Bulwark probes itself; push this agent's samples under a name of their own");
    services::delete(&catalog, &admin, &probed.id).await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM system_health_monitoring").fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(count, 0, "nothing saved");
    let e = samples::report(&catalog, &viewer(), Some("2y"), &[]).await.unwrap_err();
    assert_eq!(e.to_string(), "timeRange: \"2y\" is not one of 1h, 6h, 24h, 7d, 30d");
}
