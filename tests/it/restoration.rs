//! The restoration workflow: every restore is a restoration job; restores into production wait
//! for an approver other than the requester, through every door; approvals are bound to the
//! exact request, expire, and need a fresh second-factor code where the policy says so;
//! break-glass is refused where the policy forbids it and loud where it allows it; bad requests
//! are refused with a sentence and record nothing; writing over a target backs it up first, a
//! rollback puts it back exactly, and a restore that fails part-way is put back at once.

use bulwark_core::configurations::{self, NewConfiguration};
use bulwark_core::engine::repo::crypto::Key;
use bulwark_core::error::{Classify, Kind};
use bulwark_core::executions;
use bulwark_core::platform::accounts::totp;
use bulwark_core::platform::auth::{Principal, Role};
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::platform::secrets::SecretBox;
use bulwark_core::restoration::jobs::{self, DoorOutcome};
use bulwark_core::restoration::targets::{self, NewTarget};
use bulwark_core::restoration::{ApprovalPolicy, ApprovalRule, ConflictResolution, Environment, RestorationRequest, RestorationStatus, RollbackRequest, approvals, policy, safety};

use crate::{app_code, on_both_catalogs, restore_targets, run_queued, user};

on_both_catalogs!(
    production_restores_wait_for_another_person_through_every_door,
    approvals_are_bound_to_the_request_and_expire,
    break_glass_is_refused_or_loud,
    approving_can_need_a_fresh_second_factor_code,
    bad_requests_are_refused_and_record_nothing,
    a_target_that_holds_data_stops_at_a_conflict,
    writing_over_a_target_backs_it_up_and_a_rollback_puts_it_back_exactly,
    a_restore_that_fails_part_way_is_put_back_from_its_safety_snapshot,
    a_restore_stopped_while_it_writes_is_put_back,
    a_restore_whose_node_died_is_stopped_by_the_next_and_put_back,
    approvers_are_told_of_a_request_waiting_for_them,
    a_replica_no_restore_reads_is_named_until_one_does
);

/// A directory backed up into a local repository, and a production and a staging target.
struct Fixture {
    catalog: Catalog,
    secrets: SecretBox,
    admin: Principal,
    operator: Principal,
    execution: String,
    location: String,
    source: std::path::PathBuf,
    root: std::path::PathBuf,
}

impl Fixture {
    async fn new(catalog: Catalog) -> Fixture {
        let secrets = SecretBox::new(Key::random());
        let admin = user(&catalog, "admin", Role::Admin).await;
        let operator = user(&catalog, "operator", Role::Operator).await;
        let location = crate::executions::location(&catalog, &secrets, &admin).await;
        let source = bulwark_testkit::temp_dir("restoration-src");
        std::fs::create_dir_all(source.join("sub")).unwrap();
        std::fs::write(source.join("a.txt"), "the bytes that were backed up").unwrap();
        std::fs::write(source.join("sub/b.txt"), "and these, one level down").unwrap();
        let new: NewConfiguration = serde_json::from_value(serde_json::json!({
            "name": "files", "sourceType": "filesystem", "sourceIdentifier": source, "storageLocationIds": [location], "rtoMinutes": 30,
        }))
        .unwrap();
        let c = configurations::create(&catalog, &secrets, &admin, new).await.unwrap();
        let e = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
        bulwark_core::orchestration::backup::run(&catalog, &secrets, &e.id, Default::default()).await.unwrap();
        let root = bulwark_testkit::temp_dir("restoration-targets");
        for (name, environment) in [("prod-files", "production"), ("stage-files", "staging")] {
            let target: NewTarget = serde_json::from_value(serde_json::json!({ "name": name, "environment": environment, "targetType": "directory", "path": root.join(name) })).unwrap();
            targets::create(&catalog, &secrets, &restore_targets(), &admin, target).await.unwrap();
        }
        Fixture { catalog, secrets, admin, operator, execution: e.id, location, source, root }
    }

    fn request(&self, environment: &str, target: &str) -> RestorationRequest {
        serde_json::from_value(serde_json::json!({
            "backupExecutionId": self.execution, "restorationType": "full", "targetEnvironment": environment, "targetIdentifier": target,
        }))
        .unwrap()
    }

    async fn status(&self, id: &str) -> RestorationStatus {
        jobs::get(&self.catalog, &self.admin, id).await.unwrap().status
    }

    /// What a node's worker does with the queued restorations.
    async fn run_queued(&self) {
        run_queued(&self.catalog, &self.secrets, jobs::JOB_KIND).await;
    }

    async fn set_policy(&self, environment: Environment, change: impl FnOnce(&mut ApprovalPolicy)) {
        let mut p = policy::default_for(environment);
        change(&mut p);
        policy::set(&self.catalog, &self.admin, p).await.unwrap();
    }

    fn restored(&self, dir: &str) -> (String, String) {
        let at = self.root.join(dir);
        (std::fs::read_to_string(at.join("a.txt")).unwrap_or_default(), std::fs::read_to_string(at.join("sub/b.txt")).unwrap_or_default())
    }
}

const ORIGINAL: (&str, &str) = ("the bytes that were backed up", "and these, one level down");

fn owned(pair: (&str, &str)) -> (String, String) {
    (pair.0.to_string(), pair.1.to_string())
}

