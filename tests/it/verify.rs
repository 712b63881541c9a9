//! Verification reads a backup back whole: a sound one is `verified`; a flipped byte in a
//! pack fails it, names the damaged file, and raises one deduplicated alert.

use bulwark_types::TestStatus;
use bulwark_core::platform::auth::Role;
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::configurations::{self, NewConfiguration};
use bulwark_core::error::{Classify, Kind};
use bulwark_core::executions;
use bulwark_core::engine::repo::crypto::Key;
use bulwark_core::platform::secrets::SecretBox;
use bulwark_core::verify;

use crate::{on_both_catalogs, user};

on_both_catalogs!(a_backup_is_read_back_and_damage_is_named);

/// Verification used to stop for ever after 256 files (its reading thread started only once the
/// walk had filled the 4-batch channel); every walk over a wide, deep tree must finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wide_trees_verify_restore_and_test_to_the_end() {
    let catalog = Catalog::open(&bulwark_testkit::sqlite_url()).await.unwrap();
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let location = crate::executions::location(&catalog, &secrets, &admin).await;
    let source = bulwark_testkit::temp_dir("wide-src");
    const FILES: usize = 3000;
    for i in 0..FILES {
        let dir = source.join(format!("d{}/e{}", i % 20, i % 7));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("f{i}.txt")), format!("file {i}\n")).unwrap();
    }
    let new: NewConfiguration = serde_json::from_value(serde_json::json!({
        "name": "wide", "sourceType": "filesystem", "sourceIdentifier": source.to_str().unwrap(), "storageLocationIds": [location],
    }))
    .unwrap();
    let c = configurations::create(&catalog, &secrets, &admin, new).await.unwrap();
    let e = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
    bulwark_core::orchestration::backup::run(&catalog, &secrets, &e.id, Default::default()).await.unwrap();
    let limit = std::time::Duration::from_secs(120);

    let verified = tokio::time::timeout(limit, verify::verify_execution(&catalog, &secrets, &admin, &e.id)).await.expect("verification finishes").unwrap();
    assert_eq!((verified.status.as_str(), verified.files), ("verified", FILES as u64));

    let target = bulwark_testkit::temp_dir("wide-dst");
    let request = bulwark_core::sources::filesystem::DirectoryRestore { target_path: target.display().to_string(), include: vec![], skip_unreadable: false };
    let targets = crate::restore_targets();
    let restore = bulwark_core::sources::filesystem::restore_directory(&catalog, &secrets, &targets, &admin, &e.id, request);
    tokio::time::timeout(limit, restore).await.expect("the restore finishes").unwrap();
    assert_eq!(files(&target).len(), FILES);
    for i in [0, 255, 256, 257, 1999, FILES - 1] {
        let path = format!("d{}/e{}/f{i}.txt", i % 20, i % 7);
        assert_eq!(std::fs::read_to_string(target.join(&path)).unwrap(), format!("file {i}\n"), "{path}");
    }

    // The repository check and the snapshot browser walk the same tree.
    let repo = bulwark_core::locations::open_repository(&catalog, &secrets, &location).await.unwrap();
    let checked = tokio::time::timeout(limit, bulwark_core::engine::repo::check::check(&repo, true)).await.expect("the check finishes").unwrap();
    assert!(checked.is_ok(), "{:?}", checked.errors);
    let snapshot = executions::get(&catalog, &admin, &e.id).await.unwrap().snapshot_id.unwrap();
    let listed = bulwark_core::locations::browse(&catalog, &secrets, &admin, &location, &snapshot, "d3/e4").await.unwrap();
    assert_eq!(listed.len(), (0..FILES).filter(|i| i % 20 == 3 && i % 7 == 4).count());

    let test = bulwark_core::restore_tests::schedule(&catalog, &admin, bulwark_core::restore_tests::ScheduleTest { execution_id: Some(e.id.clone()), ..Default::default() }).await.unwrap().remove(0);
    let tested = tokio::time::timeout(limit, bulwark_core::orchestration::restore_test::run(&catalog, &secrets, &test.id)).await.expect("the restore test finishes").unwrap();
    assert_eq!(tested.status, TestStatus::Passed, "{:?}", tested);
}

