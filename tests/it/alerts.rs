//! Alerts that live: a failed backup raises backup_failed once (repeats counted on it), a
//! person acknowledges it, the configuration's next good backup resolves it with the reason
//! (an older good backup told late does not), the condition returning opens a new alert, a
//! person resolves one with notes; raising one condition twice at once is one alert; bad
//! filters and notes are refused with a sentence.

use bulwark_core::alerts::{self, AcknowledgeRequest, AlertStatus, AlertType, Condition, Filter, ResolveRequest, Severity};
use bulwark_core::configurations::{self, NewConfiguration};
use bulwark_core::engine::repo::crypto::Key;
use bulwark_core::error::{Classify, Kind};
use bulwark_core::executions;
use bulwark_core::platform::auth::Role;
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::platform::events;
use bulwark_core::platform::secrets::SecretBox;

use crate::{on_both_catalogs, run_queued, user};

on_both_catalogs!(a_failed_backup_raises_an_alert_that_lives, one_condition_raised_twice_at_once_is_one_alert);

async fn a_failed_backup_raises_an_alert_that_lives(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let operator = user(&catalog, "operator", Role::Operator).await;
    let viewer = user(&catalog, "viewer", Role::Viewer).await;
    let location = crate::executions::location(&catalog, &secrets, &admin).await;
    let source = bulwark_testkit::temp_dir("alerts-src");
    std::fs::write(source.join("a.txt"), "backed up").unwrap();
    let new: NewConfiguration =
        serde_json::from_value(serde_json::json!({ "name": "files", "sourceType": "filesystem", "sourceIdentifier": source, "storageLocationIds": [location] })).unwrap();
    let c = configurations::create(&catalog, &secrets, &admin, new).await.unwrap();
    let backup = async |ok: bool| {
        if !ok {
            std::fs::rename(&source, source.with_extension("gone")).unwrap();
        }
        let e = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
        let ran = bulwark_core::orchestration::backup::run(&catalog, &secrets, &e.id, Default::default()).await;
        assert_eq!(ran.is_ok(), ok, "{ran:?}");
        if !ok {
            std::fs::rename(source.with_extension("gone"), &source).unwrap();
        }
        run_queued(&catalog, &secrets, events::ALERT_BACKUPS).await;
        e.id
    };
    let active = Filter { status: Some("active".into()), ..Default::default() };

    let good = backup(true).await;
    assert!(alerts::list(&catalog, &viewer, &active).await.unwrap().is_empty(), "a good backup raises nothing");
    // What /metrics reports of it: one backup in the histogram, in one bucket, its bytes stored.
    let figures = bulwark_core::health::scrape::figures(&catalog).await.unwrap();
    let durations = &figures.backup_durations;
    assert_eq!((durations.count, durations.buckets.iter().map(|b| b.1).sum::<u64>()), (1, 1), "{durations:?}");
    assert_eq!(durations.buckets.last().map(|b| b.0), Some(f64::INFINITY));
    assert!(figures.stored_bytes.iter().any(|(_, bytes)| *bytes > 0), "{:?}", figures.stored_bytes);

    // A failure raises backup_failed about the configuration and the execution; a repeat is
    // counted on the same alert.
    let failed = backup(false).await;
    let open = alerts::list(&catalog, &viewer, &active).await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    let alert = &open[0];
    assert_eq!((alert.alert_type, alert.severity, alert.status), (AlertType::BackupFailed, Severity::High, AlertStatus::Open));
    assert_eq!((alert.backup_configuration_id.as_deref(), alert.backup_execution_id.as_deref()), (Some(c.id.as_str()), Some(failed.as_str())));
    assert!(alert.message.starts_with(&format!("backup {failed} of files failed: ")), "{}", alert.message);
    let again = backup(false).await;
    let counted = alerts::get(&catalog, &viewer, &alert.id).await.unwrap();
    assert_eq!((counted.occurrences, counted.backup_execution_id.as_deref()), (2, Some(again.as_str())));
    // Told again (delivery is at least once), late or not, a failure is counted once.
    bulwark_core::alerts::backups::on_backup_ended(&catalog, &again).await.unwrap();
    bulwark_core::alerts::backups::on_backup_ended(&catalog, &failed).await.unwrap();
    let once = alerts::get(&catalog, &viewer, &alert.id).await.unwrap();
    assert_eq!((once.occurrences, once.backup_execution_id.as_deref()), (2, Some(again.as_str())));

    // Acknowledged by an operator (not a viewer), once.
    let refused = alerts::acknowledge(&catalog, &viewer, &alert.id, &AcknowledgeRequest::default()).await.unwrap_err();
    assert_eq!(refused.kind(), Kind::Forbidden);
    let taken = alerts::acknowledge(&catalog, &operator, &alert.id, &AcknowledgeRequest { notes: Some("looking at the disk".into()) }).await.unwrap();
    assert_eq!((taken.status, taken.acknowledged, taken.acknowledged_by.as_deref()), (AlertStatus::Acknowledged, true, Some("operator")));
    assert_eq!(alerts::acknowledge(&catalog, &operator, &alert.id, &AcknowledgeRequest::default()).await.unwrap_err().kind(), Kind::Conflict);

    // The good backup from before the failures, told late, changes nothing; the next good one
    // resolves it, saying so.
    bulwark_core::alerts::backups::on_backup_ended(&catalog, &good).await.unwrap();
    assert_eq!(alerts::get(&catalog, &viewer, &alert.id).await.unwrap().status, AlertStatus::Acknowledged);
    let fixed = backup(true).await;
    let resolved = alerts::get(&catalog, &viewer, &alert.id).await.unwrap();
    assert_eq!(resolved.status, AlertStatus::Resolved);
    assert!(resolved.resolved_at.is_some() && resolved.resolution_notes.as_deref().unwrap().starts_with(&format!("backup {fixed} of files completed at ")), "{resolved:?}");
    let steps = alerts::history::of(&catalog, &viewer, &alert.id).await.unwrap().events;
    assert_eq!(steps.last().map(|e| e.kind.as_str()), Some("resolved"), "the resolution is in the alert's history");
    // The failures, told again (at least once), do not reopen it: a later backup completed.
    bulwark_core::alerts::backups::on_backup_ended(&catalog, &again).await.unwrap();
    assert!(alerts::list(&catalog, &viewer, &active).await.unwrap().is_empty());

    // The condition returning is a new alert; a person resolves it with notes, and the same
    // failure told again does not open it anew.
    let third = backup(false).await;
    let reopened = alerts::list(&catalog, &viewer, &active).await.unwrap();
    assert_eq!(reopened.len(), 1);
    assert!(reopened[0].id != alert.id && reopened[0].occurrences == 1);
    let empty = alerts::close(&catalog, &operator, &reopened[0].id, &ResolveRequest::default()).await.unwrap_err();
    assert_eq!((empty.kind(), empty.to_string()), (Kind::Invalid, "resolutionNotes: say why it is resolved".to_string()));
    let closed = alerts::close(&catalog, &operator, &reopened[0].id, &ResolveRequest { resolution_notes: "source moved on purpose".into() }).await.unwrap();
    assert_eq!((closed.status, closed.resolved_by.as_deref(), closed.resolution_notes.as_deref()), (AlertStatus::Resolved, Some("operator"), Some("source moved on purpose")));
    bulwark_core::alerts::backups::on_backup_ended(&catalog, &third).await.unwrap();
    assert!(alerts::list(&catalog, &viewer, &active).await.unwrap().is_empty(), "a hand-resolved failure told again stays resolved");

    // Filters: by type and status; a severity that does not exist is refused.
    let all = alerts::list(&catalog, &viewer, &Filter { alert_type: Some("backup_failed".into()), ..Default::default() }).await.unwrap();
    assert_eq!(all.len(), 2);
    let resolved = alerts::list(&catalog, &viewer, &Filter { status: Some("resolved".into()), configuration_id: Some(c.id.clone()), ..Default::default() }).await.unwrap();
    assert_eq!(resolved.len(), 2);
    let bad = alerts::list(&catalog, &viewer, &Filter { severity: Some("dire".into()), ..Default::default() }).await.unwrap_err();
    assert_eq!((bad.kind(), bad.to_string()), (Kind::Invalid, "severity: one of critical, high, medium, low, not \"dire\"".to_string()));
}

async fn one_condition_raised_twice_at_once_is_one_alert(catalog: Catalog) {
    let viewer = user(&catalog, "viewer", Role::Viewer).await;
    let condition = Condition { alert_type: AlertType::LocationUnreachable, severity: Severity::High, subject: "storage_location:x", message: "gone", configuration_id: None, execution_id: None };
    let (a, b) = tokio::join!(alerts::raise_condition(&catalog, &condition), alerts::raise_condition(&catalog, &condition));
    assert_eq!(a.unwrap(), b.unwrap());
    let open = alerts::list(&catalog, &viewer, &Filter::default()).await.unwrap();
    assert_eq!((open.len(), open[0].occurrences), (1, 2));
    assert!(alerts::resolve(&catalog, AlertType::LocationUnreachable, "storage_location:x", "it answered").await.unwrap());
    assert_eq!(alerts::get(&catalog, &viewer, &open[0].id).await.unwrap().resolution_notes.as_deref(), Some("it answered"));
}
