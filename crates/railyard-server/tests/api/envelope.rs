//! Every error a client can get, the framework's own rejections included, is the documented
//! `{"error": {"code", "message"}}` with a message that says what was wrong, and stores
//! nothing; `/healthz` and `/readyz` answer without a token, `/readyz` 503 while the database
//! lacks a migration or does not answer.

use std::time::{Duration, Instant};

use railyard_test_support::http::{Reply, request};

use railyard_test_support::http::json as http;
use railyard_test_support::pg::SyncPgDb as PgDb;

use crate::server::{ADMIN, Server};

/// One request with exactly these headers (`Name: value`, so a test may leave out
/// `Content-Type`).
fn raw(base: &str, method: &str, path: &str, headers: &[&str], body: &[u8]) -> Reply {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|h| h.split_once(": ").expect("a header as `Name: value`"))
        .collect();
    request(base, method, path, &headers, body)
}

/// The error envelope of a [`Reply`].
trait Envelope {
    fn error(&self, status: u16, code: &str) -> String;
}

impl Envelope for Reply {
    /// Asserts the envelope with this status and code; returns the message.
    fn error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{}",
            self.body
        );
        let body: serde_json::Value = serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body));
        assert_eq!(body["error"]["code"], code, "{body}");
        assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
        body["error"]["message"].as_str().unwrap().to_string()
    }
}

const BEARER: &str = "Authorization: Bearer admin-secret";
const JSON: &str = "Content-Type: application/json";

