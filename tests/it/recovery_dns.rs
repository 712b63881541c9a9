//! The `dns_update` runbook step on a real authoritative server (Knot) taking TSIG-signed
//! RFC 2136 updates: the step moves a name to the standby's address and records what it
//! replaced, and its rollback puts the old address back and deletes what did not exist before;
//! a wrong key secret is refused by the server, for good, and nothing changes; a name outside
//! the zone or a value that is not an address is refused when the plan is saved.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use bulwark_core::recovery::steps::dns::{self, Config};
use bulwark_core::recovery::steps::{self, Secrets, StepContext, StepError};
use bulwark_testkit::dns::KnotServer;
use serde_json::{Value, json};

/// The credential the step's config names for the TSIG secret.
const CREDENTIAL: &str = "dr-dns-key";

#[tokio::test]
async fn a_name_moves_to_the_standby_and_back() {
    let knot = start_knot().await;
    let vault = Vault::holding(&knot.secret_b64);
    let cfg = config(
        &knot,
        json!([
            { "name": "db.dr.test.", "type": "A", "values": ["127.0.0.2"] },
            { "name": "status.dr.test.", "type": "TXT", "ttl": 120, "values": ["failed over"] }
        ]),
    );
    assert!(cfg.check().is_empty(), "{:?}", cfg.check());

    let output = dns::run(&cfg, &vault.context()).await.unwrap_or_else(|e| panic!("the step failed: {e}"));
    assert_eq!(knot.query("db.dr.test.", "A"), ["127.0.0.2"]);
    assert_eq!(knot.query("status.dr.test.", "TXT"), ["\"failed over\""]);
    assert_eq!(
        output,
        json!({
            "records": [
                { "name": "db.dr.test.", "type": "A", "ttl": 60, "values": ["127.0.0.2"], "previous": { "ttl": 300, "values": ["127.0.0.1"] } },
                { "name": "status.dr.test.", "type": "TXT", "ttl": 120, "values": ["failed over"], "previous": null }
            ],
            "verified": true
        })
    );

    let rolled_back = dns::roll_back(&cfg, &output, &vault.context()).await.unwrap_or_else(|e| panic!("the rollback failed: {e}"));
    assert_eq!(knot.query("db.dr.test.", "A"), ["127.0.0.1"]);
    assert!(knot.query("status.dr.test.", "TXT").is_empty(), "a record set that did not exist before was left behind");
    assert_eq!(rolled_back["verified"], true);
}

#[tokio::test]
async fn a_wrong_secret_is_refused_for_good_and_changes_nothing() {
    let knot = start_knot().await;
    let vault = Vault::holding(&base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
    let cfg = config(&knot, json!([{ "name": "db.dr.test.", "type": "A", "values": ["127.0.0.2"] }]));

    let error = dns::run(&cfg, &vault.context()).await.expect_err("an update signed with the wrong secret went through");
    assert!(!error.retryable, "{error:?}");
    assert!(error.message.contains("refused") && error.message.contains("BADSIG"), "{error:?}");
    assert_eq!(knot.query("db.dr.test.", "A"), ["127.0.0.1"]);
}

#[test]
fn check_names_the_field_of_each_problem() {
    let cfg: Config = steps::parse(&json!({
        "server": "127.0.0.1:53",
        "zone": "dr.test.",
        "keyName": "drkey",
        "secret": CREDENTIAL,
        "records": [
            { "name": "db.elsewhere.test.", "type": "A", "values": ["127.0.0.2"] },
            { "name": "db.dr.test.", "type": "A", "values": ["127.0.0.300"] }
        ]
    }))
    .unwrap();
    let problems = cfg.check();
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["records.0.name", "records.1.values.0"], "{problems:?}");
    assert!(problems[0].message.contains("outside the zone"), "{problems:?}");

    let unknown = steps::parse::<Config>(&json!({ "server": "127.0.0.1:53", "zone": "dr.test.", "keyName": "k", "secret": "s", "records": [], "ttl": 60 }));
    assert_eq!(unknown.expect_err("an unknown field was accepted").field, "ttl");
}

async fn start_knot() -> KnotServer {
    tokio::task::spawn_blocking(|| KnotServer::start("dr.test.", &[("db.dr.test.", "A", "127.0.0.1")]))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot start knotd: {e}"))
}

fn config(knot: &KnotServer, records: Value) -> Config {
    steps::parse(&json!({
        "server": format!("127.0.0.1:{}", knot.port),
        "zone": "dr.test.",
        "keyName": knot.key_name,
        "secret": CREDENTIAL,
        "records": records,
        "timeoutSeconds": 5
    }))
    .unwrap_or_else(|p| panic!("{p:?}"))
}

/// Credentials as the engine hands them to a step, here from a map.
struct Vault(HashMap<String, String>);

impl Vault {
    fn holding(secret_b64: &str) -> Vault {
        Vault(HashMap::from([(CREDENTIAL.to_string(), secret_b64.to_string())]))
    }

    fn context(&self) -> StepContext<'_> {
        StepContext { secrets: self, cancel: Arc::new(AtomicBool::new(false)), timeout: Duration::from_secs(30) }
    }
}

#[async_trait]
impl Secrets for Vault {
    async fn secret(&self, name: &str) -> Result<String, StepError> {
        self.0.get(name).cloned().ok_or_else(|| StepError::permanent(format!("no credential {name}")))
    }
}
