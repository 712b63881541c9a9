//! A whole failover plan on real infrastructure, run by the engine as the worker pool runs it:
//! a PostgreSQL primary fails over to its streaming standby, a DNS record moves in Knot, HAProxy
//! drains the primary's web server and database, SQL and HTTP checks pass through HAProxy, a
//! webhook is told, and the run records its failover event and actual RTO/RPO. The same plan
//! with a validation that cannot pass puts DNS, HAProxy and the old primary back.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulwark_core::engine::repo::crypto::Key;
use bulwark_core::notifications::{ChannelKind, ChannelRequest, ChannelSettings, channels};
use bulwark_core::platform::auth::{Principal, Role};
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::platform::secrets::SecretBox;
use bulwark_core::recovery::credentials::{self, CredentialRequest};
use bulwark_core::recovery::{engine, ledger, plans, runs};
use bulwark_testkit::PgCluster;
use bulwark_testkit::dns::KnotServer;
use bulwark_testkit::haproxy::{self, HaProxy, HttpBackend};
use bulwark_types::{ExecuteRequest, ExecutionMode, PlanDecision, RecoveryRun, RunStatus, StepStatus, TriggerType};

use crate::{open_catalog, user};

/// Everything the plan drives, started for one test.
struct Site {
    primary: PgCluster,
    standby: PgCluster,
    knot: KnotServer,
    proxy: HaProxy,
    _web: (HttpBackend, HttpBackend),
    hooks: Arc<Mutex<Vec<serde_json::Value>>>,
    hook_url: String,
}

impl Site {
    async fn start() -> Site {
        let (primary, standby) = tokio::task::spawn_blocking(|| {
            let primary = PgCluster::start(&[("wal_level", "replica"), ("wal_log_hints", "on")]).unwrap();
            primary.psql("postgres", "CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders VALUES (1), (2), (3)").unwrap();
            let standby = primary.start_standby().unwrap();
            (primary, standby)
        })
        .await
        .unwrap();
        let knot = KnotServer::start("dr.test.", &[("db.dr.test.", "A", "127.0.0.1")]).unwrap();
        let web = (HttpBackend::start("primary").unwrap(), HttpBackend::start("dr").unwrap());
        let proxy = HaProxy::start_with_tcp(&[("primary", web.0.port), ("dr", web.1.port)], &[("primary", primary.port), ("standby", standby.port)]).unwrap();
        let hooks = Arc::new(Mutex::new(Vec::new()));
        let seen = hooks.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: axum::body::Bytes| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().push(serde_json::from_slice(&body).unwrap_or_default());
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Site { primary, standby, knot, proxy, _web: web, hooks, hook_url }
    }

    /// The plan, its HTTP check expecting `web_text` through HAProxy.
    fn plan(&self, web_text: &str) -> String {
        let socket = self.proxy.socket.display();
        let db = self.proxy.tcp_port.unwrap();
        format!(
            r#"name: Orders region loss
disasterScenario: data_center_outage
disasterType: region_outage
severity: 1
estimatedRtoMinutes: 5
estimatedRpoMinutes: 1
affectedSystems: [orders-db, orders-web]
steps:
  - name: promote standby
    type: database_failover
    config:
      primary: {{ host: 127.0.0.1, port: {primary} }}
      standby: {{ host: 127.0.0.1, port: {standby} }}
  - name: move dns
    type: dns_update
    parallelGroup: traffic
    config:
      server: "127.0.0.1:{knot}"
      zone: dr.test.
      keyName: {key}
      secret: dr-tsig
      records: [{{ name: db.dr.test., type: A, ttl: 60, values: [127.0.0.2] }}]
  - name: switch web
    type: load_balancer_config
    parallelGroup: traffic
    config:
      socket: {socket}
      backend: app
      servers: [{{ name: dr, state: ready, weight: 100 }}, {{ name: primary, state: drain }}]
  - name: switch database
    type: load_balancer_config
    parallelGroup: traffic
    config:
      socket: {socket}
      backend: pg
      servers: [{{ name: standby, state: ready }}, {{ name: primary, state: maint }}]
  - name: orders through haproxy
    type: validation
    parallelGroup: checks
    maxRetries: 20
    backoff: {{ baseSeconds: 0.2, capSeconds: 0.5 }}
    config:
      sql: {{ host: 127.0.0.1, port: {db}, query: "SELECT count(*) FROM orders WHERE NOT pg_is_in_recovery()", expect: "3" }}
  - name: web through haproxy
    type: validation
    parallelGroup: checks
    maxRetries: 2
    backoff: {{ baseSeconds: 0.2 }}
    config:
      http: {{ url: "http://127.0.0.1:{web}/", contains: "{web_text}" }}
  - name: tell the team
    type: notification
    config: {{ channels: [ops], title: Orders failed over, message: The standby took over. }}
"#,
            primary = self.primary.port,
            standby = self.standby.port,
            knot = self.knot.port,
            key = self.knot.key_name,
            web = self.proxy.port,
        )
    }
}

