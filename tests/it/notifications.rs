//! Telling people, with real receivers: an alert raised reaches a webhook receiver (which checks
//! the signature itself) and an SMTP server (aiosmtpd) as an e-mail; escalation tells level 2
//! while nobody acknowledges, and acknowledging stops it; a silence holds an alert back until it
//! is lifted; a receiver that is down sees each retry, later and later, then the channel is
//! disabled and alerted, and enabling it again resolves that alert; an e-mail over STARTTLS
//! is sent only to a server whose certificate checks out; bad channels are refused with a
//! sentence and nothing is saved.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulwark_core::alerts::{self, escalation, history, silences, AcknowledgeRequest, AlertType, Condition, Filter, Severity};
use bulwark_core::engine::repo::crypto::Key;
use bulwark_core::error::{Classify, Kind};
use bulwark_core::notifications::{self, channels, deliver, ChannelKind, ChannelRequest, ChannelSettings, DeliveryStatus, SmtpSecurity};
use bulwark_core::platform::auth::{Principal, Role};
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::platform::secrets::SecretBox;
use bulwark_testkit::smtp::SmtpServer;
use hmac::{KeyInit, Mac};

use crate::{on_both_catalogs, run_due, user};

on_both_catalogs!(an_alert_is_told_escalated_silenced_and_stopped, a_receiver_that_is_down_sees_retries_then_the_channel_is_disabled);

/// One POST the receiver took, with whether its signature checked out under `secret`.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub event: String,
    pub delivery: String,
    pub signed: bool,
    pub body: serde_json::Value,
}

/// A webhook receiver on a free port: answers `status` (200 unless set) and keeps what came,
/// checking each signature as a receiver would (HMAC-SHA256 of `<timestamp>.<body>`).
pub(crate) struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    pub secret: Arc<Mutex<String>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(200));
        let secret: Arc<Mutex<String>> = Arc::default();
        let (g, s, k) = (got.clone(), status.clone(), secret.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let (got, status, secret) = (g.clone(), s.clone(), k.clone());
                async move {
                    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                    let timestamp = header("x-bulwark-timestamp");
                    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.lock().unwrap().as_bytes()).unwrap();
                    mac.update(format!("{timestamp}.").as_bytes());
                    mac.update(&body);
                    let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
                    let fresh = timestamp.parse::<i64>().is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
                    got.lock().unwrap().push(Received {
                        event: header("x-bulwark-event"),
                        delivery: header("x-bulwark-delivery"),
                        signed: fresh && header("x-bulwark-signature") == expected,
                        body: serde_json::from_slice(&body).unwrap_or_default(),
                    });
                    axum::http::StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, got, status, secret }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

fn webhook(name: &str, url: &str) -> ChannelRequest {
    ChannelRequest { name: name.into(), kind: Some(ChannelKind::Webhook), settings: ChannelSettings { url: Some(url.into()), ..Default::default() }, ..Default::default() }
}

