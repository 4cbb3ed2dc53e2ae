//! The one error type of the handlers; it answers with a status and an [`ErrorBody`].

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::protocol::{ErrorBody, ErrorDetail};
use railyard_types::error::Chain;

/// What a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No token, or not the right one.
    #[error("missing or invalid token: send `Authorization: Bearer <{0} token>`")]
    Unauthorized(&'static str),
    /// A sign-in with a wrong name or password (one answer for both).
    #[error("the user name or the password is wrong (or the user was removed)")]
    SignInRefused,
    /// A known caller without the right: what they are and what it needs.
    #[error("{0}")]
    Forbidden(String),
    /// A webhook delivery whose signature or token does not match the project's secret.
    #[error("webhook refused: {0}")]
    BadSignature(String),
    /// Nothing by that name.
    #[error("{0} not found")]
    NotFound(String),
    /// No route has that path.
    #[error("no such endpoint: {method} {path} (GET /api/v1/openapi.json lists every route)")]
    NoRoute {
        /// The request's method.
        method: Method,
        /// The request's path.
        path: String,
    },
    /// The path is served, not with this method.
    #[error("{path} does not take {method}: use {allowed}")]
    MethodNotAllowed {
        /// The request's method.
        method: Method,
        /// The request's path.
        path: String,
        /// The methods it takes, as the `Allow` header lists them.
        allowed: String,
    },
    /// It exists already, or the state does not allow it.
    #[error("{0}")]
    Conflict(String),
    /// The agent no longer holds the job's lease: it lapsed and the job went on elsewhere.
    #[error("the lease of job {0} is no longer yours: stop and discard the job")]
    LeaseLost(String),
    /// The request itself is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// A body that is not JSON where JSON is taken.
    #[error("{0}")]
    UnsupportedMediaType(String),
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
    /// Logs or artifacts deleted by their project's retention: the run is known, they are not.
    #[error("{0}")]
    Pruned(String),
    /// The server cannot serve now (its database does not answer, say).
    #[error("{0}")]
    Unavailable(String),
    /// The server could not do its part (a disk write, say).
    #[error("{0}")]
    Internal(String),
    /// The framework refused the request before a handler ran (a path or query that does not
    /// parse, say): its status, with its text as the message.
    #[error("{message}")]
    Rejected {
        /// The framework's status.
        status: StatusCode,
        /// What it said, with the request it said it of.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] railyard_store::StoreError),
}

impl ApiError {
    fn status_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::BadSignature(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::SignInRefused => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::NotFound(_) | ApiError::NoRoute { .. } => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            ApiError::MethodNotAllowed { .. } => {
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
            }
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::LeaseLost(_) => (StatusCode::GONE, "lease_lost"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Git(_) => (StatusCode::UNPROCESSABLE_ENTITY, "git"),
            ApiError::Pipeline { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "pipeline"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Pruned(_) => (StatusCode::GONE, "pruned"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            // The client's mistake, though the store finds it: a run reference (`1`, an id
            // prefix) that matches several runs.
            ApiError::Store(railyard_store::StoreError::AmbiguousRun { .. }) => {
                (StatusCode::CONFLICT, "conflict")
            }
            ApiError::Internal(_) | ApiError::Store(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
            ApiError::Rejected { status, .. } => (*status, code_of(*status)),
        }
    }
}

impl ApiError {
    /// Logs a failure of the server's own (its database, its disk) in full, under an id,
    /// and says to the client what failed and where to look, never how: the full text names
    /// the database file or URL and server folders, which are the operator's.
    fn logged(&self) -> String {
        let mut bytes = [0u8; 6];
        let _ = getrandom::fill(&mut bytes);
        let id = hex::encode(bytes);
        tracing::error!(error_id = %id, "{}", Chain(self));
        let what = match self {
            ApiError::Store(railyard_store::StoreError::Query { doing, .. }) => {
                format!("the server's database failed while {doing}")
            }
            ApiError::Store(_) => "the server's database failed".to_owned(),
            _ => "the server failed".to_owned(),
        };
        format!("{what}; the server's log says why (error {id}): retry, or ask its operator")
    }
}

/// The envelope's code for a status the framework chose.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_code();
        let message = match &self {
            ApiError::Store(_) | ApiError::Internal(_) if status.is_server_error() => self.logged(),
            _ => {
                if status.is_server_error() {
                    tracing::error!("{}", Chain(&self));
                }
                self.to_string()
            }
        };
        let allow = match &self {
            ApiError::MethodNotAllowed { allowed, .. } => {
                HeaderValue::from_str(&allowed.replace(' ', "")).ok()
            }
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(allow) = allow {
            response.headers_mut().insert(header::ALLOW, allow);
        }
        response
    }
}

/// Puts every error answer in the envelope: the framework's own (a 405, a path or query that
/// does not parse) come as plain text or with no body, and a client reading `error.message`
/// would get nothing. Answers of our handlers are JSON already and pass untouched.
pub(crate) async fn envelope(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    // No name, id, ref or query value holds a NUL, and PostgreSQL refuses one in any text (a
    // 500 of the database for the client's mistake): refused here for every route.
    let query = request.uri().query().unwrap_or_default();
    if path.contains("%00") || query.contains("%00") {
        return ApiError::BadRequest(format!(
            "{method} {}: the path or query holds a NUL character (%00), which no name, id, \
             ref or value of this API holds",
            path.chars().take(200).collect::<String>()
        ))
        .into_response();
    }
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        let allowed = parts
            .headers
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .map(|a| a.replace(',', ", "))
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "a method GET /api/v1/openapi.json lists for it".into());
        return ApiError::MethodNotAllowed {
            method,
            path,
            allowed,
        }
        .into_response();
    }
    // The framework's texts are a line or two; more than this is not one of them.
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let text = text.trim();
    let what = status
        .canonical_reason()
        .unwrap_or("refused")
        .to_lowercase();
    let message = if text.is_empty() {
        format!("{method} {path}: {what}")
    } else {
        format!("{method} {path}: {text}")
    };
    ApiError::Rejected { status, message }.into_response()
}