struct Crew {
    admin: Principal,
    approver: Principal,
}

async fn crew(catalog: &Catalog, secrets: &SecretBox, site: &Site) -> Crew {
    let admin = user(catalog, "admin", Role::Admin).await;
    let approver = user(catalog, "approver", Role::Approver).await;
    credentials::set(catalog, secrets, &admin, &CredentialRequest { name: "dr-tsig".into(), value: site.knot.secret_b64.clone(), description: None }).await.unwrap();
    let hook = ChannelRequest { name: "ops".into(), kind: Some(ChannelKind::Webhook), settings: ChannelSettings { url: Some(site.hook_url.clone()), ..Default::default() }, ..Default::default() };
    channels::create(catalog, secrets, &admin, &hook).await.unwrap();
    Crew { admin, approver }
}

/// Saves and approves the plan, runs it as the pool would, and answers the run.
async fn run(catalog: &Catalog, secrets: &SecretBox, crew: &Crew, document: &str) -> RecoveryRun {
    let plan = plans::create(catalog, &crew.admin, document).await.unwrap();
    plans::approve(catalog, &crew.approver, &plan.summary.id, &PlanDecision { version: 1, reason: None }).await.unwrap();
    let request = ExecuteRequest {
        plan_id: plan.summary.id,
        trigger_type: TriggerType::Manual,
        reason: Some("region eu-1 lost".into()),
        execution_mode: ExecutionMode::Manual,
        incident_reference: Some("INC-42".into()),
        incident_started_at: None,
        affected_systems: None,
    };
    let started = runs::start(catalog, &crew.admin, &request).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(120), engine::advance(catalog, secrets, &Arc::new(crate::restore_targets()), &Arc::from([]), &started.execution_id, Arc::new(AtomicBool::new(false)), None)).await.unwrap().unwrap();
    let run = runs::get(catalog, &crew.admin, &started.execution_id).await.unwrap();
    assert_eq!(status, run.status);
    run
}

