//! A small client of the server's API: JSON in and out, bearer token, and the server's error
//! body turned into [`AgentError::Api`]. The CLI's client commands use it too.

use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

use railyard_types::protocol::ErrorBody;

use crate::AgentError;

/// The server's address and the token to show it.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the server at `base` (`http://host:port`).
    pub fn new(base: &str, token: &str) -> Client {
        Client {
            http: reqwest::Client::builder()
                .connect_timeout(std::time::Duration::from_secs(10))
                .build()
                .expect("an HTTP client without TLS builds"),
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
        }
    }

    /// POSTs `body` to `path`; `None` when the server answered 204 (no content).
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Option<T>, AgentError> {
        let request = self.http.post(self.url(path)).json(body);
        self.send(path, request).await
    }

    /// PATCHes `path` with `body`; `None` when the server answered 204 (no content).
    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Option<T>, AgentError> {
        let request = self.http.patch(self.url(path)).json(body);
        self.send(path, request).await
    }

    /// PUTs the file at `file` to `path`, streamed from disk.
    pub async fn put_file(&self, path: &str, file: &std::path::Path) -> Result<(), AgentError> {
        let opened = tokio::fs::File::open(file)
            .await
            .map_err(|e| AgentError::Workspace(format!("opening {}: {e}", file.display())))?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(opened));
        let request = self.http.put(self.url(path)).body(body);
        self.send::<serde_json::Value>(path, request).await?;
        Ok(())
    }

    /// GETs `path` as JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, AgentError> {
        let request = self.http.get(self.url(path));
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
