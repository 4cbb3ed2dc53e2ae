//! A small client of the server's API: JSON in and out, bearer token, and the server's error
//! body turned into [`AgentError::Api`]. The CLI's client commands use it too.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

use railyard_types::protocol::ErrorBody;

use crate::AgentError;

/// How long a call (other than a file upload) may take before it counts as unanswered and is
/// sent again: a server that is frozen (SIGSTOP, a hung host) or a connection that a
/// middlebox dropped silently would otherwise hold the call forever, since TCP itself may
/// never fail it.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

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
        Client {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client without TLS builds"),
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            timeout,
        }
    }

    /// POSTs `body` to `path`; `None` when the server answered 204 (no content).
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Option<T>, AgentError> {
        self.post_waiting(path, body, Duration::ZERO).await
    }

    /// POSTs `body` to a long-poll at `path` where the server may hold the answer for up to
    /// `wait`: the call's timeout is that much longer.
    pub async fn post_waiting<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        wait: Duration,
    ) -> Result<Option<T>, AgentError> {
        self.post_within(path, body, self.timeout + wait).await
    }

    /// POSTs `body` to `path`, giving up after `timeout` (a heartbeat must not outlast the
    /// lease it renews: the next beat goes out instead).
    pub async fn post_within<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<Option<T>, AgentError> {
        let request = self.http.post(self.url(path)).json(body).timeout(timeout);
        self.send(path, request).await
    }

    /// PATCHes `path` with `body`; `None` when the server answered 204 (no content).
    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Option<T>, AgentError> {
        let request = self
            .http
            .patch(self.url(path))
            .json(body)
            .timeout(self.timeout);
        self.send(path, request).await
    }

    /// PUTs the file at `file` to `path`, streamed from disk. It may take the call timeout
    /// plus a second per 64 KiB (a slow link), then counts as unanswered: a frozen server
    /// would otherwise hold it for ever.
    pub async fn put_file(&self, path: &str, file: &std::path::Path) -> Result<(), AgentError> {
        let opened = tokio::fs::File::open(file)
            .await
            .map_err(|e| AgentError::Workspace(format!("opening {}: {e}", file.display())))?;
        let size = opened.metadata().await.map(|m| m.len()).unwrap_or(0);
        let timeout = self.timeout + Duration::from_secs(size / (64 * 1024));
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(opened));
        let request = self.http.put(self.url(path)).body(body).timeout(timeout);
        self.send::<serde_json::Value>(path, request).await?;
        Ok(())
    }

    /// GETs `path` as JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, AgentError> {
        let request = self.http.get(self.url(path)).timeout(self.timeout);
        self.send(path, request)
            .await?
            .ok_or_else(|| AgentError::Api {
                path: path.into(),
                status: 204,
                code: "no_content".into(),
                message: "the server sent nothing".into(),
            })
    }

    /// GETs `path` as text.
    pub async fn get_text(&self, path: &str) -> Result<String, AgentError> {
        let response = self
            .http
            .get(self.url(path))
            .timeout(self.timeout)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|source| self.http_error(path, source))?;
        if !response.status().is_success() {
            return Err(api_error(path, response).await);
        }
        response
            .text()
            .await
            .map_err(|source| self.http_error(path, source))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn http_error(&self, path: &str, source: reqwest::Error) -> AgentError {
        AgentError::Http {
            url: self.url(path),
            source,
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Option<T>, AgentError> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|source| self.http_error(path, source))?;
        match response.status() {
            StatusCode::NO_CONTENT => Ok(None),
            s if s.is_success() => response
                .json()
                .await
                .map(Some)
                .map_err(|source| self.http_error(path, source)),
            _ => Err(api_error(path, response).await),
        }
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
        let body = serde_json::json!({});
        let call = client.post::<_, serde_json::Value>("/api/v1/x", &body);
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
        let waiting =
            client.post_waiting::<_, serde_json::Value>("/x", &body, Duration::from_millis(700));
        assert!(waiting.await.is_err());
        assert!(started.elapsed() >= Duration::from_millis(1000));
        held.abort();
    }
}
