//! A small client of the server's API: JSON in and out, bearer token, and the server's error
//! body turned into [`AgentError::Api`]. The CLI's client commands use it too.

use std::time::Duration;

use reqwest::StatusCode;

use railyard_types::api::{Endpoint, Media, Method};
use railyard_types::protocol::ErrorBody;

use crate::AgentError;

/// How long a call (other than a file upload) may take before it counts as unanswered and is
/// sent again: a server that is frozen (SIGSTOP, a hung host) or a connection that a
/// middlebox dropped silently would otherwise hold the call forever, since TCP itself may
/// never fail it.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Which certificates an HTTPS server may show: any that the system's roots vouch for (the
/// default), or only those issued by the CA the operator gives (`--ca-cert`), for a server
/// whose certificate comes from a private CA.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    ca: Vec<reqwest::Certificate>,
}

impl Trust {
    /// Trust only the CA certificates in the PEM file at `path`. The error names the file and
    /// says what it should hold.
    pub fn ca_file(path: &std::path::Path) -> Result<Trust, String> {
        let pem = std::fs::read(path).map_err(|e| {
            format!(
                "cannot read the CA certificate {}: {e}; pass a readable PEM file as --ca-cert                  (or RAILYARD_CA_CERT)",
                path.display()
            )
        })?;
        let ca = reqwest::Certificate::from_pem_bundle(&pem)
            .ok()
            .filter(|ca| !ca.is_empty())
            .ok_or_else(|| {
                format!(
                    "the CA certificate {} holds no PEM certificate (`-----BEGIN                      CERTIFICATE-----`); pass the CA that issued the server's certificate",
                    path.display()
                )
            })?;
        Ok(Trust { ca })
    }
}

