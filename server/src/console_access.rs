//! Who may call each server function of the console (`/_sfn/<name>`): the console's half of the
//! role matrix, checked before the function's arguments are read (the core checks again). A
//! server function missing here is refused to everyone, and the role-matrix test fails on it.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bulwark_app::error::AppError;
use bulwark_core::platform::accounts::users;
use bulwark_core::platform::auth::Role;
use tower_sessions::Session;

use crate::state::AppState;

/// `None`: anyone (logging in, first set-up).
pub const SERVER_FUNCTIONS: &[(&str, Option<Role>)] = {
    use Role::{Admin, Approver, Operator, Viewer};
    &[
        ("login", None),
        ("logout", None),
        ("setup_info", None),
        ("complete_setup", None),
        ("whoami", Some(Viewer)),
        ("overview", Some(Viewer)),
        ("backup_dashboard", Some(Viewer)),
        ("dashboard_charts", Some(Viewer)),
        ("list_alerts", Some(Viewer)),
        ("critical_alerts", Some(Viewer)),
        ("acknowledge_alert", Some(Operator)),
        ("resolve_alert", Some(Operator)),
        ("alert_history", Some(Viewer)),
        ("list_silences", Some(Viewer)),
        ("escalation_schedules", Some(Viewer)),
        ("set_escalation", Some(Admin)),
        ("silence_alert", Some(Operator)),
        ("lift_silence", Some(Operator)),
        ("list_channels", Some(Admin)),
        ("create_webhook_channel", Some(Admin)),
        ("create_email_channel", Some(Admin)),
        ("test_channel", Some(Admin)),
        ("set_channel_enabled", Some(Admin)),
        ("delete_channel", Some(Admin)),
        ("list_deliveries", Some(Admin)),
        ("cost_view", Some(Viewer)),
        ("track_cost", Some(Operator)),
        ("prune_location", Some(Admin)),
        ("location_prices", Some(Viewer)),
        ("set_location_prices", Some(Admin)),
        ("list_services", Some(Viewer)),
        ("create_service", Some(Admin)),
        ("check_service", Some(Operator)),
        ("silence_service", Some(Operator)),
        ("set_service_enabled", Some(Admin)),
        ("delete_service", Some(Admin)),
        ("services_health", Some(Viewer)),
        ("change_password", Some(Viewer)),
        ("second_factor_status", Some(Viewer)),
        ("begin_second_factor", Some(Viewer)),
        ("confirm_second_factor", Some(Viewer)),
        ("remove_second_factor", Some(Viewer)),
        ("list_tokens", Some(Viewer)),
        ("create_token", Some(Viewer)),
        ("revoke_token", Some(Viewer)),
        ("list_users", Some(Admin)),
        ("create_user", Some(Admin)),
        ("update_user", Some(Admin)),
        ("delete_user", Some(Admin)),
        ("remove_user_second_factor", Some(Admin)),
        ("list_audit", Some(Admin)),
        ("verify_audit", Some(Admin)),
        ("list_restore_targets", Some(Viewer)),
        ("create_restore_target", Some(Admin)),
        ("delete_restore_target", Some(Admin)),
        ("test_restore_target", Some(Operator)),
        ("list_available_backups", Some(Viewer)),
        ("request_restoration", Some(Operator)),
        ("active_restorations", Some(Viewer)),
        ("restoration_history", Some(Viewer)),
        ("get_restoration", Some(Viewer)),
        ("approve_restoration", Some(Approver)),
        ("reject_restoration", Some(Approver)),
        ("cancel_restoration", Some(Operator)),
        ("roll_back_restoration", Some(Operator)),
        ("pending_approvals", Some(Viewer)),
        ("list_approval_policies", Some(Viewer)),
        ("set_approval_policy", Some(Admin)),
        ("list_locations", Some(Viewer)),
        ("create_location", Some(Admin)),
        ("delete_location", Some(Admin)),
        ("test_location", Some(Operator)),
        ("init_location", Some(Admin)),
        ("repair_index", Some(Admin)),
        ("attach_repository", Some(Admin)),
        ("rebuild_catalog", Some(Admin)),
        ("location_usage", Some(Viewer)),
        ("location_snapshots", Some(Viewer)),
        ("browse_snapshot", Some(Viewer)),
        ("get_floor", Some(Viewer)),
        ("set_floor", Some(Admin)),
        ("list_replications", Some(Viewer)),
        ("replicate_location", Some(Admin)),
        ("list_replication_rules", Some(Viewer)),
        ("add_replication_rule", Some(Admin)),
        ("remove_replication_rule", Some(Admin)),
        ("list_configurations", Some(Viewer)),
        ("get_configuration", Some(Viewer)),
        ("create_configuration", Some(Admin)),
        ("run_configuration", Some(Operator)),
        ("recover_configuration", Some(Operator)),
        ("create_wal_token", Some(Operator)),
        ("diff_configuration_files", Some(Operator)),
        ("get_execution", Some(Viewer)),
        ("cancel_execution", Some(Operator)),
        ("verify_execution", Some(Operator)),
        ("restore_execution", Some(Operator)),
        ("restore_directory", Some(Operator)),
        ("restore_bucket", Some(Operator)),
        ("restore_group_point", Some(Operator)),
        ("execution_retention", Some(Viewer)),
        ("add_legal_hold", Some(Approver)),
        ("release_legal_hold", Some(Admin)),
        ("delete_backup", Some(Admin)),
        ("retention_cleanup", Some(Operator)),
        ("list_jobs", Some(Viewer)),
        ("schedule_test", Some(Operator)),
        ("test_results", Some(Viewer)),
        ("dr_status", Some(Viewer)),
        ("list_plans", Some(Viewer)),
        ("get_plan", Some(Viewer)),
        ("create_plan", Some(Operator)),
        ("update_plan", Some(Operator)),
        ("submit_plan", Some(Operator)),
        ("approve_plan", Some(Approver)),
        ("reject_plan", Some(Approver)),
        ("plan_diff", Some(Viewer)),
        ("execute_plan", Some(Operator)),
        ("list_runs", Some(Viewer)),
        ("get_run", Some(Viewer)),
        ("cancel_run", Some(Operator)),
        ("decide_gate", Some(Operator)),
        ("recovery_ledger", Some(Viewer)),
        ("request_run", Some(Operator)),
        ("list_run_requests", Some(Viewer)),
        ("decide_run_request", Some(Approver)),
        ("start_requested_run", Some(Operator)),
    ]
};