fn email(name: &str, port: u16, security: SmtpSecurity) -> ChannelRequest {
    ChannelRequest {
        name: name.into(),
        kind: Some(ChannelKind::Email),
        settings: ChannelSettings {
            smtp_host: Some("localhost".into()),
            smtp_port: Some(port),
            smtp_security: Some(security),
            from: Some("Bulwark <bulwark@example.test>".into()),
            to: vec!["oncall@example.test".into()],
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Runs the delivery attempts due now until none is left waiting (or 20 s pass).
async fn deliver_all(catalog: &Catalog, secrets: &SecretBox) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        run_due(catalog, secrets, notifications::DELIVER).await;
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notification_deliveries WHERE status = 'pending'").fetch_one(catalog.pool()).await.unwrap();
        if pending == 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "deliveries still pending after 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn raise(catalog: &Catalog, alert_type: AlertType, severity: Severity, subject: &str) -> String {
    alerts::raise_condition(catalog, &Condition { alert_type, severity, subject, message: &format!("{alert_type} on {subject}"), configuration_id: None, execution_id: None }).await.unwrap()
}

/// Makes the alert's next escalation step due now (the schedule's minutes, without the wait).
async fn make_due(catalog: &Catalog, alert_id: &str) {
    sqlx::query("UPDATE backup_monitoring_alerts SET next_escalation_at = $1 WHERE id = $2 AND next_escalation_at IS NOT NULL")
        .bind(bulwark_core::platform::time::now_text())
        .bind(alert_id)
        .execute(catalog.pool())
        .await
        .unwrap();
}

fn refused(result: Result<impl std::fmt::Debug, notifications::NotificationError>, says: &str) {
    let e = result.expect_err("refused");
    assert_eq!(e.kind(), Kind::Invalid, "{e}");
    assert!(e.to_string().contains(says), "{e} does not say {says:?}");
}

async fn an_alert_is_told_escalated_silenced_and_stopped(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let operator = user(&catalog, "operator", Role::Operator).await;
    let viewer = user(&catalog, "viewer", Role::Viewer).await;
    let receiver = Receiver::start().await;
    let smtp = SmtpServer::start().unwrap();

    // Bad channels: a sentence each, nothing saved.
    refused(channels::create(&catalog, &secrets, &admin, &webhook("ftp", "ftp://example.com/hook")).await, "http:// or https://");
    refused(channels::create(&catalog, &secrets, &admin, &webhook("creds", "https://user:pw@example.com/")).await, "no user name or password");
    refused(channels::create(&catalog, &secrets, &admin, &ChannelRequest { retry_base_seconds: Some(-1), ..webhook("neg", &receiver.url) }).await, "retryBaseSeconds");
    refused(channels::create(&catalog, &secrets, &admin, &ChannelRequest { max_attempts: Some(0), ..webhook("zero", &receiver.url) }).await, "maxAttempts");
    let closed = bulwark_testkit::free_port();
    refused(channels::create(&catalog, &secrets, &admin, &email("nobody listens", closed, SmtpSecurity::None)).await, "refused");
    refused(channels::create(&catalog, &secrets, &admin, &ChannelRequest { settings: ChannelSettings { to: vec!["not an address".into()], ..email("bad to", smtp.port, SmtpSecurity::None).settings }, ..email("bad to", smtp.port, SmtpSecurity::None) }).await, "settings.to");
    let denied = channels::create(&catalog, &secrets, &operator, &webhook("op", &receiver.url)).await.unwrap_err();
    assert_eq!(denied.kind(), Kind::Forbidden);
    assert!(channels::list(&catalog, &admin).await.unwrap().is_empty(), "nothing saved");

    let hook = channels::create(&catalog, &secrets, &admin, &webhook("ops webhook", &receiver.url)).await.unwrap();
    *receiver.secret.lock().unwrap() = hook.signing_secret.clone().expect("a webhook gets a signing secret");
    let mail = channels::create(&catalog, &secrets, &admin, &email("on-call e-mail", smtp.port, SmtpSecurity::None)).await.unwrap();
    assert_eq!(mail.signing_secret, None);
    let stored: Option<String> = sqlx::query_scalar("SELECT sealed_secret FROM notification_channels WHERE id = $1").bind(&hook.channel.id).fetch_one(catalog.pool()).await.unwrap();
    assert!(!stored.unwrap().contains(hook.signing_secret.as_deref().unwrap()), "the signing secret is sealed");

    // Raised: level 1 told through both, at once.
    let alert = raise(&catalog, AlertType::BackupFailed, Severity::Critical, "configuration:c1").await;
    deliver_all(&catalog, &secrets).await;
    let got = receiver.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].signed, "the signature checks out under the channel's secret");
    assert_eq!((got[0].event.as_str(), got[0].body["record"]["id"].as_str(), got[0].body["escalationLevel"].as_i64()), ("alert.raised", Some(alert.as_str()), Some(1)));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("Subject: [CRITICAL] backup_failed on configuration:c1"), "{}", mails[0]);
    assert!(mails[0].contains("To: oncall@example.test") && mails[0].contains("text/html"), "{}", mails[0]);
    let seen = alerts::get(&catalog, &viewer, &alert).await.unwrap();
    assert!(seen.notification_sent);
    assert_eq!(seen.escalation_level, 1);
    let next = seen.next_escalation_at.clone().expect("critical escalates to level 2");
    let in_15 = chrono::DateTime::parse_from_rfc3339(&next).unwrap().signed_duration_since(chrono::DateTime::parse_from_rfc3339(&seen.triggered_at).unwrap());
    assert_eq!(in_15.num_minutes(), 15, "the default schedule: level 2 after 15 minutes");

    // Raised again while open: one more occurrence, nobody told again.
    raise(&catalog, AlertType::BackupFailed, Severity::Critical, "configuration:c1").await;
    deliver_all(&catalog, &secrets).await;
    assert_eq!(receiver.received().len(), 1);

    // Nobody acknowledged: level 2 is told; only channels that route level 2 hear of it.
    channels::update(&catalog, &secrets, &admin, &mail.channel.id, &ChannelRequest { routing: notifications::Routing { escalation_levels: vec![1], ..Default::default() }, ..email("on-call e-mail", smtp.port, SmtpSecurity::None) })
        .await
        .unwrap();
    make_due(&catalog, &alert).await;
    assert_eq!(escalation::run(&catalog).await.unwrap(), 1);
    assert_eq!(escalation::run(&catalog).await.unwrap(), 0, "a step is told once");
    deliver_all(&catalog, &secrets).await;
    let got = receiver.received();
    assert_eq!((got.len(), got[1].event.as_str(), got[1].body["escalationLevel"].as_i64()), (2, "alert.escalated", Some(2)));
    assert!(got[1].body["title"].as_str().unwrap().contains("level 2, not acknowledged"));
    assert_eq!(smtp.messages().len(), 1, "the e-mail channel routes level 1 only");

    // Acknowledged: escalation stops, even when its time comes.
    alerts::acknowledge(&catalog, &operator, &alert, &AcknowledgeRequest { notes: Some("on it".into()) }).await.unwrap();
    sqlx::query("UPDATE backup_monitoring_alerts SET next_escalation_at = $1 WHERE id = $2").bind(bulwark_core::platform::time::now_text()).bind(&alert).execute(catalog.pool()).await.unwrap();
    assert_eq!(escalation::run(&catalog).await.unwrap(), 0);
    let steps: Vec<String> = history::of(&catalog, &viewer, &alert).await.unwrap().events.into_iter().map(|e| e.kind).collect();
    assert_eq!(steps, ["raised", "notified", "occurred", "escalated", "acknowledged"]);
    let told = history::of(&catalog, &viewer, &alert).await.unwrap().deliveries;
    assert_eq!(told.len(), 3);
    assert!(told.iter().all(|d| d.status == DeliveryStatus::Delivered && d.attempt_log.len() == 1 && d.attempt_log[0].ok), "{told:?}");

    // A silence holds an alert of its type back: recorded, not told, until it is lifted.
    refused_alert(silences::create(&catalog, &operator, &silences::SilenceRequest { reason: "maintenance".into(), duration_minutes: 60, ..Default::default() }).await, "names a backupConfigurationId");
    refused_alert(silences::create(&catalog, &operator, &silences::SilenceRequest { alert_type: Some(AlertType::RestoreTestFailed), reason: "maintenance".into(), duration_minutes: 0, ..Default::default() }).await, "durationMinutes");
    let silence = silences::create(&catalog, &operator, &silences::SilenceRequest { alert_type: Some(AlertType::RestoreTestFailed), reason: "test lab rebuilt".into(), duration_minutes: 60, ..Default::default() }).await.unwrap();
    assert!(silence.active);
    let quiet = raise(&catalog, AlertType::RestoreTestFailed, Severity::High, "configuration:c2").await;
    deliver_all(&catalog, &secrets).await;
    assert_eq!(receiver.received().len(), 2, "a silenced alert is not told");
    assert_eq!(escalation::run(&catalog).await.unwrap(), 0, "nor escalated while the silence lasts");
    let listed = alerts::list(&catalog, &viewer, &Filter { status: Some("open".into()), ..Default::default() }).await.unwrap();
    assert!(listed.iter().any(|a| a.id == quiet), "but listed");
    silences::lift(&catalog, &operator, &silence.id).await.unwrap();
    assert_eq!(escalation::run(&catalog).await.unwrap(), 1, "lifted: it is told now");
    deliver_all(&catalog, &secrets).await;
    let got = receiver.received();
    assert_eq!((got.len(), got[2].body["record"]["id"].as_str(), got[2].event.as_str()), (3, Some(quiet.as_str()), "alert.raised"));
    let steps: Vec<String> = history::of(&catalog, &viewer, &quiet).await.unwrap().events.into_iter().map(|e| e.kind).collect();
    assert_eq!(steps, ["raised", "silenced", "notified"]);
}