#[test]
fn every_error_is_in_the_envelope() {
    let server = Server::start();
    let url = server.url.clone();
    let post = |path: &str, headers: &[&str], body: &str| {
        raw(&url, "POST", path, headers, body.as_bytes())
    };

    // Bodies: not JSON, not the route's shape, no or another Content-Type, too large.
    let m = post("/api/v1/projects", &[BEARER, JSON], r#"{"name": "#).error(400, "bad_request");
    assert!(
        m.starts_with("the request body is not valid JSON: ") && m.contains("line 1"),
        "{m}"
    );
    let wrong = r#"{"name": 5, "repo": "x"}"#;
    let m = post("/api/v1/projects", &[BEARER, JSON], wrong).error(400, "bad_request");
    assert!(
        m.starts_with("the request body does not fit POST /api/v1/projects: name: invalid type"),
        "{m}"
    );
    let m = post("/api/v1/projects", &[BEARER, JSON], r#"{"name": "x"}"#).error(400, "bad_request");
    assert!(m.contains("missing field `repo`"), "{m}");
    let good = r#"{"name": "x", "repo": "file:///nowhere.git"}"#;
    let m = post("/api/v1/projects", &[BEARER], good).error(415, "unsupported_media_type");
    assert_eq!(
        m,
        "POST /api/v1/projects got a body without `Content-Type`: send JSON with \
         `Content-Type: application/json`"
    );
    let form = "Content-Type: application/x-www-form-urlencoded";
    let m = post(
        "/api/v1/projects/x/trigger",
        &[BEARER, form],
        r#"{"ref": "main"}"#,
    )
    .error(415, "unsupported_media_type");
    assert!(
        m.contains("`application/x-www-form-urlencoded` body"),
        "{m}"
    );
    let m = post("/api/v1/projects/x/trigger", &[BEARER, JSON], "{ref").error(400, "bad_request");
    assert!(m.starts_with("the request body is not valid JSON"), "{m}");
    let m = post("/api/v1/projects", &[BEARER, JSON], "").error(400, "bad_request");
    assert!(m.contains("takes a JSON body and got none"), "{m}");
    let huge = format!(r#"{{"name": "x", "repo": "{}"}}"#, "a".repeat(3 << 20));
    let m = post("/api/v1/projects", &[BEARER, JSON], &huge).error(413, "too_large");
    assert!(m.contains("limit of 2 MiB"), "{m}");

    // Routes, methods, paths and queries the framework refuses.
    let m = raw(&url, "GET", "/api/v1/nothing", &[], b"").error(404, "not_found");
    assert_eq!(
        m,
        "no such endpoint: GET /api/v1/nothing (GET /api/v1/openapi.json lists every route)"
    );
    let reply = raw(&url, "DELETE", "/api/v1/runs", &[BEARER], b"");
    let m = reply.error(405, "method_not_allowed");
    assert_eq!(m, "/api/v1/runs does not take DELETE: use GET, HEAD");
    assert_eq!(reply.header("allow"), Some("GET,HEAD"));
    let m = raw(&url, "GET", "/api/v1/runs?limit=many", &[BEARER], b"").error(400, "bad_request");
    assert!(
        m.starts_with("GET /api/v1/runs: ") && m.contains("limit: invalid digit"),
        "{m}"
    );
    let m = raw(&url, "GET", "/api/v1/runs/%FF%FE", &[BEARER], b"").error(400, "bad_request");
    assert!(m.starts_with("GET /api/v1/runs/%FF%FE: "), "{m}");
    let m = raw(&url, "GET", "/api/v1/runs", &[], b"").error(401, "unauthorized");
    assert!(m.contains("Authorization: Bearer"), "{m}");
    let m = post("/api/v1/projects/nope/remove", &[BEARER], "").error(404, "not_found");
    assert!(m.contains("project `nope`"), "{m}");

    // Nothing of it was stored.
    let (status, body) = http(&url, "GET", "/api/v1/projects", Some(ADMIN), "");
    assert_eq!((status, body.as_str()), (200, "[]"));
    let (status, body) = http(&url, "GET", "/api/v1/runs", Some(ADMIN), "");
    assert_eq!((status, body.as_str()), (200, "[]"));
}

#[test]
fn health_and_readiness_on_sqlite() {
    let server = Server::start();
    let url = server.url.clone();
    assert_ready(&url);
    // A database that lost a migration this server has is not ready; the process still is.
    let db = server.db_file();
    let sqlite = |sql: &str| {
        let out = std::process::Command::new("sqlite3")
            .arg(&db)
            .arg(sql)
            .output()
            .expect("sqlite3 runs");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim().to_string()
    };
    let last = sqlite("SELECT MAX(version) FROM _sqlx_migrations");
    sqlite(&format!(
        "DELETE FROM _sqlx_migrations WHERE version = {last}"
    ));
    let m = raw(&url, "GET", "/readyz", &[], b"").error(503, "unavailable");
    assert!(
        m.contains(&format!(
            "lacks migration(s) {last} of this server: restart it"
        )),
        "{m}"
    );
    assert_eq!(raw(&url, "GET", "/healthz", &[], b"").status, 200);
}

/// On PostgreSQL: a database that stops taking connections makes the server unready (within
/// the probe's 5 s) and ready again once it takes them, the process healthy throughout.
#[test]
fn health_and_readiness_on_postgres() {
    let Some(db) = PgDb::create() else {
        return;
    };
    let server = Server::start_on(Some(&db.url));
    let url = server.url.clone();
    assert_ready(&url);
    let name = db.name().to_string();
    let admin_sql = |sql: &str| db.admin_sql(sql);
    admin_sql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"));
    admin_sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ));
    let started = Instant::now();
    let m = raw(&url, "GET", "/readyz", &[], b"").error(503, "unavailable");
    assert!(started.elapsed() < Duration::from_secs(8), "{m}");
    assert!(m.contains("database"), "{m}");
    assert_eq!(raw(&url, "GET", "/healthz", &[], b"").status, 200);
    admin_sql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while raw(&url, "GET", "/readyz", &[], b"").status != 200 {
        assert!(Instant::now() < deadline, "never ready again");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Both probes answer `{"status": "ok"}` without a token.
fn assert_ready(url: &str) {
    for path in ["/healthz", "/readyz"] {
        let reply = raw(url, "GET", path, &[], b"");
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(body, serde_json::json!({"status": "ok"}), "{path}");
    }
}
