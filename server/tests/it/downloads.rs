//! File downloads stream: a file leaves the repository a chunk at a time, byte for byte, whatever
//! its size (it used to be read whole, refused above 256 MiB), and damage found on the way cuts
//! the transfer off instead of finishing a wrong file.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bulwark_core::platform::auth::Role;
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use crate::TestApp;

/// Several chunks in one data pack.
const SIZE: usize = 12 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_stream_files_of_any_size_and_stop_at_damage() {
    let app = TestApp::new(bulwark_testkit::sqlite_url()).await;
    let (_, admin) = app.user_with_token("root", Role::Admin).await;
    let locations = "/api/admin/backups/storage-locations";
    let repo = bulwark_testkit::temp_dir("download-repo").join("repo");
    let body = serde_json::json!({ "locationName": "disk", "storageType": "primary", "provider": "local", "pathPrefix": repo }).to_string();
    let location = app.json("POST", locations, &admin, &body).await.json()["id"].as_str().unwrap().to_string();
    assert_eq!(app.json("POST", &format!("{locations}/{location}/init"), &admin, "").await.status, StatusCode::CREATED);

    let source = bulwark_testkit::temp_dir("download-src");
    let mut data = vec![0u8; SIZE];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(source.join("big.bin"), &data).unwrap();
    let config = serde_json::json!({ "name": "big", "sourceType": "filesystem", "sourceIdentifier": source, "frequency": "daily", "storageLocationIds": [location] });
    let id = app.json("POST", "/api/admin/backups/configurations", &admin, &config.to_string()).await.json()["id"].as_str().unwrap().to_string();
    let execution = app.json("POST", &format!("/api/admin/backups/configurations/{id}/execute"), &admin, "").await.json()["id"].as_str().unwrap().to_string();
    bulwark_core::orchestration::backup::run(&app.catalog, &app.secrets, &execution, Default::default()).await.unwrap();
    let snapshot = app.get(&format!("/api/admin/backups/executions/{execution}"), Some(&admin)).await.json()["snapshotId"].as_str().unwrap().to_string();
    let url = format!("{locations}/{location}/snapshots/{snapshot}/file?path=big.bin");

    let response = download(&app, &url, &admin).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-length"], SIZE.to_string().as_str());
    let (bytes, digest, ended) = drain(response.into_body()).await;
    assert!(ended.is_ok(), "{ended:?}");
    assert_eq!((bytes, digest), (SIZE as u64, Sha256::digest(&data).to_vec()));

    // Damage in the file's last chunk: what comes before it has already left (the file was never
    // held whole), then the transfer stops with an error before the file's end.
    let largest = std::fs::read_dir(repo.join("packs"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut pack = std::fs::read(&largest).unwrap();
    let header = u32::from_le_bytes(pack[pack.len() - 4..].try_into().unwrap()) as usize;
    let in_last_blob = pack.len() - 4 - header - 64;
    pack[in_last_blob] ^= 0xff;
    std::fs::write(&largest, pack).unwrap();
    let response = download(&app, &url, &admin).await;
    assert_eq!(response.status(), StatusCode::OK, "the damage lies in the file's data, found while streaming");
    let (bytes, _, ended) = drain(response.into_body()).await;
    assert!(ended.is_err() && bytes > 0 && bytes < SIZE as u64, "streamed up to the damage, never whole ({bytes} bytes, {ended:?})");
}

async fn download(app: &TestApp, url: &str, token: &str) -> axum::response::Response {
    let request = Request::get(url).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap();
    app.router.clone().oneshot(request).await.unwrap()
}

/// Reads a body frame by frame, as a client would, keeping only its length and digest.
async fn drain(mut body: Body) -> (u64, Vec<u8>, Result<(), String>) {
    let (mut bytes, mut digest) = (0u64, Sha256::new());
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    bytes += data.len() as u64;
                    digest.update(data);
                }
            }
            Err(e) => return (bytes, digest.finalize().to_vec(), Err(e.to_string())),
        }
    }
    (bytes, digest.finalize().to_vec(), Ok(()))
}