/// The error a server function would have answered, as the console decodes it.
pub fn refusal(path: &str, error: AppError) -> Response {
    let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, serde_json::to_string(&error).unwrap_or_default()).into_response();
    if let Ok(path) = HeaderValue::from_str(path) {
        response.headers_mut().insert(leptos::server_fn::error::SERVER_FN_ERROR_HEADER, path);
    }
    response
}

pub async fn check(State(state): State<AppState>, session: Session, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let Some(name) = path.strip_prefix("/_sfn/") else {
        return next.run(request).await;
    };
    let Some(needed) = SERVER_FUNCTIONS.iter().find(|(n, _)| *n == name).map(|(_, role)| *role) else {
        tracing::error!(name, "a server function has no entry in the role matrix");
        return refusal(&path, AppError::Internal);
    };
    if let Some(role) = needed {
        let principal = match bulwark_app::ssr::session_user(&session).await {
            Some(user_id) => users::session_principal(&state.catalog, &user_id).await.ok().flatten(),
            None => None,
        };
        match principal {
            None => return refusal(&path, AppError::Unauthenticated),
            Some(p) if p.role < role => {
                tracing::warn!(user = %p.username, server_function = name, "access refused by the role matrix");
                return refusal(&path, AppError::Forbidden(format!("this needs the {} role; you have {}", role.as_str(), p.role.as_str())));
            }
            Some(_) => {}
        }
    }
    next.run(request).await
}
