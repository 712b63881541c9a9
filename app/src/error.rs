//! The one error type every server function returns, so pages can tell "log in again" from
//! "you lack the role" from "fix this field".

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Your session has ended: log in again.")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    RateLimited(String),
    /// Backed-up data is damaged: the message names what and says what to do.
    #[error("{0}")]
    Damaged(String),
    /// A storage location failed or could not be reached.
    #[error("{0}")]
    Unavailable(String),
    #[error("Something went wrong inside Bulwark; the server log has the details.")]
    Internal,
    /// The request did not reach the server or its answer could not be read.
    #[error("The server could not be reached: {0}")]
    Transport(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(e) | ServerFnErrorErr::MissingArg(e) => AppError::Invalid(e),
            other => AppError::Transport(other.to_string()),
        }
    }
}

impl AppError {
    /// The HTTP status a server function answers with for this error.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::Invalid(_) | AppError::Transport(_) => 400,
            AppError::Unauthenticated => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::RateLimited(_) => 429,
            AppError::Damaged(_) | AppError::Internal => 500,
            AppError::Unavailable(_) => 503,
        }
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// Maps any core error by its kind; internal causes go to the log, not the browser.
    pub fn from_core<E>(e: E) -> AppError
    where
        E: bulwark_core::error::Classify + std::fmt::Display,
    {
        use bulwark_core::error::Kind;
        match e.kind() {
            Kind::Invalid => AppError::Invalid(e.to_string()),
            Kind::Unauthenticated => AppError::Unauthenticated,
            Kind::Forbidden => AppError::Forbidden(e.to_string()),
            Kind::NotFound => AppError::NotFound(e.to_string()),
            Kind::Conflict => AppError::Conflict(e.to_string()),
            Kind::RateLimited => AppError::RateLimited(e.to_string()),
            Kind::Damaged => AppError::Damaged(e.to_string()),
            Kind::Unavailable => AppError::Unavailable(e.to_string()),
            Kind::Internal => {
                tracing::error!(error = %e, "server function failed");
                AppError::Internal
            }
        }
    }
}