/// The server's address and the token to show it.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the server at `base` (`http://host:port`); each call gives up after
    /// [`CALL_TIMEOUT`].
    pub fn new(base: &str, token: &str) -> Client {
        Client::with_timeout(base, token, CALL_TIMEOUT)
    }

    /// A client whose calls give up after `timeout` (a long-poll adds its own wait).
    pub fn with_timeout(base: &str, token: &str, timeout: Duration) -> Client {
        Client::with_trust(base, token, timeout, &Trust::default())
    }

    /// A client that checks an HTTPS server's certificate against `trust`.
    pub fn with_trust(base: &str, token: &str, timeout: Duration, trust: &Trust) -> Client {
        let mut http = reqwest::Client::builder().connect_timeout(Duration::from_secs(10));
        if !trust.ca.is_empty() {
            http = http.tls_certs_only(trust.ca.iter().cloned());
        }
        Client {
            http: http.build().expect("the HTTP client builds"),
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            timeout,
        }
    }

    /// Calls endpoint `E` (declared in [`railyard_types::api`]) with its path parameters and
    /// body; its answer as declared (`()` for 204, `Option` where it may be 204).
    pub async fn call<E: Endpoint<Query = ()>>(
        &self,
        path: &E::Path,
        body: &E::Request,
    ) -> Result<E::Response, AgentError> {
        self.call_with::<E>(&E::url(path, &()), body, self.timeout)
            .await
    }

    /// [`Client::call`] of a long-poll where the server may hold the answer for up to `wait`:
    /// the call's timeout is that much longer.
    pub async fn call_waiting<E: Endpoint<Query = ()>>(
        &self,
        path: &E::Path,
        body: &E::Request,
        wait: Duration,
    ) -> Result<E::Response, AgentError> {
        self.call_with::<E>(&E::url(path, &()), body, self.timeout + wait)
            .await
    }

    /// [`Client::call`] giving up after `timeout` (a heartbeat must not outlast the lease it
    /// renews: the next beat goes out instead).
    pub async fn call_within<E: Endpoint<Query = ()>>(
        &self,
        path: &E::Path,
        body: &E::Request,
        timeout: Duration,
    ) -> Result<E::Response, AgentError> {
        self.call_with::<E>(&E::url(path, &()), body, timeout).await
    }

    /// [`Client::call`] of an endpoint that takes a query.
    pub async fn call_query<E: Endpoint>(
        &self,
        path: &E::Path,
        query: &E::Query,
        body: &E::Request,
    ) -> Result<E::Response, AgentError> {
        self.call_with::<E>(&E::url(path, query), body, self.timeout)
            .await
    }

    /// Starts a call of `E` whose answer is read as it comes (a followed log's events): the
    /// answer once its status is a success, with no timeout, since it lasts as long as what
    /// it follows.
    pub async fn open<E: Endpoint>(
        &self,
        path: &E::Path,
        query: &E::Query,
        body: &E::Request,
    ) -> Result<reqwest::Response, AgentError> {
        self.send::<E>(&E::url(path, query), body, None).await
    }

    async fn call_with<E: Endpoint>(
        &self,
        path: &str,
        body: &E::Request,
        timeout: Duration,
    ) -> Result<E::Response, AgentError> {
        let response = self.send::<E>(path, body, Some(timeout)).await?;
        let status = response.status();
        let read = |source| self.http_error(path, source);
        let answer = match E::RESPONSE {
            _ if status == StatusCode::NO_CONTENT => serde_json::Value::Null,
            Media::Json | Media::OptionalJson => response.json().await.map_err(read)?,
            Media::Text => serde_json::Value::String(response.text().await.map_err(read)?),
            _ => serde_json::Value::Null,
        };
        serde_json::from_value(answer).map_err(|_| AgentError::Api {
            path: path.into(),
            status: status.as_u16(),
            code: "no_content".into(),
            message: "the server sent nothing".into(),
        })
    }

    /// Sends `E`'s request to `path`; the answer when its status is a success, else the
    /// server's error.
    async fn send<E: Endpoint>(
        &self,
        path: &str,
        body: &E::Request,
        timeout: Option<Duration>,
    ) -> Result<reqwest::Response, AgentError> {
        let method = match E::METHOD {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
        };
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        if matches!(E::REQUEST, Media::Json | Media::OptionalJson) {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|source| self.http_error(path, source))?;
        if !response.status().is_success() {
            return Err(api_error(path, response).await);
        }
        Ok(response)
    }

    /// PUTs the file at `file` to endpoint `E` (an artifact upload, an advisory file),
    /// streamed from disk; its answer as declared. It may take the call timeout plus a second
    /// per 64 KiB (a slow link), then counts as unanswered: a frozen server would otherwise
    /// hold it for ever.
    pub async fn put_file<E: Endpoint>(
        &self,
        path: &E::Path,
        query: &E::Query,
        file: &std::path::Path,
    ) -> Result<E::Response, AgentError> {
        let path = E::url(path, query);
        let opened = tokio::fs::File::open(file)
            .await
            .map_err(|e| AgentError::Workspace(format!("opening {}: {e}", file.display())))?;
        let size = opened.metadata().await.map(|m| m.len()).unwrap_or(0);
        let timeout = self.timeout + Duration::from_secs(size / (64 * 1024));
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(opened));
        let response = self
            .http
            .put(self.url(&path))
            .body(body)
            .timeout(timeout)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|source| self.http_error(&path, source))?;
        if !response.status().is_success() {
            return Err(api_error(&path, response).await);
        }
        let status = response.status();
        let answer = match E::RESPONSE {
            _ if status == StatusCode::NO_CONTENT => serde_json::Value::Null,
            Media::Json | Media::OptionalJson => {
                (response.json().await).map_err(|source| self.http_error(&path, source))?
            }
            _ => serde_json::Value::Null,
        };
        serde_json::from_value(answer).map_err(|_| AgentError::Api {
            path: path.clone(),
            status: status.as_u16(),
            code: "no_content".into(),
            message: "the server sent nothing".into(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn http_error(&self, path: &str, source: reqwest::Error) -> AgentError {
        let url = self.url(path);
        // rustls says `invalid peer certificate: …` somewhere down the chain (the levels
        // between are hyper's and io's, whose types are not ours to match on).
        let mut cause: Option<&dyn std::error::Error> = Some(&source);
        while let Some(e) = cause {
            if e.to_string().contains("invalid peer certificate") {
                return AgentError::Certificate { url, source };
            }
            cause = e.source();
        }
        AgentError::Http { url, source }
    }
}

async fn api_error(path: &str, response: reqwest::Response) -> AgentError {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => AgentError::Api {
            path: path.into(),
            status,
            code: body.error.code,
            message: body.error.message,
        },
        Err(_) => AgentError::Api {
            path: path.into(),
            status,
            code: "unknown".into(),
            message: text.chars().take(300).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use railyard_types::JobId;
    use railyard_types::api;
    use railyard_types::protocol::{ClaimRequest, LeaseRef};

    /// A server that takes the connection and never answers (frozen, or a dropped route)
    /// fails the call after the timeout, as a call to send again, where it hung for ever.
    #[tokio::test]
    async fn a_server_that_never_answers_times_out_as_unanswered() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let held = tokio::spawn(async move {
            let mut kept = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                kept.push(conn);
            }
        });
        let client = Client::with_timeout(&base, "t", Duration::from_millis(300));
        let lease = LeaseRef {
            agent_id: "a".into(),
            attempt: 1,
        };
        let job = JobId::from("1");
        let call = client.call::<api::Heartbeat>(&job, &lease);
        let outcome = tokio::time::timeout(Duration::from_secs(20), call)
            .await
            .expect("the call gave up by itself");
        let e = outcome.unwrap_err();
        assert!(crate::retry::is_transient(&e), "{e}");
        assert!(
            matches!(&e, AgentError::Http { source, .. } if source.is_timeout()),
            "{e:?}"
        );
        // A long-poll gets its wait on top: the same server holds it past the plain timeout.
        let started = std::time::Instant::now();
        let claim = ClaimRequest {
            agent_id: "a".into(),
            wait_ms: None,
        };
        let waiting = client.call_waiting::<api::ClaimJob>(&(), &claim, Duration::from_millis(700));
        assert!(waiting.await.is_err());
        assert!(started.elapsed() >= Duration::from_millis(1000));
        held.abort();
    }
}
