//! A real OCI registry for the tests: Debian's `docker-registry` (the CNCF Distribution
//! registry) on a free loopback port, storing into a temporary folder, without auth or (with
//! [`Registry::start_with_auth`]) with htpasswd basic auth, which Distribution serves over
//! plain HTTP and the engine sends to loopback. Docker
//! speaks plain HTTP to loopback addresses without any daemon setting, so the engine pushes to
//! it as to any registry.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs the registry.
pub const BINARY: &str = "/usr/bin/docker-registry";

/// The user of [`Registry::start_with_auth`].
pub const AUTH_USER: &str = "railyard";
/// Its password.
pub const AUTH_PASSWORD: &str = "railyard-test-pw";
/// Its bcrypt hash (cost 4: a test's, made once with Python's `crypt`), the only kind
/// Distribution's htpasswd takes.
const AUTH_HASH: &str = "$2b$04$kpc4peHTthNrWNBvzBZ3XObtHg0Xch9/4RiM3a/gVmNbaDinzA.eW";
/// `Basic` credentials of `railyard:railyard-test-pw`, for the test's own reads.
const AUTH_BASIC: &str = "cmFpbHlhcmQ6cmFpbHlhcmQtdGVzdC1wdw==";

/// A running registry, killed (and its storage removed) when dropped.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`: the registry part of an image reference.
    pub host: String,
    /// True when it asks for [`AUTH_USER`] and [`AUTH_PASSWORD`].
    pub auth: bool,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry and waits until `GET /v2/` answers 200. `None` when the binary is
    /// missing (after a loud [`crate::skip`], which fails under `CI=true`).
    pub fn start() -> Option<Registry> {
        Registry::start_as(false)
    }

    /// [`Registry::start`] with htpasswd auth: every request needs [`AUTH_USER`] and
    /// [`AUTH_PASSWORD`].
    pub fn start_with_auth() -> Option<Registry> {
        Registry::start_as(true)
    }

    fn start_as(auth: bool) -> Option<Registry> {
        if !std::path::Path::new(BINARY).exists() {
            crate::skip("docker-registry is not installed (apt-get install docker-registry)");
            return None;
        }
        let dir = tempfile::tempdir().expect("a folder for the registry");
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        let storage: PathBuf = dir.path().join("storage");
        let mut text = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
            storage.display()
        );
        if auth {
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{AUTH_USER}:{AUTH_HASH}\n"))
                .expect("writing the htpasswd file");
            text.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: railyard-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        std::fs::write(&config, text).expect("writing the registry's config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("a log file");
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file"))
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        let mut registry = Registry {
            child,
            host,
            auth,
            _dir: dir,
        };
        registry.wait_ready();
        Some(registry)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }

    /// The tags of `repository` (`prefix/project/app`), empty when it has none.
    pub fn tags(&self, repository: &str) -> Vec<String> {
        let (status, _, body) = self.get("GET", &format!("/v2/{repository}/tags/list"), "");
        if status == 404 {
            return Vec::new();
        }
        assert_eq!(status, 200, "tags of {repository}: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).expect("a JSON tag list");
        body["tags"]
            .as_array()
            .map(|tags| {
                tags.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every repository the registry holds (`GET /v2/_catalog`).
    pub fn repositories(&self) -> Vec<String> {
        let (status, _, body) = self.get("GET", "/v2/_catalog", "");
        assert_eq!(status, 200, "the catalog: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).expect("a JSON catalog");
        body["repositories"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The digest (`sha256:…`) of the manifest `repository:tag`, as the registry names it
    /// (`Docker-Content-Digest`), or `None` when there is no such tag.
    pub fn manifest_digest(&self, repository: &str, tag: &str) -> Option<String> {
        let accept = "application/vnd.docker.distribution.manifest.v2+json, \
                      application/vnd.oci.image.manifest.v1+json";
        let (status, headers, _) =
            self.get("HEAD", &format!("/v2/{repository}/manifests/{tag}"), accept);
        match status {
            200 => headers
                .into_iter()
                .find(|(k, _)| k == "docker-content-digest")
                .map(|(_, v)| v),
            404 => None,
            other => panic!("manifest {repository}:{tag}: status {other}"),
        }
    }

    /// One plain HTTP/1.0 request on its own connection: status, headers (names lower-cased),
    /// body. Blocking std IO, so that async tests and plain ones can both call it.
    fn get(&self, method: &str, path: &str, accept: &str) -> (u16, Vec<(String, String)>, String) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.host).expect("the registry answers");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("a read timeout");
        let accept = if accept.is_empty() {
            String::new()
        } else {
            format!("Accept: {accept}\r\n")
        };
        let auth = if self.auth {
            format!("Authorization: Basic {AUTH_BASIC}\r\n")
        } else {
            String::new()
        };
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: {}\r\n{accept}{auth}\r\n",
            self.host
        )
        .expect("sending to the registry");
        let mut reply = Vec::new();
        stream
            .read_to_end(&mut reply)
            .expect("reading the registry's reply");
        let reply = String::from_utf8_lossy(&reply).into_owned();
        let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .expect("an HTTP status line");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        (status, headers, body.to_string())
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "docker-registry exited ({status}) before answering: {}",
                    std::fs::read_to_string(self._dir.path().join("registry.log"))
                        .unwrap_or_default()
                );
            }
            if std::net::TcpStream::connect(&self.host).is_ok()
                && self.get("GET", "/v2/", "").0 == 200
            {
                return;
            }
            // A bound on waiting for a process that never answers, not a timed assertion.
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "docker-registry did not answer GET /v2/ within a minute"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free now on loopback (the registry binds it a moment later).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