fn step<'a>(run: &'a RecoveryRun, name: &str) -> &'a bulwark_types::StepRun {
    run.steps.iter().find(|s| s.step_name == name).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_plan_fails_the_database_over_and_moves_the_traffic() {
    let site = Site::start().await;
    let catalog = open_catalog(bulwark_testkit::sqlite_url()).await;
    let secrets = SecretBox::new(Key::random());
    let crew = crew(&catalog, &secrets, &site).await;
    let run = run(&catalog, &secrets, &crew, &site.plan("dr")).await;
    assert_eq!(run.status, RunStatus::Completed, "{run:#?}");
    assert!(run.steps.iter().all(|s| s.status == StepStatus::Completed));

    // The standby takes writes on a new timeline; the old primary refuses them.
    site.standby.psql("postgres", "INSERT INTO orders VALUES (4)").unwrap();
    assert!(site.primary.psql("postgres", "INSERT INTO orders VALUES (5)").unwrap_err().contains("read-only"));
    let promoted = step(&run, "promote standby").output_data.clone().unwrap();
    assert!(promoted["timeline"].as_i64() > promoted["previousTimeline"].as_i64(), "{promoted}");
    // DNS, web and database traffic point at the standby site.
    assert_eq!(site.knot.query("db.dr.test.", "A"), ["127.0.0.2"]);
    assert_eq!(haproxy::get(site.proxy.port).unwrap(), "dr");
    assert_eq!(step(&run, "orders through haproxy").output_data.as_ref().unwrap()["value"], "3");
    // The webhook heard of it.
    let hooks = site.hooks.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks[0]["title"], "Orders failed over");
    assert_eq!(hooks[0]["record"]["recoveryExecutionId"], run.id.as_str());

    // The ledger: measured RTO from the incident to the last check, no data lost.
    let rto = run.actual_rto_seconds.unwrap();
    assert!(rto > 0.0 && rto < 120.0, "{rto}");
    assert_eq!(run.actual_rpo_seconds, Some(0.0));
    let failovers = ledger::failovers(&catalog, &crew.admin, "2000-01-01", None).await.unwrap();
    assert_eq!(failovers.len(), 1);
    let f = &failovers[0];
    assert_eq!((f.source_system.clone(), f.target_system.clone()), (format!("127.0.0.1:{}", site.primary.port), format!("127.0.0.1:{}", site.standby.port)));
    assert_eq!((f.status.as_str(), f.dns_updated, f.traffic_redirected, f.data_consistency_check, f.notification_sent), ("completed", true, true, true, true));
    assert_eq!(f.failover_reason, "region eu-1 lost");
    assert_eq!(f.execution_id.as_deref(), Some(run.id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_whose_validation_fails_puts_dns_haproxy_and_the_primary_back() {
    let site = Site::start().await;
    let catalog = open_catalog(bulwark_testkit::sqlite_url()).await;
    let secrets = SecretBox::new(Key::random());
    let crew = crew(&catalog, &secrets, &site).await;
    let run = run(&catalog, &secrets, &crew, &site.plan("a page nobody serves")).await;
    assert_eq!(run.status, RunStatus::RolledBack, "{run:#?}");
    assert!(run.rollback_completed, "{run:#?}");
    assert_eq!(step(&run, "web through haproxy").status, StepStatus::Failed);
    assert_eq!(step(&run, "tell the team").status, StepStatus::Skipped);
    for name in ["promote standby", "move dns", "switch web", "switch database"] {
        assert_eq!(step(&run, name).status, StepStatus::RolledBack, "{name}");
    }
    // The traffic steps were undone before the promotion they followed.
    assert!(step(&run, "move dns").rolled_back_at < step(&run, "promote standby").rolled_back_at);
    assert_eq!(site.knot.query("db.dr.test.", "A"), ["127.0.0.1"]);
    assert_eq!(haproxy::get(site.proxy.port).unwrap(), "primary");
    let pg = site.proxy.api("show servers state pg").unwrap();
    assert!(pg.lines().any(|l| l.contains(" primary ") && l.split_whitespace().nth(6) == Some("0")), "the primary is out of maintenance: {pg}");
    // The old primary takes writes again.
    site.primary.psql("postgres", "INSERT INTO orders VALUES (6)").unwrap();
    assert!(site.hooks.lock().unwrap().is_empty(), "nobody was told of a failover that was undone");
    let failovers = ledger::failovers(&catalog, &crew.admin, "2000-01-01", None).await.unwrap();
    assert_eq!((failovers.len(), failovers[0].status.as_str()), (1, "rolled_back"));
    assert_eq!(run.actual_rto_seconds, None);
}