fn refused_alert(result: Result<impl std::fmt::Debug, alerts::AlertError>, says: &str) {
    let e = result.expect_err("refused");
    assert_eq!(e.kind(), Kind::Invalid, "{e}");
    assert!(e.to_string().contains(says), "{e} does not say {says:?}");
}

async fn a_receiver_that_is_down_sees_retries_then_the_channel_is_disabled(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let viewer = user(&catalog, "viewer", Role::Viewer).await;
    let receiver = Receiver::start().await;
    receiver.status.store(503, Ordering::SeqCst);
    let hook = channels::create(&catalog, &secrets, &admin, &ChannelRequest { max_attempts: Some(3), retry_base_seconds: Some(1), ..webhook("flaky", &receiver.url) }).await.unwrap();
    *receiver.secret.lock().unwrap() = hook.signing_secret.clone().unwrap();

    let alert = raise(&catalog, AlertType::VerificationFailed, Severity::High, "execution:e1").await;
    deliver_all(&catalog, &secrets).await;

    // Three attempts of one delivery, each later than the last by about twice as much.
    let got = receiver.received();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().all(|r| r.signed && r.delivery == got[0].delivery), "one delivery, signed on each attempt");
    let told = history::of(&catalog, &viewer, &alert).await.unwrap().deliveries;
    assert_eq!(told.len(), 1);
    let d = &told[0];
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Failed, 3));
    assert!(d.last_error.as_deref().unwrap().contains("503"), "{:?}", d.last_error);
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = d.attempt_log.iter().map(|a| chrono::DateTime::parse_from_rfc3339(&a.at).unwrap()).collect();
    assert!(d.attempt_log.iter().all(|a| !a.ok && a.response_status == Some(503)), "{:?}", d.attempt_log);
    let (first_wait, second_wait) = ((times[1] - times[0]).num_milliseconds(), (times[2] - times[1]).num_milliseconds());
    assert!(first_wait >= 500, "the first retry waits half the base at least: {first_wait} ms");
    assert!(second_wait >= 1000, "the second waits at least half of twice the base: {second_wait} ms");

    // A notification that failed all its attempts: the channel is disabled, and that is an alert.
    let channel = channels::get(&catalog, &admin, &hook.channel.id).await.unwrap();
    assert!(!channel.enabled);
    assert!(channel.disabled_reason.as_deref().unwrap().starts_with("disabled after a notification failed all its 3 attempts (3 failed in a row)"), "{:?}", channel.disabled_reason);
    let failed_channel = alerts::list(&catalog, &viewer, &Filter { alert_type: Some("notification_channel_failed".into()), status: Some("active".into()), ..Default::default() }).await.unwrap();
    assert_eq!(failed_channel.len(), 1, "{failed_channel:?}");
    assert!(failed_channel[0].message.contains("\"flaky\""));

    // A test message shows it works again; enabling it resolves the alert.
    receiver.status.store(200, Ordering::SeqCst);
    let test = deliver::send_test(&catalog, &secrets, &admin, &hook.channel.id).await.unwrap();
    assert_eq!((test.status, test.event.as_str()), (DeliveryStatus::Delivered, "test"));
    assert_eq!(receiver.received().last().unwrap().event, "test");
    let enabled = channels::update(&catalog, &secrets, &admin, &hook.channel.id, &ChannelRequest { enabled: Some(true), max_attempts: Some(3), retry_base_seconds: Some(1), ..webhook("flaky", &receiver.url) }).await.unwrap();
    assert!(enabled.enabled && enabled.consecutive_failures == 0 && enabled.disabled_reason.is_none());
    alerts::channels::evaluate(&catalog).await.unwrap();
    let resolved = alerts::get(&catalog, &viewer, &failed_channel[0].id).await.unwrap();
    assert_eq!(resolved.status, alerts::AlertStatus::Resolved);
}