async fn production_restores_wait_for_another_person_through_every_door(catalog: Catalog) {
    let f = Fixture::new(catalog).await;
    let (c, s) = (&f.catalog, &f.secrets);
    let reach = restore_targets();
    let approver = user(c, "approver", Role::Approver).await;
    let second = user(c, "second", Role::Approver).await;

    // Staging needs nobody: queued at once, restored by a worker, the bytes equal.
    let staged = jobs::request(c, s, &reach, &f.operator, f.request("staging", "stage-files/copy")).await.unwrap();
    assert_eq!((staged.status, staged.approval_required), (RestorationStatus::Initiated, false));
    assert!(staged.estimated_duration > 0.0);
    f.run_queued().await;
    let done = jobs::get(c, &f.admin, &staged.restoration_id).await.unwrap();
    assert_eq!(done.status, RestorationStatus::Completed, "{:?}", done.error_message);
    assert_eq!(f.restored("stage-files/copy"), owned(ORIGINAL));
    let checks = done.verification_results.unwrap();
    assert_eq!((checks["files"].as_u64(), checks["rtoMet"].as_bool()), (Some(2), Some(true)), "{checks}");
    assert_eq!(done.restored_size_bytes, 54);
    let status = jobs::progress(c, &f.admin, &staged.restoration_id).await.unwrap();
    assert_eq!((status.progress_percentage, status.restored_size), (100, 54));
    // What a job's live progress reads while a restore runs: every byte written, or found
    // already in place on a second run.
    for _ in 0..2 {
        let watch = bulwark_core::engine::repo::restore::Watch::default();
        let restore = bulwark_core::sources::restore(c, s, &reach, &f.admin, &f.execution, serde_json::json!({ "targetPath": f.root.join("counted") }));
        bulwark_core::engine::repo::restore::watched(watch.clone(), restore).await.unwrap();
        assert_eq!(watch.bytes.load(std::sync::atomic::Ordering::Relaxed), 54);
    }

    // Production waits, whoever asks; the requester never approves, an admin included, with a
    // session or with their own token.
    let asked = jobs::request(c, s, &reach, &f.admin, f.request("production", "prod-files")).await.unwrap();
    assert_eq!((asked.status, asked.approval_required), (RestorationStatus::ApprovalRequired, true));
    f.run_queued().await;
    assert!(!f.root.join("prod-files/a.txt").exists(), "nothing runs before approval");
    let own = approvals::approve(c, s, &f.admin, &asked.restoration_id, None, None).await.unwrap_err();
    assert_eq!(own.kind(), Kind::Forbidden, "{own}");
    let with_token = Principal { token_id: Some("a token of the admin's".into()), ..f.admin.clone() };
    assert_eq!(approvals::approve(c, s, &with_token, &asked.restoration_id, None, None).await.unwrap_err().kind(), Kind::Forbidden);
    assert_eq!(approvals::approve(c, s, &f.operator, &asked.restoration_id, None, None).await.unwrap_err().kind(), Kind::Forbidden, "operators do not approve");
    assert_eq!(approvals::pending_for(c, &approver).await.unwrap(), 1);
    assert_eq!(approvals::pending_for(c, &f.admin).await.unwrap(), 0, "one's own request is not in one's inbox");

    // Two approvers at once: one decision.
    let (a, b) = tokio::join!(
        approvals::approve(c, s, &approver, &asked.restoration_id, None, Some("checked the incident")),
        approvals::approve(c, s, &second, &asked.restoration_id, None, None)
    );
    assert_eq!([a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(), 1, "{a:?} {b:?}");
    let loser = if a.is_ok() { b.unwrap_err() } else { a.unwrap_err() };
    assert_eq!(loser.kind(), Kind::Conflict, "{loser}");
    let approved = jobs::get(c, &f.admin, &asked.restoration_id).await.unwrap();
    assert_eq!((approved.status, approved.approvals.len()), (RestorationStatus::Initiated, 1));
    f.run_queued().await;
    assert_eq!(f.status(&asked.restoration_id).await, RestorationStatus::Completed);
    assert_eq!(f.restored("prod-files"), owned(ORIGINAL));

    // The older doors ask the same rules: a directory inside a production target, and the
    // backed-up source itself, which is production whether or not a target names it.
    for place in [f.root.join("prod-files/again"), f.source.clone()] {
        let body = serde_json::json!({ "targetPath": place });
        match jobs::through_door(c, s, &reach, &f.operator, &f.execution, body).await.unwrap() {
            DoorOutcome::Waiting(r) => assert_eq!((r.status, r.target_environment), (RestorationStatus::ApprovalRequired, Environment::Production)),
            DoorOutcome::Restored(report) => panic!("restored into production without approval: {report}"),
        }
    }
    assert!(!f.root.join("prod-files/again").exists());
    // Elsewhere below a restore root: development, restored at once by the door's job.
    let free = bulwark_testkit::temp_dir("restoration-free");
    let restore = tokio::spawn({
        let (c, s, operator, execution) = (c.clone(), s.clone(), f.operator.clone(), f.execution.clone());
        async move { jobs::through_door(&c, &s, &restore_targets(), &operator, &execution, serde_json::json!({ "targetPath": free })).await }
    });
    while !restore.is_finished() {
        f.run_queued().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let DoorOutcome::Restored(report) = restore.await.unwrap().unwrap() else { panic!("the door did not restore") };
    assert_eq!(report["files"].as_u64(), Some(2), "{report}");

    // No way around it: a staging target above the production one, the source of another
    // configuration, another endpoint's keys in a free-form request.
    let above: NewTarget = serde_json::from_value(serde_json::json!({ "name": "stage-all", "environment": "staging", "targetType": "directory", "path": f.root })).unwrap();
    targets::create(c, s, &reach, &f.admin, above).await.unwrap();
    let sneaky = jobs::request(c, s, &reach, &f.operator, f.request("staging", "stage-all/prod-files/sneaky")).await.unwrap();
    assert_eq!(sneaky.status, RestorationStatus::ApprovalRequired, "a place inside a production target is production");
    let other_source = bulwark_testkit::temp_dir("restoration-other-src");
    let new: NewConfiguration = serde_json::from_value(serde_json::json!({ "name": "other", "sourceType": "filesystem", "sourceIdentifier": other_source, "storageLocationIds": [f.location] })).unwrap();
    configurations::create(c, s, &f.admin, new).await.unwrap();
    match jobs::through_door(c, s, &reach, &f.operator, &f.execution, serde_json::json!({ "targetPath": other_source.join("sub") })).await.unwrap() {
        DoorOutcome::Waiting(r) => assert_eq!(r.target_environment, Environment::Production),
        DoorOutcome::Restored(_) => panic!("restored over another configuration's source without approval"),
    }
    let elsewhere = serde_json::json!({ "targetBucket": "other-bucket", "targetEndpoint": "https://s3.example.org", "targetAccessKey": "k", "targetSecretKey": "s" });
    let refused = jobs::request_from_door(c, s, &reach, &f.operator, &f.execution, elsewhere).await.unwrap_err();
    assert!(refused.to_string().starts_with("targetEndpoint: "), "{refused}");
    // Only the requester changes a request: an admin who rewrote it could approve it alone.
    let edited = jobs::update(c, s, &reach, &f.admin, &sneaky.restoration_id, f.request("production", "prod-files/other")).await.unwrap_err();
    assert_eq!(edited.kind(), Kind::Forbidden, "{edited}");

    // A cancelled request never runs.
    let cancelled = jobs::request(c, s, &reach, &f.operator, f.request("production", "prod-files/never")).await.unwrap();
    assert_eq!(jobs::cancel(c, &f.operator, &cancelled.restoration_id).await.unwrap().status, RestorationStatus::Cancelled);
    assert_eq!(approvals::approve(c, s, &approver, &cancelled.restoration_id, None, None).await.unwrap_err().kind(), Kind::Conflict);
    assert_eq!(jobs::cancel(c, &f.operator, &cancelled.restoration_id).await.unwrap_err().kind(), Kind::Conflict);
}

async fn approvals_are_bound_to_the_request_and_expire(catalog: Catalog) {
    let f = Fixture::new(catalog).await;
    let (c, s) = (&f.catalog, &f.secrets);
    let reach = restore_targets();
    let first = user(c, "first", Role::Approver).await;
    let second = user(c, "second", Role::Admin).await;
    f.set_policy(Environment::Production, |p| p.approvers_required = 2).await;

    // One approval of two; then the request changes: the approval is void.
    let asked = jobs::request(c, s, &reach, &f.operator, f.request("production", "prod-files/one")).await.unwrap();
    approvals::approve(c, s, &first, &asked.restoration_id, None, None).await.unwrap();
    let twice = approvals::approve(c, s, &first, &asked.restoration_id, None, None).await.unwrap_err();
    assert_eq!(twice.kind(), Kind::Conflict, "one person counts once: {twice}");
    assert_eq!(f.status(&asked.restoration_id).await, RestorationStatus::ApprovalRequired);
    assert_eq!(jobs::update(c, s, &reach, &first, &asked.restoration_id, f.request("production", "prod-files/two")).await.unwrap_err().kind(), Kind::Forbidden, "only its requester changes it");
    let changed = jobs::update(c, s, &reach, &f.operator, &asked.restoration_id, f.request("production", "prod-files/two")).await.unwrap();
    assert_eq!((changed.approvals.len(), changed.target_identifier.as_str()), (0, "prod-files/two"), "{changed:?}");
    approvals::approve(c, s, &first, &asked.restoration_id, None, None).await.unwrap();
    approvals::approve(c, s, &second, &asked.restoration_id, None, None).await.unwrap();
    let approved = jobs::get(c, &f.admin, &asked.restoration_id).await.unwrap();
    assert_eq!((approved.status, approved.approved_by.as_deref()), (RestorationStatus::Initiated, Some("first, second")));

    // The target moves after the approval: the job refuses to run what nobody approved.
    let target = targets::list(c, &f.admin).await.unwrap().into_iter().find(|t| t.name == "prod-files").unwrap();
    let moved: NewTarget = serde_json::from_value(serde_json::json!({ "name": "prod-files", "environment": "production", "targetType": "directory", "path": f.root.join("elsewhere") })).unwrap();
    targets::update(c, s, &reach, &f.admin, &target.id, moved).await.unwrap();
    f.run_queued().await;
    let refused = jobs::get(c, &f.admin, &asked.restoration_id).await.unwrap();
    assert_eq!(refused.status, RestorationStatus::Failed);
    assert!(refused.error_message.as_deref().unwrap().contains("changed after it was made"), "{:?}", refused.error_message);
    assert!(!f.root.join("elsewhere/two").exists() && !f.root.join("prod-files/two").exists());

    // A request nobody approves in time expires, and cannot be approved any more.
    let late = jobs::request(c, s, &reach, &f.operator, f.request("production", "prod-files/late")).await.unwrap();
    sqlx::query("UPDATE restoration_jobs SET approval_expires_at = '2000-01-01T00:00:00.000000Z' WHERE id = $1").bind(&late.restoration_id).execute(c.pool()).await.unwrap();
    assert_eq!(f.status(&late.restoration_id).await, RestorationStatus::Expired);
    assert_eq!(approvals::approve(c, s, &first, &late.restoration_id, None, None).await.unwrap_err().kind(), Kind::Conflict);

    // A rejection needs a reason and ends the request.
    let rejected = jobs::request(c, s, &reach, &f.operator, f.request("production", "prod-files/no")).await.unwrap();
    assert_eq!(approvals::reject(c, &first, &rejected.restoration_id, " ").await.unwrap_err().kind(), Kind::Invalid);
    let r = approvals::reject(c, &first, &rejected.restoration_id, "wrong backup").await.unwrap();
    assert_eq!(r.status, RestorationStatus::Rejected);
    assert!(r.error_message.unwrap().contains("wrong backup"));
    let audit: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log WHERE target_id = $1 ORDER BY seq").bind(&asked.restoration_id).fetch_all(c.pool()).await.unwrap();
    assert_eq!(audit, ["restoration.request", "restoration.approve", "restoration.update", "restoration.approve", "restoration.approve", "restoration.fail"]);
}

async fn break_glass_is_refused_or_loud(catalog: Catalog) {
    let f = Fixture::new(catalog).await;
    let (c, s) = (&f.catalog, &f.secrets);
    let reach = restore_targets();
    let urgent = |incident: Option<&str>, reason: Option<&str>| {
        let mut r = f.request("production", "prod-files/urgent");
        r.approval_override = Some(true);
        r.incident_reference = incident.map(str::to_string);
        r.override_reason = reason.map(str::to_string);
        r
    };
    let refused = jobs::request(c, s, &reach, &f.admin, urgent(Some("INC-7"), Some("site down"))).await.unwrap_err();
    assert_eq!(refused.kind(), Kind::Forbidden);
    assert!(refused.to_string().contains("the production policy does not allow break-glass"), "{refused}");
    f.set_policy(Environment::Production, |p| p.break_glass_allowed = true).await;
    assert_eq!(jobs::request(c, s, &reach, &f.operator, urgent(Some("INC-7"), Some("site down"))).await.unwrap_err().kind(), Kind::Forbidden, "admins only");
    assert!(jobs::request(c, s, &reach, &f.admin, urgent(None, Some("site down"))).await.unwrap_err().to_string().starts_with("incidentReference: "));
    assert!(jobs::request(c, s, &reach, &f.admin, urgent(Some("INC-7"), None)).await.unwrap_err().to_string().starts_with("overrideReason: "));
    let broke = jobs::request(c, s, &reach, &f.admin, urgent(Some("INC-7"), Some("site down"))).await.unwrap();
    assert_eq!(broke.status, RestorationStatus::Initiated);
    let shown = jobs::get(c, &f.admin, &broke.restoration_id).await.unwrap();
    assert!(shown.approval_override && shown.override_reason.as_deref() == Some("site down"), "{shown:?}");
    let alert: (String, String) = sqlx::query_as("SELECT severity, message FROM backup_monitoring_alerts WHERE alert_type = 'break_glass_restore'").fetch_one(c.pool()).await.unwrap();
    assert_eq!(alert.0, "critical");
    assert!(alert.1.contains("INC-7") && alert.1.contains("without approval"), "{}", alert.1);
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'restoration.break_glass' AND target_id = $1").bind(&broke.restoration_id).fetch_one(c.pool()).await.unwrap();
    assert_eq!(audited, 1);
    f.run_queued().await;
    assert_eq!(f.restored("prod-files/urgent"), owned(ORIGINAL));
}

async fn approving_can_need_a_fresh_second_factor_code(catalog: Catalog) {
    let f = Fixture::new(catalog).await;
    let (c, s) = (&f.catalog, &f.secrets);
    let reach = restore_targets();
    let approver = user(c, "approver", Role::Approver).await;
    f.set_policy(Environment::Production, |p| p.require_totp = true).await;
    let asked = jobs::request(c, s, &reach, &f.operator, f.request("production", "prod-files/totp")).await.unwrap();
    assert!(jobs::get(c, &f.admin, &asked.restoration_id).await.unwrap().require_totp);
    let without = approvals::approve(c, s, &approver, &asked.restoration_id, None, None).await.unwrap_err();
    assert!(without.to_string().starts_with("totpCode: "), "{without}");
    let unenrolled = approvals::approve(c, s, &approver, &asked.restoration_id, Some("123456"), None).await.unwrap_err();
    assert!(unenrolled.to_string().contains("no second factor is set up"), "{unenrolled}");

    let t = chrono::Utc::now().timestamp();
    let enrollment = totp::begin(c, s, &approver).await.unwrap();
    totp::confirm(c, s, &approver, &app_code(&enrollment.secret, t)).await.unwrap();
    // Outside the ±1 step window, and the code already used to confirm: refused.
    for stale in [app_code(&enrollment.secret, t + 90), app_code(&enrollment.secret, t - 90), app_code(&enrollment.secret, t)] {
        let e = approvals::approve(c, s, &approver, &asked.restoration_id, Some(&stale), None).await.unwrap_err();
        assert_eq!(e.kind(), Kind::Forbidden, "{e}");
    }
    assert_eq!(f.status(&asked.restoration_id).await, RestorationStatus::ApprovalRequired);
    let next = app_code(&enrollment.secret, t + 30);
    let approved = approvals::approve(c, s, &approver, &asked.restoration_id, Some(&next), None).await.unwrap();
    assert!(approved.approvals[0].totp_confirmed && approved.status == RestorationStatus::Initiated);
    // The same code again, on another request: refused (used once only).
    let other = jobs::request(c, s, &reach, &f.operator, f.request("production", "prod-files/totp2")).await.unwrap();
    assert_eq!(approvals::approve(c, s, &approver, &other.restoration_id, Some(&next), None).await.unwrap_err().kind(), Kind::Forbidden);
}

async fn bad_requests_are_refused_and_record_nothing(catalog: Catalog) {
    let f = Fixture::new(catalog).await;
    let (c, s) = (&f.catalog, &f.secrets);
    let reach = restore_targets();
    let pg: NewTarget = serde_json::from_value(serde_json::json!({ "name": "stage-db", "environment": "staging", "targetType": "postgresql", "url": "postgresql://app@127.0.0.1:5432" })).unwrap();
    targets::create(c, s, &reach, &f.admin, pg).await.unwrap();
    let with = |change: serde_json::Value| {
        let mut body = serde_json::to_value(f.request("staging", "stage-files")).unwrap();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        serde_json::from_value::<RestorationRequest>(body).unwrap()
    };
    let cases = [
        (with(serde_json::json!({ "backupExecutionId": "no-such-execution" })), Kind::NotFound, "backup execution"),
        (with(serde_json::json!({ "targetIdentifier": "nowhere" })), Kind::Invalid, "targetIdentifier: no restore target is named \"nowhere\""),
        (with(serde_json::json!({ "targetEnvironment": "production" })), Kind::Invalid, "targetIdentifier: \"stage-files\" is a staging target, not production"),
        (with(serde_json::json!({ "targetIdentifier": "stage-db/copy" })), Kind::Invalid, "targetIdentifier: a directory backup restores into a directory"),
        (with(serde_json::json!({ "targetIdentifier": "stage-files/../../etc" })), Kind::Invalid, "targetIdentifier: "),
        (with(serde_json::json!({ "restorationScope": { "tables": ["public.t"] } })), Kind::Invalid, "restorationScope.tables: this backup has no tables"),
        (with(serde_json::json!({ "restorationScope": { "paths": ["sub"] } })), Kind::Invalid, "restorationScope.paths: a full restore takes everything"),
        (with(serde_json::json!({ "restorationType": "partial" })), Kind::Invalid, "restorationScope.paths: a partial restore names what to restore"),
        (with(serde_json::json!({ "restorationType": "point_in_time", "pointInTimeTarget": "2026-01-01T00:00:00Z" })), Kind::Invalid, "pointInTimeTarget: "),
        (with(serde_json::json!({ "notes": "x".repeat(3000) })), Kind::Invalid, "notes: "),
        (with(serde_json::json!({ "restorationType": "partial", "restorationScope": { "paths": ["sub/nope.txt"] } })), Kind::Invalid, "restorationScope.paths: the backup has no file or directory \"sub/nope.txt\""),
    ];
    for (request, kind, message) in cases {
        let e = jobs::request(c, s, &reach, &f.operator, request.clone()).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{request:?}: {e}");
        assert!(e.to_string().starts_with(message) || e.to_string().contains(message), "{request:?}: {e}");
    }
    // A backup whose verification failed is refused before anything is recorded.
    executions::record_verification(c, &f.execution, "failed", &["a pack is damaged".into()]).await.unwrap();
    let e = jobs::request(c, s, &reach, &f.operator, f.request("staging", "stage-files")).await.unwrap_err();
    assert!(e.to_string().contains("failed verification"), "{e}");
    assert_eq!(jobs::list(c, &f.admin, &Default::default()).await.unwrap().len(), 0, "nothing recorded");
    assert!(!f.root.join("stage-files").exists(), "nothing written");

    // A partial restore writes only the paths chosen.
    executions::record_verification(c, &f.execution, "verified", &[]).await.unwrap();
    let partial = with(serde_json::json!({ "restorationType": "partial", "targetIdentifier": "stage-files/part", "restorationScope": { "paths": ["sub"] } }));
    let asked = jobs::request(c, s, &reach, &f.operator, partial).await.unwrap();
    f.run_queued().await;
    assert_eq!(f.status(&asked.restoration_id).await, RestorationStatus::Completed);
    assert_eq!(f.restored("stage-files/part"), (String::new(), ORIGINAL.1.to_string()));
    let available = bulwark_core::restoration::available::list(c, &f.admin, &bulwark_core::restoration::available::Filter { verified: true, ..Default::default() }).await.unwrap();
    assert_eq!((available.len(), available[0].verification_status.as_str(), available[0].point_in_time_capable), (1, "verified", false));
}

async fn a_target_that_holds_data_stops_at_a_conflict(catalog: Catalog) {
    let f = Fixture::new(catalog).await;
    let (c, s) = (&f.catalog, &f.secrets);
    let reach = restore_targets();
    let first = jobs::request(c, s, &reach, &f.operator, f.request("staging", "stage-files/copy")).await.unwrap();
    f.run_queued().await;
    assert_eq!(f.status(&first.restoration_id).await, RestorationStatus::Completed);
    // What the restore wrote carries the backup's times: nothing there is newer than it.
    let same = jobs::request(c, s, &reach, &f.operator, f.request("staging", "stage-files/copy")).await.unwrap();
    assert_eq!(same.status, RestorationStatus::ConflictDetected);
    assert_eq!(same.conflicts.len(), 1, "{:?}", same.conflicts);
    std::fs::write(f.root.join("stage-files/copy/a.txt"), "changed since").unwrap();

    // The same place again: nothing runs, the conflict and the ways around it are named,
    // with the file changed after the backup was taken.
    let again = jobs::request(c, s, &reach, &f.operator, f.request("staging", "stage-files/copy")).await.unwrap();
    assert_eq!(again.status, RestorationStatus::ConflictDetected);
    assert!(again.conflicts[0].contains("is not empty"), "{:?}", again.conflicts);
    assert!(again.conflicts[1].starts_with("1 files in ") && again.conflicts[1].contains("changed after the backup") && again.conflicts[1].contains("a.txt"), "{:?}", again.conflicts);
    let labels: Vec<&str> = again.alternatives.iter().map(|a| a.label.as_str()).collect();
    assert!(again.alternatives.iter().any(|a| a.target_identifier.starts_with("stage-files/copy_restored_") && a.conflict_resolution.is_none()), "{labels:?}");
    let overwrite = again.alternatives.iter().find(|a| a.conflict_resolution == Some(ConflictResolution::Overwrite)).expect("overwriting files is offered");
    f.run_queued().await;
    assert_eq!(std::fs::read_to_string(f.root.join("stage-files/copy/a.txt")).unwrap(), "changed since", "nothing was written");

    // Each alternative works: a new directory inside the target, and writing over.
    let fresh = again.alternatives.iter().find(|a| a.target_identifier.starts_with("stage-files/copy_restored_")).unwrap();
    let elsewhere = jobs::request(c, s, &reach, &f.operator, f.request("staging", &fresh.target_identifier)).await.unwrap();
    let mut over = f.request(overwrite.target_environment.as_str(), &overwrite.target_identifier);
    over.conflict_resolution = Some(ConflictResolution::Overwrite);
    let over = jobs::request(c, s, &reach, &f.operator, over).await.unwrap();
    assert_eq!((elsewhere.status, over.status), (RestorationStatus::Initiated, RestorationStatus::Initiated));
    f.run_queued().await;
    assert_eq!(f.restored(&fresh.target_identifier), owned(ORIGINAL));
    assert_eq!(f.restored("stage-files/copy"), owned(ORIGINAL), "the changed file is the backup's again");

    // Another restoration waiting on the same place: refused outright.
    let waiting = jobs::request(c, s, &reach, &f.operator, f.request("production", "prod-files/busy")).await.unwrap();
    assert_eq!(waiting.status, RestorationStatus::ApprovalRequired);
    let busy = jobs::request(c, s, &reach, &f.operator, f.request("production", "prod-files/busy")).await.unwrap_err();
    assert_eq!(busy.kind(), Kind::Conflict, "{busy}");

    // A backup running of the place: refused until it ends.
    let configuration = executions::find(c, &f.execution).await.unwrap().configuration_id;
    let live: NewTarget = serde_json::from_value(serde_json::json!({ "name": "live-files", "environment": "production", "targetType": "directory", "path": f.source })).unwrap();
    targets::create(c, s, &reach, &f.admin, live).await.unwrap();
    let running = executions::start(c, &f.admin, &configuration, "manual").await.unwrap();
    let over_source = jobs::request(c, s, &reach, &f.operator, f.request("production", "live-files")).await.unwrap_err();
    assert_eq!(over_source.kind(), Kind::Conflict, "{over_source}");
    assert!(over_source.to_string().contains(&format!("backup {} of files is queued against", running.id)), "{over_source}");
    bulwark_core::orchestration::backup::run(c, s, &running.id, Default::default()).await.unwrap();
    let after = jobs::request(c, s, &reach, &f.operator, f.request("production", "live-files")).await.unwrap();
    assert_eq!(after.status, RestorationStatus::ConflictDetected, "the source holds its files: {:?}", after.conflicts);

    // And the other way: while a restore over the source waits to run, its backups wait too.
    f.set_policy(Environment::Production, |p| p.require_approval = ApprovalRule::Never).await;
    let mut over = f.request("production", "live-files");
    over.conflict_resolution = Some(ConflictResolution::Overwrite);
    let queued = jobs::request(c, s, &reach, &f.operator, over).await.unwrap();
    assert_eq!(queued.status, RestorationStatus::Initiated);
    let refused = executions::start(c, &f.admin, &configuration, "manual").await.unwrap_err();
    assert_eq!(refused.to_string(), format!("restoration {} is writing over what \"files\" backs up: back it up once the restore has ended", queued.restoration_id));
    jobs::cancel(c, &f.operator, &queued.restoration_id).await.unwrap();
    executions::start(c, &f.admin, &configuration, "manual").await.unwrap();
}

/// Every entry below `dir` by relative path: a file's bytes, `None` for a directory. An entry
/// that goes away while it is read (a restore still renaming its temporaries into place, which
/// the callers wait to settle) is left out.
fn contents(dir: &std::path::Path) -> std::collections::BTreeMap<String, Option<Vec<u8>>> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut std::collections::BTreeMap<String, Option<Vec<u8>>>) {
        let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
        let entries = match std::fs::read_dir(dir) {
            Err(e) if gone(&e) => return,
            other => other.unwrap(),
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            if path.is_dir() {
                out.insert(name, None);
                walk(root, &path, out);
            } else {
                match std::fs::read(&path) {
                    Err(e) if gone(&e) => {}
                    read => {
                        out.insert(name, Some(read.unwrap()));
                    }
                }
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A directory that holds what the backup does not, and differs where it does.
fn occupied_place(at: &std::path::Path) -> std::collections::BTreeMap<String, Option<Vec<u8>>> {
    std::fs::create_dir_all(at.join("extra")).unwrap();
    std::fs::write(at.join("a.txt"), "the live version, changed since the backup").unwrap();
    std::fs::write(at.join("extra/x.txt"), "only the live directory has this").unwrap();
    std::fs::write(at.join("keep.txt"), "never in the backup").unwrap();
    contents(at)
}

async fn writing_over_a_target_backs_it_up_and_a_rollback_puts_it_back_exactly(catalog: Catalog) {
    let f = Fixture::new(catalog).await;
    let (c, s) = (&f.catalog, &f.secrets);
    let reach = restore_targets();
    let place = f.root.join("stage-files/live");
    let before = occupied_place(&place);

    let mut over = f.request("staging", "stage-files/live");
    over.conflict_resolution = Some(ConflictResolution::Overwrite);
    let asked = jobs::request(c, s, &reach, &f.operator, over).await.unwrap();
    assert_eq!(asked.status, RestorationStatus::Initiated);
    f.run_queued().await;
    let done = jobs::get(c, &f.admin, &asked.restoration_id).await.unwrap();
    assert_eq!(done.status, RestorationStatus::Completed, "{:?}", done.error_message);
    assert_eq!(f.restored("stage-files/live"), owned(ORIGINAL), "the backup's files were written over the live ones");
    assert!(place.join("keep.txt").exists(), "a delta restore leaves what the backup does not have");

    // The safety backup: an execution of its own, held until the rollback deadline, and never
    // taken for the source's newest backup.
    assert!(done.rollback_available && done.rollback_seconds_left.unwrap() > 23 * 3600, "{done:?}");
    let safety_id = done.safety_execution_id.clone().expect("a safety snapshot was taken");
    let safety_backup = executions::get(c, &f.admin, &safety_id).await.unwrap();
    assert_eq!((safety_backup.execution_type.as_str(), safety_backup.status.as_str()), ("safety", "completed"));
    let holds = bulwark_core::retention::holds::list(c, &f.admin, &safety_id).await.unwrap();
    assert_eq!(holds.iter().map(|h| h.expires_at.clone()).collect::<Vec<_>>(), vec![done.rollback_deadline.clone()]);
    let mut safety_as_backup = f.request("staging", "stage-files/elsewhere");
    safety_as_backup.backup_execution_id = safety_id.clone();
    let refused = jobs::request(c, s, &reach, &f.operator, safety_as_backup).await.unwrap_err();
    assert!(refused.to_string().contains("is the safety snapshot of a restoration's target"), "{refused}");
    let source_backup = executions::get(c, &f.admin, &f.execution).await.unwrap();
    assert_eq!(executions::last_snapshot(c, &source_backup.configuration_id, &f.location).await.unwrap(), source_backup.snapshot_id);

    // A later restore into the same place comes first: rolling this one back would undo it.
    let mut again = f.request("staging", "stage-files/live");
    again.conflict_resolution = Some(ConflictResolution::Overwrite);
    let later = jobs::request(c, s, &reach, &f.operator, again).await.unwrap();
    f.run_queued().await;
    assert_eq!(f.status(&later.restoration_id).await, RestorationStatus::Completed);
    let blocked = safety::request(c, s, &reach, &f.operator, &asked.restoration_id, RollbackRequest::default()).await.unwrap_err();
    assert!(blocked.to_string().contains(&format!("restoration {} wrote into stage-files/live after this one", later.restoration_id)), "{blocked}");
    let undo_later = safety::request(c, s, &reach, &f.operator, &later.restoration_id, RollbackRequest::default()).await.unwrap();
    f.run_queued().await;
    assert_eq!(f.status(&undo_later.restoration_id).await, RestorationStatus::Completed);

    // The rollback: a restoration of its own (staging needs no approval), exact to the byte.
    let back = safety::request(c, s, &reach, &f.operator, &asked.restoration_id, RollbackRequest { reason: Some("wrong backup".into()), ..Default::default() }).await.unwrap();
    assert_eq!(back.status, RestorationStatus::Initiated);
    f.run_queued().await;
    let rolled = jobs::get(c, &f.admin, &back.restoration_id).await.unwrap();
    assert_eq!(rolled.status, RestorationStatus::Completed, "{:?}", rolled.error_message);
    assert_eq!(rolled.rollback_of.as_deref(), Some(asked.restoration_id.as_str()));
    assert_eq!(contents(&place), before, "the directory is exactly as it was before the restore");
    let original = jobs::get(c, &f.admin, &asked.restoration_id).await.unwrap();
    assert_eq!((original.status, original.rollback_available, original.rolled_back_by), (RestorationStatus::RolledBack, false, Some(back.restoration_id.clone())));
    let twice = safety::request(c, s, &reach, &f.operator, &asked.restoration_id, RollbackRequest::default()).await.unwrap_err();
    assert_eq!(twice.kind(), Kind::Conflict, "{twice}");

    // A restore into a new place is undone too: the rollback leaves it empty.
    let fresh = jobs::request(c, s, &reach, &f.operator, f.request("staging", "stage-files/empty")).await.unwrap();
    f.run_queued().await;
    assert_eq!(f.restored("stage-files/empty"), owned(ORIGINAL));
    let undo = safety::request(c, s, &reach, &f.operator, &fresh.restoration_id, RollbackRequest::default()).await.unwrap();
    f.run_queued().await;
    assert_eq!(f.status(&undo.restoration_id).await, RestorationStatus::Completed);
    assert!(contents(&f.root.join("stage-files/empty")).is_empty(), "the new place is empty again");

    // In production a rollback waits for an approver, like the restore did.
    let prod = f.root.join("prod-files/live");
    let prod_before = occupied_place(&prod);
    let mut over = f.request("production", "prod-files/live");
    over.conflict_resolution = Some(ConflictResolution::Overwrite);
    let asked = jobs::request(c, s, &reach, &f.operator, over).await.unwrap();
    approvals::approve(c, s, &f.admin, &asked.restoration_id, None, None).await.unwrap();
    f.run_queued().await;
    assert_eq!(f.status(&asked.restoration_id).await, RestorationStatus::Completed);
    let back = safety::request(c, s, &reach, &f.operator, &asked.restoration_id, RollbackRequest::default()).await.unwrap();
    assert_eq!(back.status, RestorationStatus::ApprovalRequired);
    // A waiting rollback cannot be turned into another restore by editing it.
    let mut elsewhere = f.request("staging", "stage-files/other");
    elsewhere.backup_execution_id = f.execution.clone();
    let edited = jobs::update(c, s, &reach, &f.operator, &back.restoration_id, elsewhere).await.unwrap_err();
    assert_eq!(edited.kind(), Kind::Conflict, "{edited}");
    f.run_queued().await;
    assert_eq!(f.restored("prod-files/live"), owned(ORIGINAL), "nothing ran without the approval");
    assert_eq!(approvals::approve(c, s, &f.operator, &back.restoration_id, None, None).await.unwrap_err().kind(), Kind::Forbidden);
    approvals::approve(c, s, &f.admin, &back.restoration_id, None, None).await.unwrap();
    f.run_queued().await;
    assert_eq!(f.status(&back.restoration_id).await, RestorationStatus::Completed);
    assert_eq!(contents(&prod), prod_before);
}

async fn a_restore_that_fails_part_way_is_put_back_from_its_safety_snapshot(catalog: Catalog) {
    let f = Fixture::new(catalog).await;
    let (c, s) = (&f.catalog, &f.secrets);
    let reach = restore_targets();
    let place = f.root.join("stage-files/live");
    let before = occupied_place(&place);
    // The backup's second file no longer reads: the restore writes the first, then stops.
    let repo = bulwark_core::locations::open_repository(c, s, &f.location).await.unwrap();
    let backup = executions::get(c, &f.admin, &f.execution).await.unwrap();
    let snapshot = repo.load_snapshot(backup.snapshot_id.as_deref().unwrap()).await.unwrap();
    let index = repo.load_index().await.unwrap();
    let nodes = bulwark_core::engine::repo::tree::load_tree(&repo, &index, &snapshot).await.unwrap();
    let b = nodes.iter().find(|n| n.path == "sub/b.txt").unwrap();
    let (pack, at) = index.get(&b.chunks[0].parse().unwrap()).unwrap();
    let dir = std::path::PathBuf::from(bulwark_core::locations::get(c, &f.admin, &f.location).await.unwrap().path_prefix.unwrap());
    let pack = dir.join(bulwark_core::engine::repo::format::pack_key(&pack.to_string()));
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[at.offset as usize + at.length as usize / 2] ^= 0x10;
    std::fs::write(&pack, bytes).unwrap();

    let mut over = f.request("staging", "stage-files/live");
    over.conflict_resolution = Some(ConflictResolution::Overwrite);
    over.accept_unverified = Some(true);
    let asked = jobs::request(c, s, &reach, &f.operator, over).await.unwrap();
    f.run_queued().await;
    let failed = jobs::get(c, &f.admin, &asked.restoration_id).await.unwrap();
    assert_eq!(failed.status, RestorationStatus::Failed);
    assert!(failed.error_message.as_deref().unwrap().ends_with("was put back as it was from its safety snapshot"), "{:?}", failed.error_message);
    assert!(failed.safety_execution_id.is_some());
    assert_eq!(contents(&place), before, "the target is exactly as it was");
}

impl Fixture {
    /// A backup big enough to be stopped part-way (16 files of 2 MiB of noise), and a request
    /// to write it over the occupied `stage-files/live`; what that place held.
    async fn noise_over_live(&self) -> (RestorationRequest, std::collections::BTreeMap<String, Option<Vec<u8>>>) {
        let (c, s) = (&self.catalog, &self.secrets);
        let source = bulwark_testkit::temp_dir("restoration-noise");
        let mut noise = std::fs::File::open("/dev/urandom").unwrap();
        for i in 0..16 {
            let mut bytes = vec![0u8; 2 << 20];
            std::io::Read::read_exact(&mut noise, &mut bytes).unwrap();
            std::fs::write(source.join(format!("noise-{i:02}.bin")), bytes).unwrap();
        }
        let new: NewConfiguration = serde_json::from_value(serde_json::json!({ "name": "noise", "sourceType": "filesystem", "sourceIdentifier": source, "storageLocationIds": [self.location] })).unwrap();
        let configuration = configurations::create(c, s, &self.admin, new).await.unwrap();
        let e = executions::start(c, &self.admin, &configuration.id, "manual").await.unwrap();
        bulwark_core::orchestration::backup::run(c, s, &e.id, Default::default()).await.unwrap();
        let before = occupied_place(&self.root.join("stage-files/live"));
        let mut over = self.request("staging", "stage-files/live");
        over.backup_execution_id = e.id.clone();
        over.conflict_resolution = Some(ConflictResolution::Overwrite);
        over.accept_unverified = Some(true);
        (over, before)
    }
}

/// Waits until the restore has put its first file into `place`.
async fn first_file_in(place: &std::path::Path) {
    let first = place.join("noise-00.bin");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !first.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    assert!(first.exists(), "the restore wrote its first file");
}

async fn a_restore_stopped_while_it_writes_is_put_back(catalog: Catalog) {
    let f = Fixture::new(catalog).await;
    let (c, s) = (&f.catalog, &f.secrets);
    let reach = restore_targets();
    let (over, before) = f.noise_over_live().await;
    let place = f.root.join("stage-files/live");
    let asked = jobs::request(c, s, &reach, &f.operator, over).await.unwrap();
    // The worker's flag, set as soon as the first restored file is in place.
    let stop = bulwark_core::platform::jobs::CancelFlag::default();
    let running = {
        let (c, s, id, stop) = (c.clone(), s.clone(), asked.restoration_id.clone(), stop.clone());
        tokio::spawn(async move { jobs::run(&c, &s, &restore_targets(), &id, stop).await })
    };
    first_file_in(&place).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(running.await.unwrap().unwrap(), RestorationStatus::Cancelled);
    let stopped = jobs::get(c, &f.admin, &asked.restoration_id).await.unwrap();
    assert_eq!(stopped.status, RestorationStatus::Cancelled);
    assert_eq!(stopped.error_message.as_deref(), Some("stopped while writing; stage-files/live was put back as it was from its safety snapshot"));
    assert_eq!(contents(&place), before, "the target is exactly as it was before the restore");
}

async fn a_restore_whose_node_died_is_stopped_by_the_next_and_put_back(catalog: Catalog) {
    let f = Fixture::new(catalog).await;
    let (c, s) = (&f.catalog, &f.secrets);
    let reach = restore_targets();
    let (over, before) = f.noise_over_live().await;
    let place = f.root.join("stage-files/live");
    let asked = jobs::request(c, s, &reach, &f.operator, over).await.unwrap();
    let id = asked.restoration_id.clone();
    // A node takes it, writes its first file and dies: its work is dropped, its job is queued
    // again for another node to take over.
    let running = {
        let (c, s, id) = (c.clone(), s.clone(), id.clone());
        tokio::spawn(async move { jobs::run(&c, &s, &restore_targets(), &id, Default::default()).await })
    };
    first_file_in(&place).await;
    running.abort();
    let _ = running.await;
    // What its writers had in hand lands; then nothing moves.
    let mut seen = contents(&place);
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let now = contents(&place);
        if now == seen {
            break;
        }
        seen = now;
    }
    let row = jobs::get(c, &f.admin, &id).await.unwrap();
    assert_eq!(row.status, RestorationStatus::Running);
    assert!(row.safety_execution_id.is_some() && contents(&place) != before, "{row:?}");
    let job_of = "SELECT j.state, j.cancel_requested FROM jobs j JOIN restoration_jobs r ON r.job_id = j.id WHERE r.id = $1";

    // Stopping it keeps its job queued, with the stop asked for: the node that takes it over
    // stops at once and puts the target back.
    jobs::cancel(c, &f.operator, &id).await.unwrap();
    let job: (String, i64) = sqlx::query_as(job_of).bind(&id).fetch_one(c.pool()).await.unwrap();
    assert_eq!(job, ("queued".to_string(), 1));
    f.run_queued().await;
    let stopped = jobs::get(c, &f.admin, &id).await.unwrap();
    assert_eq!(stopped.status, RestorationStatus::Cancelled, "{:?}", stopped.error_message);
    assert_eq!(contents(&place), before, "the target is exactly as it was before the restore");

    // A restoration whose job ended without recording it (its node died after its last
    // attempt) is ended by reconciliation, once.
    let other = jobs::request(c, s, &reach, &f.operator, f.request("staging", "stage-files/other")).await.unwrap();
    sqlx::query("UPDATE restoration_jobs SET status = 'running' WHERE id = $1").bind(&other.restoration_id).execute(c.pool()).await.unwrap();
    sqlx::query("UPDATE jobs SET state = 'failed', last_error = 'lease expired: the worker stopped or hung' WHERE id = (SELECT job_id FROM restoration_jobs WHERE id = $1)")
        .bind(&other.restoration_id)
        .execute(c.pool())
        .await
        .unwrap();
    assert_eq!(bulwark_core::restoration::reconcile::reconcile(c).await.unwrap(), 1);
    let ended = jobs::get(c, &f.admin, &other.restoration_id).await.unwrap();
    assert_eq!(ended.status, RestorationStatus::Failed);
    assert_eq!(ended.error_message.as_deref(), Some("ended by reconciliation: its job failed without recording the restore's outcome (lease expired: the worker stopped or hung)"));
    assert_eq!(bulwark_core::restoration::reconcile::reconcile(c).await.unwrap(), 0);
}

/// A request waiting for approval is told through the channels that route approval requests
/// (and only those), with what an approver needs to decide; a restore that needs nobody is not.
async fn approvers_are_told_of_a_request_waiting_for_them(catalog: Catalog) {
    use bulwark_core::notifications::{self, channels, ChannelKind, ChannelRequest, ChannelSettings, Routing};
    let f = Fixture::new(catalog).await;
    let (c, s) = (&f.catalog, &f.secrets);
    let reach = restore_targets();
    let approvers = crate::notifications::Receiver::start().await;
    let alerts_only = crate::notifications::Receiver::start().await;
    for (name, receiver, approval_requests) in [("approvers", &approvers, true), ("alerts", &alerts_only, false)] {
        let request = ChannelRequest {
            name: name.into(),
            kind: Some(ChannelKind::Webhook),
            settings: ChannelSettings { url: Some(receiver.url.clone()), ..Default::default() },
            routing: Routing { approval_requests, ..Default::default() },
            ..Default::default()
        };
        let created = channels::create(c, s, &f.admin, &request).await.unwrap();
        *receiver.secret.lock().unwrap() = created.signing_secret.unwrap();
    }
    jobs::request(c, s, &reach, &f.operator, f.request("staging", "stage-files/told")).await.unwrap();
    let asked = jobs::request(c, s, &reach, &f.operator, f.request("production", "prod-files")).await.unwrap();
    crate::run_queued(c, s, notifications::DELIVER).await;
    let got = approvers.received();
    assert_eq!(got.len(), 1, "only the request that waits is told: {got:?}");
    assert!(got[0].signed);
    assert_eq!((got[0].event.as_str(), got[0].body["record"]["restorationId"].as_str(), got[0].body["record"]["requestedBy"].as_str()), ("approval.requested", Some(asked.restoration_id.as_str()), Some("operator")));
    assert!(got[0].body["title"].as_str().unwrap().starts_with("Approval needed: restore files into prod-files (production)"), "{}", got[0].body["title"]);
    assert!(alerts_only.received().is_empty(), "a channel that does not route approval requests hears nothing");

    // Still waiting an hour later: approval_waiting, resolved once it is decided.
    use bulwark_core::alerts::{self, AlertStatus, AlertType, Filter};
    use bulwark_core::restoration::waiting;
    assert_eq!(waiting::evaluate_at(c, chrono::Utc::now()).await.unwrap(), 0, "not yet");
    let later = chrono::Utc::now() + chrono::Duration::minutes(61);
    assert_eq!(waiting::evaluate_at(c, later).await.unwrap(), 1);
    assert_eq!(waiting::evaluate_at(c, later).await.unwrap(), 0, "one alert while it waits");
    let open = alerts::list(c, &f.admin, &Filter { alert_type: Some("approval_waiting".into()), ..Default::default() }).await.unwrap();
    assert_eq!((open.len(), open[0].severity.as_str()), (1, "high"));
    assert!(open[0].message.starts_with("operator's restore of files into prod-files (production) has waited 61 minutes for an approver"), "{}", open[0].message);
    let approver = user(c, "approver", Role::Approver).await;
    approvals::approve(c, s, &approver, &asked.restoration_id, None, None).await.unwrap();
    waiting::evaluate_at(c, later).await.unwrap();
    let done = alerts::get(c, &f.admin, &open[0].id).await.unwrap();
    assert_eq!((done.status, done.alert_type), (AlertStatus::Resolved, AlertType::ApprovalWaiting));
}

/// A replica kept by a copy rule for months that no restore read is a saving the cost page
/// names (all it stores, at its price), with the copy rule's removal as its button; once a
/// restore reads it (the snapshot lost at its backup's own location), it is named no more. That
/// restore used to be refused: an unverified backup was verified first at its own location only.
async fn a_replica_no_restore_reads_is_named_until_one_does(catalog: Catalog) {
    use bulwark_core::cost::{analysis, tracking, SuggestionAction};
    use bulwark_core::locations::{self, NewLocation};
    use bulwark_core::replicate::{self, NewReplication};
    let f = Fixture::new(catalog).await;
    let (c, s) = (&f.catalog, &f.secrets);
    let dir = bulwark_testkit::temp_dir("replica");
    let new = NewLocation {
        location_name: "far replica".into(),
        storage_type: "secondary".into(),
        provider: "local".into(),
        path_prefix: Some(dir.join("repo").display().to_string()),
        cost_per_gb_month: Some(5.0),
        ..Default::default()
    };
    let replica = locations::create(c, s, &f.admin, new).await.unwrap();
    let rule = replicate::link(c, &f.admin, &f.location, NewReplication { target_location_id: replica.id.clone() }).await.unwrap();
    run_queued(c, s, replicate::JOB_KIND).await;
    let named = async || {
        tracking::track_now(c, s, &f.admin).await.unwrap();
        let analysis = analysis::cost_analysis(c, &f.admin, None, false).await.unwrap();
        analysis.optimization_suggestions.into_iter().find(|x| x.kind == "remove_replica")
    };
    assert_eq!(named().await, None, "a copy rule made today is no saving yet");

    let months_ago = bulwark_core::platform::time::to_text(chrono::Utc::now() - chrono::Duration::days(100));
    sqlx::query("UPDATE replication_links SET created_at = $1 WHERE id = $2").bind(&months_ago).bind(&rule.id).execute(c.pool()).await.unwrap();
    let suggestion = named().await.expect("an unread replica is named");
    assert_eq!(suggestion.action, SuggestionAction::RemoveReplica { rule_id: rule.id.clone(), source_location_id: f.location.clone(), replica_location_id: replica.id.clone() });
    let stored = locations::usage(c, s, &f.admin, &replica.id).await.unwrap().bytes_stored;
    assert!(stored > 0 && (suggestion.estimated_savings - stored as f64 / 1e9 * 5.0).abs() < 1e-12, "{suggestion:?} for {stored} bytes");
    assert!(suggestion.description.starts_with("far replica: a copy of disk "), "{}", suggestion.description);

    // The backup's snapshot is lost at its own location: the restore reads the replica.
    let own = std::path::PathBuf::from(locations::get(c, &f.admin, &f.location).await.unwrap().path_prefix.unwrap());
    let snapshot = executions::get(c, &f.admin, &f.execution).await.unwrap().snapshot_id.unwrap();
    let lost = own.join("snapshots").join(&snapshot);
    let aside = own.join(format!("{snapshot}.aside"));
    std::fs::rename(&lost, &aside).unwrap();
    let asked = jobs::request(c, s, &restore_targets(), &f.operator, f.request("staging", "stage-files/from-replica")).await.unwrap();
    f.run_queued().await;
    let done = jobs::get(c, &f.admin, &asked.restoration_id).await.unwrap();
    assert_eq!(done.status, RestorationStatus::Completed, "{:?}", done.error_message);
    assert_eq!(f.restored("stage-files/from-replica"), owned(ORIGINAL));
    // It was verified first where it was read; the backup's own copy stays unverified.
    assert_eq!(executions::get(c, &f.admin, &f.execution).await.unwrap().verification_status, None);
    std::fs::rename(&aside, &lost).unwrap();
    assert_eq!(named().await, None, "a replica a restore read is kept");
}
