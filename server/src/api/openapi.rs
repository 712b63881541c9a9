//! The REST API described as OpenAPI 3.1, generated from the handlers' `#[utoipa::path]`
//! attributes and the request and response types, served at `/api/openapi.json` with Swagger UI
//! (served from the binary) at `/api/docs/`. Each operation also says which role it needs, from
//! the role matrix ([`super::access::ROUTES`]), and the errors every route may answer.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use super::access::{Access, ROUTES};
use super::{alerts, audit, configurations, cost, health, jobs, locations, me, monitoring, notifications, recovery, restoration, restore_targets, retention, tokens, users};

/// Every error body: `error` names the kind, `detail` says what to do.
#[derive(serde::Serialize, ToSchema)]
pub struct ErrorBody {
    /// invalid_request, unauthenticated, forbidden, not_found, conflict, damaged, unavailable, internal …
    pub error: String,
    pub detail: String,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Bulwark", description = "Backups, restores and their proof. Every route takes `Authorization: Bearer <token>` (create one under Account, or `POST /api/tokens`) or the console's session cookie."),
    paths(
        me::me, me::overview,
        tokens::list, tokens::create, tokens::revoke,
        users::list, users::create, users::get, users::update, users::delete,
        locations::list, locations::create, locations::get, locations::delete, locations::test, locations::init, locations::usage,
        locations::repair_index, locations::replications, locations::replicate, locations::replication_rules,
        locations::add_replication_rule, locations::remove_replication_rule, locations::attach, locations::rebuild,
        locations::snapshots, locations::download,
        retention::get_floor, retention::set_floor,
        restore_targets::list, restore_targets::create, restore_targets::get, restore_targets::update, restore_targets::delete,
        restore_targets::test,
        restoration::request, restoration::history, restoration::available, restoration::active, restoration::get, restoration::update,
        restoration::status, restoration::events, restoration::cancel, restoration::rollback, restoration::approve, restoration::reject,
        restoration::policies, restoration::set_policy, restoration::dr_restore,
        alerts::list, alerts::get, alerts::acknowledge, alerts::resolve, alerts::history, alerts::silences, alerts::silence, alerts::lift,
        alerts::escalation, alerts::set_escalation, health::report, health::dashboard, health::dashboard_events,
        notifications::list, notifications::create, notifications::get, notifications::update, notifications::delete, notifications::test,
        notifications::deliveries,
        recovery::procedures, recovery::execute_procedure, recovery::list_plans, recovery::create_plan, recovery::get_plan, recovery::update_plan,
        recovery::delete_plan, recovery::submit_plan, recovery::approve_plan, recovery::reject_plan, recovery::diff_plan, recovery::export_plan, recovery::execute,
        recovery::list_runs, recovery::get_run, recovery::run_events, recovery::cancel_run, recovery::decide, recovery::dr_status, recovery::failovers, recovery::initiate_failover, recovery::backup_inventory, recovery::create_backup, recovery::verify_backup, recovery::list_credentials,
        recovery::set_credential, recovery::delete_credential, recovery::list_tests, recovery::schedule_test, recovery::execute_test, recovery::create_run_request,
        recovery::list_run_requests, recovery::get_run_request, recovery::approve_run_request, recovery::reject_run_request,
        monitoring::list, monitoring::create, monitoring::get, monitoring::update, monitoring::delete, monitoring::check, monitoring::health, monitoring::record,
        monitoring::record_token,
        cost::utilization, cost::cost_analysis, cost::track, cost::get_prices, cost::set_prices, cost::prune,
        configurations::list, configurations::create, configurations::get, configurations::update, configurations::execute,
        configurations::executions, restoration::recover, configurations::recovery_window, configurations::wal_token,
        configurations::wal_fetch, configurations::wal_push, configurations::schedule,
        configurations::execution, retention::delete_execution, retention::of_execution, retention::list_holds, retention::add_hold,
        retention::release_hold, retention::cleanup, retention::verify, retention::schedule_test, retention::test_results,
        configurations::events, restoration::restore, configurations::diff, configurations::cancel,
        jobs::list, audit::list, audit::verify,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Conventions),
)]
pub struct ApiDoc;

/// What every operation shares: how to authenticate, the role it needs, the errors it answers.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
        components.add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("bulwark_session"))));
        doc.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new()), SecurityRequirement::new("session", Vec::<String>::new())]);
        for (path, item) in doc.paths.paths.iter_mut() {
            let route = path.strip_prefix("/api").unwrap_or(path);
            let operations = [("GET", &mut item.get), ("POST", &mut item.post), ("PUT", &mut item.put), ("PATCH", &mut item.patch), ("DELETE", &mut item.delete)];
            for (method, operation) in operations {
                if let Some(operation) = operation {
                    let access = ROUTES.iter().find(|(m, p, _)| *m == method && *p == route).map(|(_, _, a)| *a);
                    document(operation, access);
                }
            }
        }
    }
}

fn document(operation: &mut Operation, access: Option<Access>) {
    // Handlers share names across modules (`list`, `get`): the tag makes each id unique.
    if let (Some(tag), Some(id)) = (operation.tags.as_ref().and_then(|t| t.first()), operation.operation_id.as_mut()) {
        *id = format!("{tag}_{id}");
    }
    let needs = match access {
        Some(Access::Role(role)) => format!("Needs the {} role.", role.as_str()),
        Some(Access::Scoped(scope)) => format!("Needs the operator role, or a narrow token of scope `{scope}`."),
        None => String::new(),
    };
    let description = operation.description.take().unwrap_or_default();
    operation.description = Some(if description.is_empty() { needs } else { format!("{description}\n\n{needs}") });
    for (status, meaning) in [
        ("400", "The request is malformed or fails validation; `detail` names the field"),
        ("401", "No valid credentials"),
        ("403", "The caller's role does not allow it"),
        ("404", "Not found"),
        ("409", "It conflicts with the current state"),
        ("413", "The body is too large"),
        ("415", "The body is not JSON"),
        ("429", "Too many attempts"),
        ("500", "Damaged backup data (`error: damaged`, `detail` says what), or an internal error"),
        ("503", "A storage location or a source did not answer"),
    ] {
        let body = ContentBuilder::new().schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorBody")))).build();
        let response = ResponseBuilder::new().description(meaning).content("application/json", body).build();
        operation.responses.responses.entry(status.to_string()).or_insert(RefOr::T(response));
    }
}

/// `/api/openapi.json` and Swagger UI at `/api/docs/`, whose page may load its own scripts and
/// styles (the rest of the API allows nothing to run).
pub fn docs<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    let ui: axum::Router<S> = utoipa_swagger_ui::SwaggerUi::new("/api/docs").url("/api/openapi.json", ApiDoc::openapi()).into();
    ui.layer(axum::middleware::map_response(|mut response: axum::response::Response| async move {
        response.headers_mut().insert(
            axum::http::header::CONTENT_SECURITY_POLICY,
            axum::http::HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
            ),
        );
        response
    }))
}