#[tokio::test]
async fn an_email_over_starttls_goes_only_to_a_server_whose_certificate_checks_out() {
    let catalog = crate::open_catalog(bulwark_testkit::sqlite_url()).await;
    let secrets = SecretBox::new(Key::random());
    let admin: Principal = user(&catalog, "admin", Role::Admin).await;
    let smtp = SmtpServer::start_tls().unwrap();
    // Self-signed and not given: the server is not trusted, nothing saved.
    refused(channels::create(&catalog, &secrets, &admin, &email("tls", smtp.port, SmtpSecurity::Starttls)).await, "refused");
    assert!(channels::list(&catalog, &admin).await.unwrap().is_empty());
    // Its certificate given as the channel's authority: saved, and a test message arrives.
    let mut trusted = email("tls", smtp.port, SmtpSecurity::Starttls);
    trusted.settings.ca_certificate = smtp.certificate.clone();
    let created = channels::create(&catalog, &secrets, &admin, &trusted).await.unwrap();
    let sent = deliver::send_test(&catalog, &secrets, &admin, &created.channel.id).await.unwrap();
    assert_eq!(sent.status, DeliveryStatus::Delivered, "{:?}", sent.last_error);
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("Subject: Bulwark test notification for tls"), "{}", mails[0]);
}
