//! The REST API under `/api`: the same core calls as the console, for automation.

pub mod access;
pub mod error;
pub mod extract;
pub mod openapi;
mod alerts;
mod audit;
mod configurations;
mod cost;
mod health;
mod jobs;
mod locations;
mod me;
mod monitoring;
mod notifications;
mod recovery;
mod restoration;
mod restore_targets;
mod standing;
mod watch;
mod retention;
mod tokens;
mod users;

use axum::Router;
use axum::routing::{get, patch};

use crate::state::AppState;
use error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me::me))
        .route("/overview", get(me::overview))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/admin/users", get(users::list).post(users::create))
        .route("/admin/users/{id}", patch(users::update).get(users::get).delete(users::delete))
        .route("/admin/backups/storage-locations", get(locations::list).post(locations::create))
        .route("/admin/backups/storage-locations/{id}", get(locations::get).delete(locations::delete))
        .route("/admin/backups/storage-locations/{id}/test", axum::routing::post(locations::test))
        .route("/admin/backups/storage-locations/{id}/init", axum::routing::post(locations::init))
        .route("/admin/backups/storage-locations/{id}/usage", get(locations::usage))
        .route("/admin/backups/storage-locations/{id}/repair-index", axum::routing::post(locations::repair_index))
        .route("/admin/backups/storage-locations/{id}/retention-floor", get(retention::get_floor).put(retention::set_floor))
        .route("/admin/backups/storage-locations/{id}/replications", get(locations::replications).post(locations::replicate))
        .route("/admin/backups/storage-locations/{id}/replication-rules", get(locations::replication_rules).post(locations::add_replication_rule))
        .route("/admin/backups/replication-rules/{id}", axum::routing::delete(locations::remove_replication_rule))
        .route("/admin/backups/storage-locations/{id}/attach", axum::routing::post(locations::attach))
        .route("/admin/catalog/rebuild", axum::routing::post(locations::rebuild))
        .route("/admin/backups/storage-locations/{id}/snapshots", get(locations::snapshots))
        .route("/admin/backups/storage-locations/{id}/snapshots/{snapshot}/file", get(locations::download))
        .route("/admin/backups/restore-targets", get(restore_targets::list).post(restore_targets::create))
        .route("/admin/backups/restore-targets/{id}", get(restore_targets::get).put(restore_targets::update).delete(restore_targets::delete))
        .route("/admin/backups/restore-targets/{id}/test", axum::routing::post(restore_targets::test))
        .route("/admin/backups/restoration", get(restoration::history).post(restoration::request))
        .route("/admin/backups/restoration/available", get(restoration::available))
        .route("/admin/backups/restoration/active", get(restoration::active))
        .route("/admin/backups/restoration/{id}", get(restoration::get).put(restoration::update))
        .route("/admin/backups/restoration/{id}/status", get(restoration::status))
        .route("/admin/backups/restoration/{id}/events", get(restoration::events))
        .route("/admin/backups/restoration/{id}/cancel", axum::routing::post(restoration::cancel))
        .route("/admin/backups/restoration/{id}/rollback", axum::routing::post(restoration::rollback))
        .route("/admin/backups/restoration/{id}/approve", axum::routing::post(restoration::approve))
        .route("/admin/backups/restoration/{id}/reject", axum::routing::post(restoration::reject))
        .route("/disaster-recovery/backups", get(recovery::backup_inventory))
        .route("/disaster-recovery/backups/create", axum::routing::post(recovery::create_backup))
        .route("/disaster-recovery/backups/{backupId}/verify", axum::routing::post(recovery::verify_backup))
        .route("/disaster-recovery/backups/{backupId}/restore", axum::routing::post(restoration::dr_restore))
        .route("/admin/backups/alerts", get(alerts::list))
        .route("/admin/backups/alerts/{id}", get(alerts::get))
        .route("/admin/backups/alerts/{id}/acknowledge", axum::routing::post(alerts::acknowledge))
        .route("/admin/backups/alerts/{id}/resolve", axum::routing::post(alerts::resolve))
        .route("/admin/backups/health", get(health::report))
        .route("/admin/backups/storage/utilization", get(cost::utilization))
        .route("/admin/backups/cost/analysis", get(cost::cost_analysis))
        .route("/admin/backups/cost/track", axum::routing::post(cost::track))
        .route("/admin/backups/storage-locations/{id}/prices", get(cost::get_prices).put(cost::set_prices))
        .route("/admin/backups/storage-locations/{id}/prune", axum::routing::post(cost::prune))
        .route("/admin/backups/dashboard", get(health::dashboard))
        .route("/admin/backups/dashboard/events", get(health::dashboard_events))
        .route("/admin/backups/alerts/{id}/history", get(alerts::history))
        .route("/admin/backups/alerts/silences", get(alerts::silences).post(alerts::silence))
        .route("/admin/backups/alerts/silences/{id}", axum::routing::delete(alerts::lift))
        .route("/admin/backups/alerts/escalation", get(alerts::escalation))
        .route("/admin/backups/alerts/escalation/{severity}", axum::routing::put(alerts::set_escalation))
        .route("/admin/monitoring/services", get(monitoring::list).post(monitoring::create))
        .route("/admin/monitoring/services/{id}", get(monitoring::get).put(monitoring::update).delete(monitoring::delete))
        .route("/admin/monitoring/services/{id}/check", axum::routing::post(monitoring::check))
        .route("/admin/monitoring/record-token", axum::routing::post(monitoring::record_token))
        .route("/disaster-recovery/health", get(monitoring::health))
        .route("/disaster-recovery/health/record", axum::routing::post(monitoring::record))
        .route("/admin/backups/disaster-recovery/procedures", get(recovery::procedures))
        .route("/admin/backups/disaster-recovery/execute", axum::routing::post(recovery::execute_procedure))
        .route("/disaster-recovery/status", get(recovery::dr_status))
        .route("/disaster-recovery/execute", axum::routing::post(recovery::execute))
        .route("/disaster-recovery/plans", get(recovery::list_plans).post(recovery::create_plan))
        .route("/disaster-recovery/plans/{id}", get(recovery::get_plan).put(recovery::update_plan).delete(recovery::delete_plan))
        .route("/disaster-recovery/plans/{id}/submit", axum::routing::post(recovery::submit_plan))
        .route("/disaster-recovery/plans/{id}/approve", axum::routing::post(recovery::approve_plan))
        .route("/disaster-recovery/plans/{id}/reject", axum::routing::post(recovery::reject_plan))
        .route("/disaster-recovery/plans/{id}/diff", get(recovery::diff_plan))
        .route("/disaster-recovery/plans/{id}/export", get(recovery::export_plan))
        .route("/disaster-recovery/executions", get(recovery::list_runs))
        .route("/disaster-recovery/executions/{id}", get(recovery::get_run))
        .route("/disaster-recovery/executions/{id}/events", get(recovery::run_events))
        .route("/disaster-recovery/executions/{id}/cancel", axum::routing::post(recovery::cancel_run))
        .route("/disaster-recovery/executions/{id}/steps/{stepId}/decision", axum::routing::post(recovery::decide))
        .route("/disaster-recovery/requests", get(recovery::list_run_requests).post(recovery::create_run_request))
        .route("/disaster-recovery/requests/{id}", get(recovery::get_run_request))
        .route("/disaster-recovery/requests/{id}/approve", axum::routing::post(recovery::approve_run_request))
        .route("/disaster-recovery/requests/{id}/reject", axum::routing::post(recovery::reject_run_request))
        .route("/disaster-recovery/failovers", get(recovery::failovers))
        .route("/disaster-recovery/failovers/initiate", axum::routing::post(recovery::initiate_failover))
        .route("/disaster-recovery/credentials", get(recovery::list_credentials).put(recovery::set_credential))
        .route("/disaster-recovery/credentials/{name}", axum::routing::delete(recovery::delete_credential))
        .route("/disaster-recovery/tests", get(recovery::list_tests))
        .route("/disaster-recovery/tests/schedule", axum::routing::post(recovery::schedule_test))
        .route("/disaster-recovery/tests/{testId}/execute", axum::routing::post(recovery::execute_test))
        .route("/admin/notifications/channels", get(notifications::list).post(notifications::create))
        .route("/admin/notifications/channels/{id}", get(notifications::get).put(notifications::update).delete(notifications::delete))
        .route("/admin/notifications/channels/{id}/test", axum::routing::post(notifications::test))
        .route("/admin/notifications/deliveries", get(notifications::deliveries))
        .route("/admin/backups/approval-policies", get(restoration::policies))
        .route("/admin/backups/approval-policies/{environment}", axum::routing::put(restoration::set_policy))
        .route("/admin/backups/configurations", get(configurations::list).post(configurations::create))
        .route("/admin/backups/configurations/{id}", get(configurations::get).put(configurations::update))
        .route("/admin/backups/configurations/{id}/execute", axum::routing::post(configurations::execute))
        .route("/admin/backups/configurations/{id}/executions", get(configurations::executions))
        .route("/admin/backups/configurations/{id}/recover", axum::routing::post(restoration::recover))
        .route("/admin/backups/configurations/{id}/recovery-window", get(configurations::recovery_window))
        .route("/admin/backups/configurations/{id}/wal-token", axum::routing::post(configurations::wal_token))
        .route(
            "/admin/backups/configurations/{id}/wal/{name}",
            // A WAL segment is 16 MiB by default and at most 1 GiB (initdb --wal-segsize).
            get(configurations::wal_fetch).put(configurations::wal_push).layer(axum::extract::DefaultBodyLimit::max(1 << 30)),
        )
        .route("/admin/backups/executions/{id}", get(configurations::execution).delete(retention::delete_execution))
        .route("/admin/backups/executions/{id}/retention", get(retention::of_execution))
        .route("/admin/backups/executions/{id}/legal-holds", get(retention::list_holds).post(retention::add_hold))
        .route("/admin/backups/legal-holds/{id}/release", axum::routing::post(retention::release_hold))
        .route("/admin/backups/retention/cleanup", axum::routing::post(retention::cleanup))
        .route("/admin/backups/verify/{id}", axum::routing::post(retention::verify))
        .route("/admin/backups/testing/schedule", axum::routing::post(retention::schedule_test))
        .route("/admin/backups/testing/results", get(retention::test_results))
        .route("/admin/backups/executions/{id}/events", get(configurations::events))
        .route("/admin/backups/executions/{id}/restore", axum::routing::post(restoration::restore))
        .route("/admin/backups/executions/{id}/diff", get(configurations::diff))
        .route("/admin/backups/executions/{id}/cancel", axum::routing::post(configurations::cancel))
        .route("/admin/backups/configurations/{id}/schedule", get(configurations::schedule))
        .route("/admin/jobs", get(jobs::list))
        .route("/admin/audit", get(audit::list))
        .route("/admin/audit/verify", get(audit::verify))
        .fallback(|| async { ApiError::not_found("no such API endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, "this endpoint does not take that method")
        })
}
