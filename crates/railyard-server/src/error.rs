//! The one error type of the handlers; it answers with a status and an [`ErrorBody`].

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::protocol::{ErrorBody, ErrorDetail};

/// What a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No token, or not the right one.
    #[error("missing or invalid token: send `Authorization: Bearer <{0} token>`")]
    Unauthorized(&'static str),
    /// A webhook delivery whose signature or token does not match the project's secret.
    #[error("webhook refused: {0}")]
    BadSignature(String),
    /// Nothing by that name.
    #[error("{0} not found")]
    NotFound(String),
    /// It exists already, or the state does not allow it.
    #[error("{0}")]
    Conflict(String),
    /// The agent no longer holds the job's lease: it lapsed and the job went on elsewhere.
    #[error("the lease of job {0} is no longer yours: stop and discard the job")]
    LeaseLost(String),
    /// The request itself is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// git could not fetch or read the repository.
    #[error("{0}")]
    Git(String),
    /// The pipeline at that commit is invalid.
    #[error("the pipeline at {commit} is invalid: {message}")]
    Pipeline {
        /// The commit.
        commit: String,
        /// The parser's report.
        message: String,
    },
    /// An upload over the server's limit.
    #[error("{0}")]
    TooLarge(String),
    /// The server could not do its part (a disk write, say).
    #[error("{0}")]
    Internal(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] railyard_store::StoreError),
}

impl ApiError {
    fn status_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::BadSignature(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::LeaseLost(_) => (StatusCode::GONE, "lease_lost"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Git(_) => (StatusCode::UNPROCESSABLE_ENTITY, "git"),
            ApiError::Pipeline { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "pipeline"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Internal(_) | ApiError::Store(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_code();
        if status.is_server_error() {
            tracing::error!("{self}");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: self.to_string(),
            },
        };
        (status, Json(body)).into_response()
    }
}
