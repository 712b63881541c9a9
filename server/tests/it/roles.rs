//! The role matrix: every REST route (read from the router's source) and every registered
//! server function, called with no credentials, a session of each role, an API token of each
//! role and a narrow WAL-push token, answers as its entry in the matrix says. A route or server
//! function without an entry, or an entry without a route, fails here.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bulwark_core::platform::accounts::tokens::{self, NewToken};
use bulwark_core::platform::auth::Role;
use bulwark_core::platform::sessions::{self, SessionRow};
use bulwark_server::api::access::{Access, ROUTES};
use bulwark_server::console_access::SERVER_FUNCTIONS;
use chrono::{Duration, Utc};
use tower_sessions::session::Id;

use crate::{TestApp, on_both_catalogs};

on_both_catalogs!(every_route_answers_each_role_as_the_matrix_says);

/// `(method, path)` of every `.route(…)` in the REST router's source.
fn router_routes() -> BTreeSet<(String, String)> {
    let source = include_str!("../../src/api/mod.rs");
    let mut routes = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(") {
        let after = &rest[at + ".route(".len()..];
        let mut depth = 1;
        let end = after
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map(|(i, _)| i)
            .expect("a .route( call is closed");
        let args = &after[..end];
        let path = args.split('"').nth(1).expect("a route path").to_string();
        for (call, method) in [("get(", "GET"), ("post(", "POST"), ("put(", "PUT"), ("patch(", "PATCH"), ("delete(", "DELETE")] {
            let called = args.match_indices(call).any(|(i, _)| args[..i].chars().last().is_none_or(|c| !(c.is_alphanumeric() || c == '_')));
            if called {
                routes.insert((method.to_string(), path.clone()));
            }
        }
        rest = &after[end..];
    }
    routes
}

/// Who calls: a session cookie, a bearer token, or nothing; with the role it stands for.
#[derive(Clone)]
enum Caller {
    Nobody,
    Session(String, Role),
    Token(String, Role),
    /// A token that may push one configuration's WAL (not the one the requests name).
    Narrow(String),
}

impl Caller {
    fn describe(&self) -> String {
        match self {
            Caller::Nobody => "no credentials".into(),
            Caller::Session(_, role) => format!("a {} session", role.as_str()),
            Caller::Token(_, role) => format!("a {} token", role.as_str()),
            Caller::Narrow(_) => "a WAL push token".into(),
        }
    }

    fn apply(&self, request: axum::http::request::Builder) -> axum::http::request::Builder {
        match self {
            Caller::Nobody => request,
            Caller::Session(id, _) => request.header("cookie", format!("bulwark_session={id}")),
            Caller::Token(secret, _) | Caller::Narrow(secret) => request.header("authorization", format!("Bearer {secret}")),
        }
    }
}

async fn callers(app: &TestApp) -> Vec<Caller> {
    let mut callers = vec![Caller::Nobody];
    for &role in Role::ALL {
        let (principal, token) = app.user_with_token(&format!("{}-user", role.as_str()), role).await;
        let id = Id::default().to_string();
        let row = SessionRow {
            id: id.clone(),
            user_id: Some(principal.user_id.clone()),
            data: serde_json::json!({ "user_id": principal.user_id, "login_at": Utc::now().timestamp() }).to_string(),
            expires_at: bulwark_core::platform::time::to_text(Utc::now() + Duration::hours(1)),
        };
        sessions::save(&app.catalog, &row).await.unwrap();
        callers.push(Caller::Session(id, role));
        callers.push(Caller::Token(token, role));
        if role == Role::Admin {
            let narrow = tokens::create_scoped(&app.catalog, &principal, NewToken { name: "wal".into(), role: None, expires_in_days: None }, "wal-push:another-configuration");
            callers.push(Caller::Narrow(narrow.await.unwrap().secret));
        }
    }
    callers
}

/// What `caller` must get from a route needing `access`: `Ok(())` for "let through" (any answer
/// but 401 and 403), or the refusal.
fn expected(access: Access, caller: &Caller) -> Result<(), StatusCode> {
    let needed = match access {
        Access::Role(role) => role,
        Access::Scoped(_) => Role::Operator,
    };
    match caller {
        Caller::Nobody => Err(StatusCode::UNAUTHORIZED),
        // Only the WAL push route takes a WAL token, and the core refuses another
        // configuration's WAL.
        Caller::Narrow(_) => Err(StatusCode::FORBIDDEN),
        Caller::Session(_, role) | Caller::Token(_, role) if *role < needed => Err(StatusCode::FORBIDDEN),
        _ => Ok(()),
    }
}

