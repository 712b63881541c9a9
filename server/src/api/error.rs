//! Every REST error leaves through here: `{"error": "<kind>", "detail": "<sentence>"}` with
//! the matching 4xx, or a generic 500 whose cause goes only to the log.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bulwark_core::error::{Classify, Kind};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
    /// The `error` field, when the status alone does not say it (500 for damaged data).
    code: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError { status, detail: detail.into(), code: None }
    }

    pub fn unauthenticated(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, detail)
    }

    /// Maps a core error by its kind.
    pub fn from_core<E: Classify + std::fmt::Display>(e: E) -> ApiError {
        let status = match e.kind() {
            Kind::Invalid => StatusCode::BAD_REQUEST,
            Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
            Kind::Forbidden => StatusCode::FORBIDDEN,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::Conflict => StatusCode::CONFLICT,
            Kind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            // Damaged backups are the server's trouble (5xx), but the message is what the
            // caller needs: which snapshot, which file, what to do.
            Kind::Damaged => {
                tracing::warn!(error = %e, "request met damaged repository data");
                return ApiError { code: Some("damaged"), ..ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()) };
            }
            Kind::Internal => {
                tracing::error!(error = %e, "request failed");
                return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error: see the server log");
            }
        };
        ApiError::new(status, e.to_string())
    }

    fn kind(&self) -> &'static str {
        if let Some(code) = self.code {
            return code;
        }
        match self.status {
            StatusCode::BAD_REQUEST => "invalid_request",
            StatusCode::UNAUTHORIZED => "unauthenticated",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::CONFLICT => "conflict",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "invalid_request",
            StatusCode::TOO_MANY_REQUESTS => "rate_limited",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            _ => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.kind(), "detail": self.detail });
        (self.status, axum::Json(body)).into_response()
    }
}

macro_rules! from_core {
    ($($t:ty),*) => {$(
        impl From<$t> for ApiError {
            fn from(e: $t) -> ApiError {
                ApiError::from_core(e)
            }
        }
    )*};
}

from_core!(
    bulwark_core::platform::auth::AuthError,
    bulwark_core::platform::audit::AuditError,
    bulwark_core::platform::catalog::CatalogError,
    bulwark_core::platform::jobs::JobError,
    bulwark_core::locations::LocationError,
    bulwark_core::configurations::ConfigurationError,
    bulwark_core::executions::ExecutionError,
    bulwark_core::restores::RestoreError,
    bulwark_core::restoration::targets::TargetError,
    bulwark_core::restoration::RestorationError,
    bulwark_core::wal_archive::WalArchiveError,
    bulwark_core::config_files::ConfigFilesError,
    bulwark_core::retention::RetentionError,
    bulwark_core::verify::VerifyError,
    bulwark_core::restore_tests::TestingError,
    bulwark_core::replicate::ReplicateError,
    bulwark_core::rebuild::RebuildError,
    bulwark_core::alerts::AlertError,
    bulwark_core::notifications::NotificationError,
    bulwark_core::monitoring::MonitoringError,
    bulwark_core::cost::CostError,
    bulwark_core::health::HealthError,
    bulwark_core::recovery::RecoveryError
);

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        let status = match r {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, r.body_text())
    }
}
