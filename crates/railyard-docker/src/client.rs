//! Connecting to the engine and turning bollard's errors into [`DockerError`]s.

use crate::errors::{DockerError, chain, is_connection_failure, server_error};
use bollard::ClientVersion;
use std::time::Duration;

/// The API version Railyard speaks: Docker 20.10's. A lower server version wins.
pub const API_VERSION: ClientVersion = ClientVersion {
    major_version: 1,
    minor_version: 41,
};

/// Where Docker listens when `DOCKER_HOST` is unset.
pub const DEFAULT_ENDPOINT: &str = "unix:///var/run/docker.sock";

/// How long `connect` waits for the engine to answer before calling it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Per-request limit on waiting for the engine's response headers (bodies stream without a
/// limit). A build's headers only come once its whole context has been read, hence generous.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// A connection to one Docker engine. Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Docker {
    pub(crate) client: bollard::Docker,
    pub(crate) endpoint: String,
}

impl Docker {
    /// Connects to `DOCKER_HOST` (`unix://` or `tcp://`) or `/var/run/docker.sock`, pins API
    /// 1.41 (or the server's, if lower), then pings the engine.
    pub async fn connect() -> Result<Docker, DockerError> {
        let endpoint = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        Docker::connect_to(&endpoint).await
    }

    /// Connects to this endpoint (same rules as [`Docker::connect`], without reading the
    /// environment). A bare path is taken as a unix socket.
    pub async fn connect_to(endpoint: &str) -> Result<Docker, DockerError> {
        let endpoint = endpoint.trim().to_string();
        let unreachable = |reason: String| DockerError::Unreachable {
            endpoint: endpoint.clone(),
            reason,
        };
        let timeout = REQUEST_TIMEOUT.as_secs();
        let client = if let Some(path) = endpoint
            .strip_prefix("unix://")
            .or_else(|| endpoint.starts_with('/').then_some(endpoint.as_str()))
        {
            // bollard only finds a missing socket on the first request, with a vague message.
            if !std::path::Path::new(path).exists() {
                return Err(unreachable(format!("socket {path} does not exist")));
            }
            bollard::Docker::connect_with_unix(path, timeout, &API_VERSION)
        } else if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") {
            bollard::Docker::connect_with_http(&endpoint, timeout, &API_VERSION)
        } else {
            return Err(unreachable(
                "unsupported endpoint: use unix:///path/to/docker.sock or tcp://host:port \
                 (TLS endpoints are not supported yet)"
                    .to_string(),
            ));
        }
        .map_err(|e| unreachable(chain(&e)))?;

        let negotiated = tokio::time::timeout(CONNECT_TIMEOUT, client.negotiate_version())
            .await
            .map_err(|_| unreachable(format!("no answer within {CONNECT_TIMEOUT:?}")))?
            .map_err(|e| unreachable(chain(&e)))?;
        tokio::time::timeout(CONNECT_TIMEOUT, negotiated.ping())
            .await
            .map_err(|_| unreachable(format!("no answer within {CONNECT_TIMEOUT:?}")))?
            .map_err(|e| unreachable(chain(&e)))?;
        tracing::debug!(
            endpoint = %endpoint,
            api = %negotiated.client_version(),
            "connected to Docker"
        );
        Ok(Docker {
            client: negotiated,
            endpoint,
        })
    }

    /// The endpoint this client talks to, for messages.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The underlying bollard client, for calls this layer does not wrap.
    pub fn client(&self) -> &bollard::Docker {
        &self.client
    }

    /// The engine's machine: its CPUs and memory in bytes.
    pub async fn machine(&self) -> Result<(u64, u64), DockerError> {
        let info = self
            .client
            .info()
            .await
            .map_err(self.err("reading the engine's info"))?;
        Ok((
            info.ncpu.unwrap_or(1).max(1) as u64,
            info.mem_total.unwrap_or(0).max(0) as u64,
        ))
    }

    /// The API version in use after negotiation, e.g. `1.41`.
    pub fn api_version(&self) -> String {
        self.client.client_version().to_string()
    }

    /// Maps a bollard error met while `doing` something: a broken connection becomes
    /// [`DockerError::Unreachable`], anything else [`DockerError::Api`].
    pub(crate) fn err(
        &self,
        doing: impl Into<String>,
    ) -> impl FnOnce(bollard::errors::Error) -> DockerError {
        let endpoint = self.endpoint.clone();
        let doing = doing.into();
        move |source| api_error(&endpoint, doing, source)
    }

    /// Like [`Docker::err`], but a 404 becomes [`DockerError::NotFound`] and a 409
    /// [`DockerError::Conflict`] for this kind of object.
    pub(crate) fn err_for(
        &self,
        kind: &'static str,
        name: &str,
        doing: impl Into<String>,
    ) -> impl FnOnce(bollard::errors::Error) -> DockerError {
        let name = name.to_string();
        let generic = self.err(doing);
        move |source| match server_error(&source) {
            Some((404, _)) => DockerError::NotFound { kind, name },
            Some((409, message)) => DockerError::Conflict {
                kind,
                name,
                message: message.to_string(),
            },
            _ => generic(source),
        }
    }
}

/// A bollard error met while `doing` something at `endpoint`: a broken connection becomes
/// [`DockerError::Unreachable`], anything else [`DockerError::Api`].
pub(crate) fn api_error(
    endpoint: &str,
    doing: String,
    source: bollard::errors::Error,
) -> DockerError {
    if is_connection_failure(&source) {
        DockerError::Unreachable {
            endpoint: endpoint.to_string(),
            reason: chain(&source),
        }
    } else {
        DockerError::Api { doing, source }
    }
}

/// True when the engine answered 404 (the object is gone already).
pub(crate) fn is_not_found(err: &bollard::errors::Error) -> bool {
    matches!(server_error(err), Some((404, _)))
}