async fn every_route_answers_each_role_as_the_matrix_says(app: TestApp) {
    // Every route of the router has an entry, and every entry a route.
    let matrix: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    let routes = router_routes();
    assert!(routes.len() > 40, "the router's routes were not found: {routes:?}");
    assert_eq!(routes.difference(&matrix).collect::<Vec<_>>(), Vec::<&(String, String)>::new(), "routes without an entry in api::access::ROUTES");
    assert_eq!(matrix.difference(&routes).collect::<Vec<_>>(), Vec::<&(String, String)>::new(), "entries without a route");

    let callers = callers(&app).await;
    let mut wrong = Vec::new();
    // Refused callers first: the let-through calls of admins may change state (a rebuild).
    let mut calls: Vec<(&str, &str, Access, Caller)> = Vec::new();
    for (method, path, access) in ROUTES {
        for caller in &callers {
            calls.push((method, path, *access, caller.clone()));
        }
    }
    calls.sort_by_key(|(_, _, access, caller)| expected(*access, caller).is_ok());
    for (method, path, access, caller) in calls {
        let concrete = format!("/api{path}").replace("{id}", "00000000-0000-4000-8000-000000000000").replace("{snapshot}", "0".repeat(64).as_str()).replace("{name}", "000000010000000000000001");
        let mut request = caller.apply(Request::builder().method(method).uri(&concrete));
        let body = if method == "GET" {
            Body::empty()
        } else {
            request = request.header("content-type", "application/json");
            Body::from("{}")
        };
        let reply = app.send_to_first_event(request.body(body).unwrap()).await;
        let ok = match expected(access, &caller) {
            Ok(()) => reply.status != StatusCode::UNAUTHORIZED && reply.status != StatusCode::FORBIDDEN && reply.status != StatusCode::INTERNAL_SERVER_ERROR,
            Err(status) => reply.status == status,
        };
        if !ok {
            wrong.push(format!("{method} {path} with {}: {} {}", caller.describe(), reply.status, reply.text()));
        }
    }

    // The console's server functions: every registered one has an entry, and answers sessions
    // by it; a bearer token is no session.
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths().filter_map(|(path, _)| path.strip_prefix("/_sfn/").map(str::to_string)).collect();
    let entries: BTreeSet<String> = SERVER_FUNCTIONS.iter().map(|(name, _)| name.to_string()).collect();
    assert!(registered.len() > 40, "no server functions registered: {registered:?}");
    assert_eq!(registered.difference(&entries).collect::<Vec<_>>(), Vec::<&String>::new(), "server functions without an entry in console_access::SERVER_FUNCTIONS");
    assert_eq!(entries.difference(&registered).collect::<Vec<_>>(), Vec::<&String>::new(), "entries without a server function");
    for (name, needed) in SERVER_FUNCTIONS {
        let Some(needed) = needed else { continue };
        for caller in &callers {
            let expect = match caller {
                Caller::Session(_, role) if role < needed => Err(StatusCode::FORBIDDEN),
                Caller::Session(..) => Ok(()),
                _ => Err(StatusCode::UNAUTHORIZED),
            };
            if expect.is_ok() && ["change_password", "logout"].contains(name) {
                continue; // would end the sessions the rest of the matrix uses
            }
            let request = caller.apply(Request::post(format!("/_sfn/{name}")).header("content-type", "application/x-www-form-urlencoded"));
            let reply = app.send(request.body(Body::empty()).unwrap()).await;
            let ok = match expect {
                Ok(()) => reply.status != StatusCode::UNAUTHORIZED && reply.status != StatusCode::FORBIDDEN,
                Err(status) => reply.status == status,
            };
            if !ok {
                wrong.push(format!("server function {name} with {}: {} {}", caller.describe(), reply.status, reply.text()));
            }
        }
    }
    assert!(wrong.is_empty(), "{} answers differ from the matrix:\n{}", wrong.len(), wrong.join("\n"));
}
