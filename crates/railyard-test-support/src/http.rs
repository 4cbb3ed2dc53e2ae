//! One HTTP client for the tests: reqwest, each request on a connection of its own (a test
//! may kill and restart the server between two), read to its end.

use std::sync::OnceLock;
use std::time::Duration;

/// A response: status, headers (lower-cased names, in order) and body.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Each header as received, its name lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

impl Reply {
    /// The first value of the header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `method` `path` on the server at `base` (`http://host:port`) with exactly these headers
/// (none added: a test may leave out `Content-Type`) and body. Blocks; panics when no answer
/// comes (a read waits at most 30 s).
pub fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Vec<u8>>,
) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut req = client().request(method.clone(), format!("{base}{path}"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let body = body.into();
    let send = async move {
        let response = req.body(body).send().await?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (k.as_str().to_owned(), v)
            })
            .collect();
        let body = response.bytes().await?;
        Ok::<_, reqwest::Error>(Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    };
    crate::runtime()
        .block_on(send)
        .unwrap_or_else(|e| panic!("{method} {base}{path}: {e:?}"))
}

/// [`request`] with a bearer token (when given) and a JSON body: (status, body).
pub fn json(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth));
    }
    let reply = request(base, method, path, &headers, body);
    (reply.status, reply.body)
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        install_crypto_provider();
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .read_timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client")
    })
}

/// Installs aws-lc-rs as the test process's rustls crypto provider, as `railyard`'s `main`
/// does: the one provider compiled in (see CRATES.md's TLS rule). Calling it again does
/// nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
