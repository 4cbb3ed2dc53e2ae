//! The agent's error type.

/// What can stop the agent or one of its calls.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The server could not be reached, or its answer not read.
    #[error("cannot talk to the server at {url} (is `railyard server` running there?)")]
    Http {
        /// The URL called.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The server's TLS certificate is not one this client trusts.
    #[error(
        "the server at {url} showed a TLS certificate this client does not trust: pass the CA \
         that issued it with --ca-cert FILE (or RAILYARD_CA_CERT), or give the server a \
         certificate for this host name from a CA in the system's roots"
    )]
    Certificate {
        /// The URL called.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error.
    #[error("the server refused {path} ({status} {code}): {message}")]
    Api {
        /// The endpoint.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The error code of the body.
        code: String,
        /// The server's message.
        message: String,
    },
    /// Preparing a job's workspace failed.
    #[error("{0}")]
    Workspace(String),
}

impl AgentError {
    /// True for a 401: retrying with the same token cannot help.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, AgentError::Api { status: 401, .. })
    }

    /// True for a 413: the server takes no body this large, however often it is sent.
    pub fn is_too_large(&self) -> bool {
        matches!(self, AgentError::Api { status: 413, .. })
    }

    /// True when the server says the lease is no longer this agent's.
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, AgentError::Api { status: 410, .. })
    }
}
