//! Storage cost against a real repository: two configurations sharing data are charged the
//! location's real bytes between them (each shared blob split, each own blob to its owner), the
//! requests and bytes the storage served are counted and priced, unreferenced data is a row of
//! its own and a prune suggestion whose saving is computed from the same bytes, a configuration
//! stored without compression and one whose backups are old get their suggestions, and bad
//! prices or periods are refused with a sentence.

use bulwark_core::configurations::{self, NewConfiguration};
use bulwark_core::cost::{analysis, prices, tracking, usage, Prices, SuggestionAction};
use bulwark_core::engine::repo::crypto::Key;
use bulwark_core::error::{Classify, Kind};
use bulwark_core::locations::{self, NewLocation};
use bulwark_core::platform::auth::Role;
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::platform::secrets::SecretBox;
use bulwark_core::executions;

use crate::{on_both_catalogs, user};

on_both_catalogs!(shared_data_is_charged_once_and_suggestions_follow_the_figures);

/// `lines` lines of text seeded by `seed`: compressible, and distinct between seeds.
fn text(seed: u64, lines: usize) -> Vec<u8> {
    (0..lines).flat_map(|n| format!("{seed:08} line {n:07} of a log that compresses well\n").into_bytes()).collect()
}

#[derive(sqlx::FromRow, Debug)]
struct Row {
    backup_configuration_id: Option<String>,
    storage_bytes: i64,
    storage_cost_usd: f64,
    request_cost_usd: f64,
    transfer_cost_usd: f64,
    total_cost_usd: f64,
    api_requests_count: i64,
}

/// Today's rows of `location`.
async fn rows(catalog: &Catalog, location: &str) -> Vec<Row> {
    sqlx::query_as("SELECT backup_configuration_id, storage_bytes, storage_cost_usd, request_cost_usd, transfer_cost_usd, total_cost_usd, api_requests_count FROM backup_cost_tracking WHERE storage_location_id = $1 AND tracking_period_start = $2 ORDER BY storage_bytes DESC")
        .bind(location)
        .bind(chrono::Utc::now().date_naive().to_string())
        .fetch_all(catalog.pool())
        .await
        .unwrap()
}

