//! Configuration and environment files: a round trip, a diff against the files as they are
//! now naming keys but never values, and no secret value in anything Bulwark shows.

use bulwark_core::executions::ExecutionStatus;
use bulwark_core::platform::auth::Role;
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::config_files;
use bulwark_core::configurations::{self, NewConfiguration};
use bulwark_core::error::Classify;
use bulwark_core::executions;
use bulwark_core::engine::repo::crypto::Key;
    use bulwark_core::sources::filesystem::DirectoryRestore;
use bulwark_core::platform::secrets::SecretBox;

use crate::executions::location;
use crate::{on_both_catalogs, user};

on_both_catalogs!(configuration_files_round_trip_and_diff_without_values);

const SECRETS: [&str; 4] = ["SuperSecret1", "sk_live_abc123", "hunter2", "sk_live_NEW999"];

async fn configuration_files_round_trip_and_diff_without_values(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let loc = location(&catalog, &secrets, &admin).await;
    let source = bulwark_testkit::temp_dir("config-src");
    std::fs::write(source.join(".env"), "DATABASE_URL=postgres://app:SuperSecret1@db/app\nexport API_KEY=\"sk_live_abc123\"\nDEBUG=false\n").unwrap();
    std::fs::create_dir_all(source.join("config")).unwrap();
    std::fs::write(source.join("config/app.yaml"), "database:\n  password: hunter2\n").unwrap();
    std::fs::write(source.join("config/unchanged.toml"), "workers = 4\n").unwrap();

    let new = |name: &str, path: &std::path::Path| -> NewConfiguration {
        serde_json::from_value(serde_json::json!({
            "name": name, "sourceType": "environment_vars", "sourceIdentifier": path, "storageLocationIds": [loc],
        }))
        .unwrap()
    };
    let relative = NewConfiguration { source_identifier: "relative/.env".into(), ..new("x", &source) };
    assert!(configurations::create(&catalog, &secrets, &admin, relative).await.unwrap_err().to_string().starts_with("sourceIdentifier:"));
    let config = configurations::create(&catalog, &secrets, &admin, new("app config", &source)).await.unwrap();
    let started = executions::start(&catalog, &admin, &config.id, "manual").await.unwrap();
    bulwark_core::orchestration::backup::run(&catalog, &secrets, &started.id, Default::default()).await.unwrap();
    let execution = executions::get(&catalog, &admin, &started.id).await.unwrap();
    assert_eq!(execution.status, ExecutionStatus::Completed);
    let shown = serde_json::to_string(&execution).unwrap();
    assert!(shown.contains("\"API_KEY\"") && shown.contains("\"DATABASE_URL\""), "key names are recorded: {shown}");

    // Nothing changed yet.
    let same = config_files::diff(&catalog, &secrets, &admin, &execution.id).await.unwrap();
    assert_eq!(same.differences, 0, "{same:?}");

    // One key changed, one added, one removed; the YAML edited; a file added.
    std::fs::write(source.join(".env"), "DATABASE_URL=postgres://app:SuperSecret1@db/app\nAPI_KEY=sk_live_NEW999\nNEW_FLAG=1\n").unwrap();
    std::fs::write(source.join("config/app.yaml"), "database:\n  password: hunter3\n").unwrap();
    std::fs::write(source.join("config/extra.env"), "TOKEN=tok_ZZZ777\n").unwrap();
    let diff = config_files::diff(&catalog, &secrets, &admin, &execution.id).await.unwrap();
    let by_path = |p: &str| diff.files.iter().find(|f| f.path == p).unwrap().clone();
    let env = by_path(".env");
    assert_eq!(env.status, "changed");
    let keys = env.keys.unwrap();
    assert_eq!((keys.added, keys.removed, keys.changed), (vec!["NEW_FLAG".to_string()], vec!["DEBUG".to_string()], vec!["API_KEY".to_string()]));
    assert_eq!((by_path("config/app.yaml").status, by_path("config/app.yaml").keys), ("changed", None));
    assert_eq!(by_path("config/unchanged.toml").status, "unchanged");
    assert_eq!(by_path("config/extra.env").status, "added");
    assert_eq!(diff.differences, 3);
    let shown = serde_json::to_string(&diff).unwrap() + &serde_json::to_string(&executions::get(&catalog, &admin, &execution.id).await.unwrap()).unwrap();
    for secret in SECRETS.iter().chain(["hunter3", "tok_ZZZ777"].iter()) {
        assert!(!shown.contains(secret), "{secret} must never be shown: {shown}");
    }

    // Their values leave the backup only for an admin: an operator may neither restore nor
    // download them.
    let operator = user(&catalog, "ops", Role::Operator).await;
    let target = bulwark_testkit::temp_dir("config-dst");
    let request = DirectoryRestore { target_path: target.display().to_string(), include: vec![], skip_unreadable: false };
    let refused = bulwark_core::sources::filesystem::restore_directory(&catalog, &secrets, &crate::restore_targets(), &operator, &execution.id, request.clone()).await.unwrap_err();
    assert_eq!(refused.kind(), bulwark_core::error::Kind::Forbidden, "{refused}");
    assert!(!target.join(".env").exists());
    let (location, snapshot) = (execution.storage_location_id.clone().unwrap(), execution.snapshot_id.clone().unwrap());
    let download = bulwark_core::locations::download(&catalog, &secrets, &operator, &location, &snapshot, ".env").await.unwrap_err();
    assert_eq!(download.kind(), bulwark_core::error::Kind::Forbidden, "{download}");
    let file = bulwark_core::locations::download(&catalog, &secrets, &admin, &location, &snapshot, ".env").await.unwrap();
    let bytes = futures_util::TryStreamExt::try_concat(file.chunks).await.unwrap();
    assert!(String::from_utf8(bytes).unwrap().contains("sk_live_abc123"));

    // The backup restores the files as they were, byte for byte.
    bulwark_core::sources::filesystem::restore_directory(&catalog, &secrets, &crate::restore_targets(), &admin, &execution.id, request).await.unwrap();
    assert_eq!(std::fs::read_to_string(target.join(".env")).unwrap(), "DATABASE_URL=postgres://app:SuperSecret1@db/app\nexport API_KEY=\"sk_live_abc123\"\nDEBUG=false\n");
    assert_eq!(std::fs::read_to_string(target.join("config/app.yaml")).unwrap(), "database:\n  password: hunter2\n");
    assert!(!target.join("config/extra.env").exists());

    // A single .env file is a source too.
    let single = configurations::create(&catalog, &secrets, &admin, new("one env file", &source.join(".env"))).await.unwrap();
    let started = executions::start(&catalog, &admin, &single.id, "manual").await.unwrap();
    bulwark_core::orchestration::backup::run(&catalog, &secrets, &started.id, Default::default()).await.unwrap();
    assert_eq!(config_files::diff(&catalog, &secrets, &admin, &started.id).await.unwrap().differences, 0);
    std::fs::remove_file(source.join(".env")).unwrap();
    let gone = config_files::diff(&catalog, &secrets, &admin, &started.id).await.unwrap();
    assert_eq!((gone.files.len(), gone.files[0].status), (1, "removed"));
    assert_eq!(gone.files[0].keys.as_ref().unwrap().removed, ["API_KEY", "DATABASE_URL", "NEW_FLAG"]);
    let back = bulwark_testkit::temp_dir("config-one");
    let request = DirectoryRestore { target_path: back.display().to_string(), include: vec![], skip_unreadable: false };
    bulwark_core::sources::filesystem::restore_directory(&catalog, &secrets, &crate::restore_targets(), &admin, &started.id, request).await.unwrap();
    assert_eq!(std::fs::read_to_string(back.join(".env")).unwrap(), "DATABASE_URL=postgres://app:SuperSecret1@db/app\nAPI_KEY=sk_live_NEW999\nNEW_FLAG=1\n");
}