/// Every file under `dir`, recursively.
fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(files(&path)) } else { out.push(path) }
    }
    out
}

async fn a_backup_is_read_back_and_damage_is_named(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let viewer = user(&catalog, "viewer", Role::Viewer).await;
    let repo_dir = bulwark_testkit::temp_dir("verify-loc");
    let location = bulwark_core::locations::create(
        &catalog,
        &secrets,
        &admin,
        bulwark_core::locations::NewLocation {
            location_name: "verify disk".into(),
            storage_type: "primary".into(),
            provider: "local".into(),
            path_prefix: Some(repo_dir.join("repo").display().to_string()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    bulwark_core::locations::init_repository(&catalog, &secrets, &admin, &location.id).await.unwrap();
    let source = bulwark_testkit::temp_dir("verify-src");
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let big: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(source.join("a.bin"), &big).unwrap();
    std::fs::write(source.join("b.txt"), "small and separate\n").unwrap();
    let new: NewConfiguration = serde_json::from_value(serde_json::json!({
        "name": "verified", "sourceType": "filesystem", "sourceIdentifier": source.to_str().unwrap(), "storageLocationIds": [location.id],
    }))
    .unwrap();
    let c = configurations::create(&catalog, &secrets, &admin, new).await.unwrap();
    let e = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
    bulwark_core::orchestration::backup::run(&catalog, &secrets, &e.id, Default::default()).await.unwrap();
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'verify' AND subject_id = $1").bind(&e.id).fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(queued, 1, "each completed backup queues its verification");

    assert_eq!(verify::verify_execution(&catalog, &secrets, &viewer, &e.id).await.unwrap_err().kind(), Kind::Forbidden);
    let sound = verify::verify_execution(&catalog, &secrets, &admin, &e.id).await.unwrap();
    assert_eq!((sound.status.as_str(), sound.files, sound.bytes), ("verified", 2, big.len() as u64 + 19));
    let row = executions::get(&catalog, &viewer, &e.id).await.unwrap();
    assert_eq!(row.verification_status.as_deref(), Some("verified"));
    assert!(row.verified_at.is_some());

    // One flipped byte in the middle of the biggest pack: inside a chunk of a.bin.
    let pack = files(&repo_dir.join("repo")).into_iter().filter(|p| p.to_string_lossy().contains("pack")).max_by_key(|p| std::fs::metadata(p).unwrap().len()).unwrap();
    let mut bytes = std::fs::read(&pack).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&pack, &bytes).unwrap();
    let damaged = verify::verify_execution(&catalog, &secrets, &admin, &e.id).await.unwrap();
    assert_eq!(damaged.status, "failed");
    assert_eq!(damaged.problems.len(), 1, "{:?}", damaged.problems);
    assert!(damaged.problems[0].starts_with("a.bin: "), "{:?}", damaged.problems);
    assert_eq!(executions::get(&catalog, &viewer, &e.id).await.unwrap().verification_status.as_deref(), Some("failed"));
    verify::verify_execution(&catalog, &secrets, &admin, &e.id).await.unwrap();
    let alerts: Vec<(String, String, i64, String)> =
        sqlx::query_as("SELECT alert_type, severity, occurrences, dedup_hash FROM backup_monitoring_alerts").fetch_all(catalog.pool()).await.unwrap();
    assert_eq!(alerts.len(), 1, "one alert, counted twice: {alerts:?}");
    assert_eq!((alerts[0].0.as_str(), alerts[0].1.as_str(), alerts[0].2), ("verification_failed", "critical", 2));
    assert_eq!(alerts[0].3, bulwark_core::alerts::dedup_hash(bulwark_core::alerts::AlertType::VerificationFailed, &format!("backup_execution:{}", e.id)));

    // Repaired, the next verification clears the alert.
    bytes[middle] ^= 0x01;
    std::fs::write(&pack, &bytes).unwrap();
    assert_eq!(verify::verify_execution(&catalog, &secrets, &admin, &e.id).await.unwrap().status, "verified");
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM backup_monitoring_alerts WHERE status <> 'resolved'").fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(open, 0);
}