async fn shared_data_is_charged_once_and_suggestions_follow_the_figures(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let dir = bulwark_testkit::temp_dir("cost");
    let new_location = |name: &str, price: f64| NewLocation {
        location_name: name.into(),
        storage_type: "primary".into(),
        provider: "local".into(),
        path_prefix: Some(dir.join(name).display().to_string()),
        cost_per_gb_month: Some(price),
        cost_per_1k_requests: Some(10.0),
        cost_per_gb_transfer: Some(100.0),
        ..Default::default()
    };
    let bad = locations::create(&catalog, &secrets, &admin, NewLocation { cost_per_1k_requests: Some(-0.5), ..new_location("bad", 1.0) }).await.unwrap_err();
    assert_eq!(bad.to_string(), "costPer1kRequests: a price from 0 to 1,000 per 1,000 requests");
    let hot = locations::create(&catalog, &secrets, &admin, new_location("hot", 1000.0)).await.unwrap();
    locations::init_repository(&catalog, &secrets, &admin, &hot.id).await.unwrap();
    let cold = locations::create(&catalog, &secrets, &admin, new_location("cold", 1.0)).await.unwrap();
    locations::init_repository(&catalog, &secrets, &admin, &cold.id).await.unwrap();

    // Two sources sharing one file, each with one of its own; a third stored uncompressed.
    let source = |name: &str, files: &[(&str, Vec<u8>)]| {
        let path = dir.join(name);
        std::fs::create_dir_all(&path).unwrap();
        for (file, bytes) in files {
            std::fs::write(path.join(file), bytes).unwrap();
        }
        path
    };
    let shared = bulwark_testkit::noise(1, 3 << 20);
    let a_dir = source("a-src", &[("shared.bin", shared.clone()), ("own.bin", bulwark_testkit::noise(10, 2 << 20)), ("log.txt", text(1, 40_000))]);
    let b_dir = source("b-src", &[("shared.bin", shared), ("own.bin", bulwark_testkit::noise(20, 1 << 20))]);
    let c_dir = source("c-src", &[("log.txt", text(9, 40_000))]);
    let configure = async |name: &str, path: &std::path::Path, compression: &str| {
        let new: NewConfiguration = serde_json::from_value(serde_json::json!({
            "name": name, "sourceType": "filesystem", "sourceIdentifier": path.to_str().unwrap(), "storageLocationIds": [hot.id], "compression": compression,
        }))
        .unwrap();
        let c = configurations::create(&catalog, &secrets, &admin, new).await.unwrap();
        let e = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
        bulwark_core::orchestration::backup::run(&catalog, &secrets, &e.id, Default::default()).await.unwrap();
        (c.id, e.id)
    };
    let (a, a_run) = configure("alpha", &a_dir, "zstd").await;
    let (b, b_run) = configure("beta", &b_dir, "zstd").await;
    let (c, _) = configure("gamma", &c_dir, "none").await;
    // Alpha's backup is six weeks old: a colder location would keep it for less.
    let weeks_ago = bulwark_core::platform::time::to_text(chrono::Utc::now() - chrono::Duration::days(42));
    sqlx::query("UPDATE backup_executions SET completed_at = $1, started_at = $1 WHERE id = $2").bind(&weeks_ago).bind(&a_run).execute(catalog.pool()).await.unwrap();

    let tracked = tracking::track_now(&catalog, &secrets, &admin).await.unwrap();
    assert_eq!(tracked.skipped, Vec::<String>::new());
    let stored = locations::usage(&catalog, &secrets, &admin, &hot.id).await.unwrap().bytes_stored as i64;
    let today = rows(&catalog, &hot.id).await;
    assert_eq!(today.iter().map(|r| r.storage_bytes).sum::<i64>(), stored, "the rows sum to what the location stores: {today:?}");
    let of = |id: &str| today.iter().find(|r| r.backup_configuration_id.as_deref() == Some(id)).unwrap_or_else(|| panic!("no row for {id}: {today:?}"));
    let (ra, rb, rc) = (of(&a), of(&b), of(&c));
    assert_eq!(today.len(), 3, "nothing unreferenced yet: {today:?}");
    // Beta's own megabyte plus half the shared three: 2.5 MB of noise; alpha's own two plus
    // half the shared: 3.5 MB and its compressed log.
    let mb = 1_048_576.0;
    assert!((rb.storage_bytes as f64 / mb - 2.5).abs() < 0.1, "{rb:?}");
    assert!(ra.storage_bytes as f64 / mb > 3.5 && (ra.storage_bytes as f64 / mb) < 3.7, "{ra:?}");
    assert!(rc.storage_bytes as f64 > 40_000.0 * 40.0 * 0.9, "uncompressed: {rc:?}");
    for r in &today {
        assert!((r.storage_cost_usd - r.storage_bytes as f64 / 1e9 * 1000.0 / 30.0).abs() < 1e-9, "{r:?}");
        assert!((r.total_cost_usd - (r.storage_cost_usd + r.request_cost_usd + r.transfer_cost_usd)).abs() < 1e-9);
    }
    // The storage's requests were counted and persisted, and priced.
    let day = chrono::Utc::now().date_naive().to_string();
    let served = usage::of_day(&catalog, &hot.id, &day).await.unwrap();
    assert!(served.requests > 10 && served.bytes_in as i64 >= stored - 4096, "{served:?}");
    let counted: i64 = today.iter().map(|r| r.api_requests_count).sum();
    assert!((counted - served.requests as i64).abs() <= 3, "{counted} of {served:?}");
    assert!(today.iter().map(|r| r.request_cost_usd).sum::<f64>() > 0.0);

    let analysis = analysis::cost_analysis(&catalog, &admin, Some("7d"), true).await.unwrap();
    let kinds: Vec<(&str, &SuggestionAction)> = analysis.optimization_suggestions.iter().map(|s| (s.kind.as_str(), &s.action)).collect();
    assert!(kinds.contains(&("raise_compression", &SuggestionAction::EditConfiguration { configuration_id: c.clone(), field: "compression".into() })), "{kinds:?}");
    let colder = analysis.optimization_suggestions.iter().find(|s| s.kind == "cold_tier").expect("a colder tier for alpha's old backup");
    assert!((colder.estimated_savings - ra.storage_bytes as f64 / 1e9 * (1000.0 - 1.0)).abs() < 1e-9, "{colder:?}");
    assert!(colder.description.starts_with("alpha: 1 of its 1 backups on hot are older than 30 days; on cold"), "{}", colder.description);

    // Yesterday's rows were written while the day still ran: tracking today prices its final
    // requests and transfer (here: 5,000 requests and 2 GB read out after it was tracked).
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Duration::days(1)).to_string();
    sqlx::query("UPDATE backup_cost_tracking SET tracking_period_start = $1, tracking_period_end = $1 WHERE storage_location_id = $2").bind(&yesterday).bind(&hot.id).execute(catalog.pool()).await.unwrap();
    sqlx::query("INSERT INTO storage_usage (storage_location_id, day, requests, bytes_in, bytes_out) VALUES ($1, $2, 5000, 0, 2000000000)").bind(&hot.id).bind(&yesterday).execute(catalog.pool()).await.unwrap();
    tracking::track_now(&catalog, &secrets, &admin).await.unwrap();
    let settled: Vec<(i64, f64, f64, f64)> = sqlx::query_as("SELECT api_requests_count, request_cost_usd, transfer_cost_usd, storage_cost_usd FROM backup_cost_tracking WHERE tracking_period_start = $1 AND storage_location_id = $2")
        .bind(&yesterday)
        .bind(&hot.id)
        .fetch_all(catalog.pool())
        .await
        .unwrap();
    // Each row's share of the requests is a whole number: the sum is off by a rounding each.
    let requests: i64 = settled.iter().map(|r| r.0).sum();
    assert!((requests - 5000).abs() < settled.len() as i64, "{settled:?}");
    assert!((settled.iter().map(|r| r.1).sum::<f64>() - requests as f64 / 1000.0 * 10.0).abs() < 1e-6, "{settled:?}");
    assert!((settled.iter().map(|r| r.2).sum::<f64>() - 2.0 * 100.0).abs() < 1e-6, "{settled:?}");
    assert!((settled.iter().map(|r| r.3).sum::<f64>() - today.iter().map(|r| r.storage_cost_usd).sum::<f64>()).abs() < 1e-9, "storage stays as tracked");

    // Beta's backup forgotten (not yet pruned): its own data is unreferenced, the shared file
    // is alpha's alone.
    let repo = locations::open_repository(&catalog, &secrets, &hot.id).await.unwrap();
    let snapshot: String = sqlx::query_scalar("SELECT snapshot_id FROM backup_executions WHERE id = $1").bind(&b_run).fetch_one(catalog.pool()).await.unwrap();
    bulwark_core::engine::repo::prune::forget(&repo, &[snapshot]).await.unwrap();
    tracking::track_now(&catalog, &secrets, &admin).await.unwrap();
    let after = rows(&catalog, &hot.id).await;
    assert_eq!(after.iter().map(|r| r.storage_bytes).sum::<i64>(), locations::usage(&catalog, &secrets, &admin, &hot.id).await.unwrap().bytes_stored as i64);
    let unreferenced = after.iter().find(|r| r.backup_configuration_id.is_none()).expect("a row of unreferenced data");
    assert!((unreferenced.storage_bytes as f64 / mb - 1.0).abs() < 0.05, "beta's own megabyte: {unreferenced:?}");
    let alpha_now = after.iter().find(|r| r.backup_configuration_id.as_deref() == Some(&a)).unwrap();
    assert!(alpha_now.storage_bytes as f64 / mb > 5.0, "the shared file is alpha's alone now: {alpha_now:?}");
    let analysis = analysis::cost_analysis(&catalog, &admin, None, false).await.unwrap();
    assert!(analysis.cost_breakdown.is_none());
    let prune = analysis.optimization_suggestions.iter().find(|s| s.kind == "prune_unreferenced").expect("a prune suggestion");
    assert_eq!(prune.action, SuggestionAction::Prune { location_id: hot.id.clone() });
    assert!((prune.estimated_savings - unreferenced.storage_bytes as f64 / 1e9 * 1000.0).abs() < 2e-6, "{prune:?} vs {unreferenced:?}");

    // Done: the prune frees it, and the next rows have none.
    let pruned = locations::prune(&catalog, &secrets, &admin, &hot.id).await.unwrap();
    assert!(pruned.bytes_freed as f64 > 0.9 * mb, "{pruned:?}");
    tracking::track_now(&catalog, &secrets, &admin).await.unwrap();
    assert!(rows(&catalog, &hot.id).await.iter().all(|r| r.backup_configuration_id.is_some()));

    // Utilisation: the latest day, by location (a local disk's free space) and configuration.
    let u = analysis::utilization(&catalog, &admin, Some("30d"), Some("location")).await.unwrap();
    let hot_now: i64 = rows(&catalog, &hot.id).await.iter().map(|r| r.storage_bytes).sum();
    let hot_row = u.storage_by_location.iter().find(|l| l.location_id == hot.id).unwrap();
    assert_eq!(hot_row.storage_used, hot_now);
    assert!(hot_row.storage_available.is_some_and(|f| f > 0) && hot_row.utilization_percentage.is_some());
    assert!(u.storage_by_configuration.iter().any(|x| x.configuration_name == "alpha" && x.retention_compliance));
    assert_eq!(u.trend.len(), 2, "yesterday's and today's");
    assert_eq!(u.total_storage, u.trend[1].bytes);

    // Bad input: a sentence, nothing changed.
    let e = prices::set(&catalog, &admin, &hot.id, &Prices { cost_per_gb_month: Some(-1.0), ..Default::default() }).await.unwrap_err();
    assert_eq!((e.kind(), e.to_string().as_str()), (Kind::Invalid, "costPerGbMonth: a price from 0 to 1,000 per GB-month"));
    assert_eq!(prices::get(&catalog, &hot.id).await.unwrap().cost_per_gb_month, Some(1000.0));
    assert_eq!(analysis::cost_analysis(&catalog, &admin, Some("1y"), false).await.unwrap_err().to_string(), "period: \"1y\" is not one of 7d, 30d, 90d");
    assert_eq!(analysis::utilization(&catalog, &admin, None, Some("team")).await.unwrap_err().to_string(), "groupBy: \"team\" is not location or configuration");
    let viewer = user(&catalog, "viewer", Role::Viewer).await;
    assert_eq!(prices::set(&catalog, &viewer, &hot.id, &Prices::default()).await.unwrap_err().kind(), Kind::Forbidden);
}
