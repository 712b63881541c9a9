//! Server tests: the whole router in process (REST API, guards, server-function statuses),
//! on both catalog backends, and the CLI binary.

mod alerts;
mod api;
mod pitr;
mod fuzz;
mod roles;
mod cli;
mod drill_kill;
mod monitoring;
mod nodes;
mod downloads;
mod openapi;
mod recovery;
mod restoration;
mod restore_targets;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use bulwark_core::platform::accounts::tokens::{self, NewToken};
use bulwark_core::platform::accounts::users::{self, NewUser};
use bulwark_core::platform::auth::{Principal, Role};
use bulwark_core::platform::catalog::Catalog;
use bulwark_server::router::{SessionSettings, router};
use bulwark_server::state::{AppState, HttpMetrics};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Each `async fn case(app: TestApp)` on a SQLite and on a PostgreSQL catalog.
#[macro_export]
macro_rules! on_both_catalogs {
    ($($case:ident),* $(,)?) => {
        bulwark_testkit::on_both_catalogs!(open = $crate::TestApp::new; $($case),*);
    };
}

pub struct TestApp {
    pub catalog: Catalog,
    pub secrets: bulwark_core::platform::secrets::SecretBox,
    pub router: Router,
    /// What the router was built from, to build another with other settings.
    pub state: AppState,
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl TestApp {
    pub async fn new(url: String) -> TestApp {
        let catalog = Catalog::open(&url).await.expect("open catalog");
        let leptos_options = leptos::config::LeptosOptions::builder().output_name("bulwark").build();
        let secrets = bulwark_core::platform::secrets::SecretBox::new(bulwark_core::engine::repo::crypto::Key::random());
        let state = AppState { catalog: catalog.clone(), secrets: secrets.clone(), targets: Arc::new(restore_targets()), leptos_options, public_metrics: false, metrics: Arc::new(HttpMetrics::default()) };
        let router = router(state.clone(), SessionSettings { secure: false, idle_minutes: 30 });
        tokio::spawn(run_restorations(catalog.clone(), secrets.clone(), state.targets.clone()));
        TestApp { catalog, secrets, router, state }
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.expect("router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
        Reply { status, headers, body }
    }

    /// [`TestApp::send`], but a stream of server-sent events is read only to its first event:
    /// the dashboard's lasts as long as the page that follows it.
    pub async fn send_to_first_event(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.expect("router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        let streaming = headers.get(axum::http::header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let body = if streaming {
            let frame = response.into_body().frame().await;
            frame.and_then(Result::ok).and_then(|f| f.into_data().ok()).map(|d| d.to_vec()).unwrap_or_default()
        } else {
            response.into_body().collect().await.expect("body").to_bytes().to_vec()
        };
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    pub async fn json(&self, method: &str, path: &str, token: &str, body: &str) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    /// A user with a password and an API token of the same role.
    pub async fn user_with_token(&self, name: &str, role: Role) -> (Principal, String) {
        let u = users::create_from_cli(
            &self.catalog,
            NewUser { username: name.into(), password: Some(format!("{name}-password-123")), role },
        )
        .await
        .unwrap();
        let p = Principal { user_id: u.id, username: u.username, role, token_id: None, scope: None };
        let t = tokens::create(&self.catalog, &p, NewToken { name: "test".into(), role: None, expires_in_days: None }).await.unwrap();
        (p, t.secret)
    }
}

/// Where the tests' restores may write: below this process's scratch root, and to the test
/// clusters on loopback.
/// A worker for restoration jobs only, as a node's pool would run them: the restore doors wait
/// for their job, while the tests run every other queued job themselves, when they choose.
async fn run_restorations(catalog: Catalog, secrets: bulwark_core::platform::secrets::SecretBox, targets: Arc<bulwark_core::restores::Targets>) {
    use bulwark_core::restoration::jobs::{self, JOB_KIND};
    loop {
        let queued: Vec<(String, String)> = match sqlx::query_as("SELECT id, payload FROM jobs WHERE state = 'queued' AND kind = $1").bind(JOB_KIND).fetch_all(catalog.pool()).await {
            Ok(queued) => queued,
            Err(_) => return,
        };
        for (id, payload) in queued {
            let taken = sqlx::query("UPDATE jobs SET state = 'running' WHERE id = $1 AND state = 'queued'").bind(&id).execute(catalog.pool()).await;
            if taken.map(|t| t.rows_affected()).unwrap_or(0) != 1 {
                continue;
            }
            let payload: serde_json::Value = serde_json::from_str(&payload).unwrap_or_default();
            jobs::run(&catalog, &secrets, &targets, payload["restorationId"].as_str().unwrap_or_default(), Default::default()).await.unwrap();
            let _ = sqlx::query("UPDATE jobs SET state = 'succeeded' WHERE id = $1").bind(&id).execute(catalog.pool()).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

pub fn restore_targets() -> bulwark_core::restores::Targets {
    bulwark_core::restores::Targets::new(&[bulwark_testkit::process_root().to_path_buf()], &["127.0.0.1".into(), "localhost".into()]).unwrap()
}
