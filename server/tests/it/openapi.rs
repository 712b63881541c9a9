//! The OpenAPI document: every REST route of the role matrix has an operation, with a schema
//! for each JSON body it takes and answers, and nothing is documented that does not exist.

use axum::http::StatusCode;
use bulwark_server::api::access::ROUTES;

use crate::TestApp;

/// The schema a JSON content gives, if any.
fn json_schema(content: &serde_json::Value) -> Option<&serde_json::Value> {
    content.get("application/json").and_then(|c| c.get("schema"))
}

#[tokio::test]
async fn every_route_is_described_with_its_schemas() {
    let app = TestApp::new(bulwark_testkit::sqlite_url()).await;
    let reply = app.get("/api/openapi.json", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = reply.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", doc["openapi"]);

    let mut missing = Vec::new();
    for (method, path, _) in ROUTES {
        let operation = &doc["paths"][format!("/api{path}")][method.to_lowercase()];
        if !operation.is_object() {
            missing.push(format!("{method} /api{path}: no operation"));
            continue;
        }
        if let Some(body) = operation.get("requestBody") {
            let content = &body["content"];
            if json_schema(content).is_none() && content.get("application/octet-stream").is_none() {
                missing.push(format!("{method} /api{path}: a request body without a schema"));
            }
        }
        let responses = operation["responses"].as_object().expect("responses");
        let success: Vec<_> = responses.iter().filter(|(status, _)| status.starts_with('2')).collect();
        if success.is_empty() {
            missing.push(format!("{method} /api{path}: no success response"));
        }
        for (status, response) in success {
            let content = &response["content"];
            let raw = ["application/octet-stream", "text/event-stream", "text/plain"].iter().any(|t| content.get(t).is_some());
            if status != "204" && !raw && json_schema(content).is_none() {
                missing.push(format!("{method} /api{path}: answer {status} without a schema"));
            }
        }
        for error in ["400", "401", "403", "404", "500"] {
            if !responses.contains_key(error) {
                missing.push(format!("{method} /api{path}: error {error} undocumented"));
            }
        }
        if !operation["description"].as_str().is_some_and(|d| d.contains("Needs the")) {
            missing.push(format!("{method} /api{path}: the role it needs is not said"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    let mut ids: Vec<&str> = doc["paths"].as_object().unwrap().values().flat_map(|item| item.as_object().unwrap().values()).filter_map(|op| op["operationId"].as_str()).collect();
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "operation ids are unique");

    // Nothing documented that the router does not have.
    let documented: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| format!("{} {path}", m.to_uppercase())))
        .collect();
    let extra: Vec<&String> = documented.iter().filter(|d| !ROUTES.iter().any(|(m, p, _)| **d == format!("{m} /api{p}"))).collect();
    assert!(extra.is_empty(), "documented but not routed: {extra:?}");

    // Every schema referenced is defined.
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "{name} is referenced but not defined");
    }
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = TestApp::new(bulwark_testkit::sqlite_url()).await;
    let page = app.get("/api/docs/", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("swagger-ui-bundle.js"), "{}", page.text());
    let policy = page.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-eval"), "{policy}");
    let script = app.get("/api/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(script.body.len() > 100_000, "the bundle itself, not a CDN link");
    let initializer = app.get("/api/docs/swagger-initializer.js", None).await.text();
    assert!(initializer.contains("/api/openapi.json") && !initializer.contains("https://"), "{initializer}");
}
