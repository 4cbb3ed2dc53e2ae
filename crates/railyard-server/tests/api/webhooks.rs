//! Hostile webhooks against the in-process server, on SQLite and PostgreSQL: one 401 that
//! tells no project from another, a body capped while it is read, a replayed delivery that
//! starts no second run, and concurrent pushes of one project that all make their runs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use railyard_test_support::http::{Reply, json as http, request};
use railyard_test_support::pg::SyncPgDb as PgDb;

use crate::server::{ADMIN, Server};

const SECRET: &str = "s3cret";

/// Runs `test` on a server over SQLite, then over PostgreSQL (when the tests have one).
pub fn on_both(test: impl Fn(&Server)) {
    test(&Server::start());
    if let Some(db) = PgDb::create() {
        test(&Server::start_on(Some(&db.url)));
    }
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A bare repository `name.git` in the server's folder with a one-job pipeline on `main`:
/// its `file://` URL and head commit.
pub fn repo(server: &Server, name: &str) -> (String, String) {
    let dir = server.dir.path();
    let work = dir.join(format!("{name}-work"));
    std::fs::create_dir_all(&work).unwrap();
    let bare = format!("{name}.git");
    git(
        dir,
        &["init", "-q", "--bare", "--initial-branch=main", &bare],
    );
    git(&work, &["init", "-q", "--initial-branch=main"]);
    let pipeline = "env: { image: busybox }\njobs:\n  a:\n    script: [echo a]\n";
    std::fs::write(work.join(".railyard.yml"), pipeline).unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "pipeline"]);
    git(&work, &["push", "-q", &format!("../{bare}"), "main"]);
    let commit = git(&work, &["rev-parse", "HEAD"]);
    (format!("file://{}", dir.join(bare).display()), commit)
}

/// Adds project `name` on `url`, with `secret` as its webhook secret if given.
pub fn add_project(server: &Server, name: &str, url: &str, secret: Option<&str>) {
    let mut body = serde_json::json!({ "name": name, "repo": url });
    if let Some(secret) = secret {
        body["webhook_secret"] = secret.into();
    }
    let (status, reply) = http(
        &server.url,
        "POST",
        "/api/v1/projects",
        Some(ADMIN),
        &body.to_string(),
    );
    assert_eq!(status, 201, "{reply}");
}

/// HMAC-SHA256 of `body` under `secret`, in hex.
fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn hook(url: &str, project: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let path = format!("/api/v1/projects/{project}/webhook");
    request(url, "POST", &path, headers, body.to_vec())
}

/// The runs of `project` the server lists.
fn runs_of(server: &Server, project: &str) -> Vec<serde_json::Value> {
    let path = format!("/api/v1/runs?project={project}&limit=1000");
    let (status, body) = http(&server.url, "GET", &path, Some(ADMIN), "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn push_body(commit: &str) -> String {
    format!(r#"{{"ref":"refs/heads/main","after":"{commit}"}}"#)
}

/// An unknown project, a project without a secret, a bad, missing or malformed signature and
/// a wrong GitLab token: one status and one body, byte for byte, and nothing queued.
#[test]
fn webhook_refusals_are_one_401_whatever_the_project() {
    on_both(|server| {
        let (url, commit) = repo(server, "r");
        add_project(server, "demo", &url, Some(SECRET));
        add_project(server, "bare", &url, None);
        let push = push_body(&commit);
        let signed = format!("sha256={}", hmac_hex(SECRET, push.as_bytes()));
        let other = format!("sha256={}", hmac_hex("other", push.as_bytes()));
        let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
            ("demo", vec![("X-Hub-Signature-256", &other)]),
            ("nope", vec![("X-Hub-Signature-256", &signed)]),
            ("bare", vec![("X-Hub-Signature-256", &signed)]),
            ("demo", vec![]),
            ("nope", vec![]),
            ("demo", vec![("X-Hub-Signature-256", "sha256=zz")]),
            ("demo", vec![("X-Gitea-Signature", &other[7..])]),
            ("nope", vec![("X-Gitea-Signature", &signed[7..])]),
            ("demo", vec![("X-Gitlab-Token", "wrong")]),
            ("nope", vec![("X-Gitlab-Token", SECRET)]),
            ("bare", vec![("X-Gitlab-Token", "")]),
        ];
        let first = hook(&server.url, "demo", &cases[0].1, push.as_bytes());
        assert_eq!(first.status, 401, "{}", first.body);
        assert!(first.body.contains("\"unauthorized\""), "{}", first.body);
        for (project, headers) in &cases {
            let reply = hook(&server.url, project, headers, push.as_bytes());
            assert_eq!(
                (reply.status, &reply.body),
                (first.status, &first.body),
                "{project} {headers:?}"
            );
        }
        // A body over the cap gets one 413 too, whether the project exists or not.
        let big = vec![b' '; (1 << 20) + 1];
        let sig = format!("sha256={}", hmac_hex(SECRET, &big));
        let known = hook(&server.url, "demo", &[("X-Hub-Signature-256", &sig)], &big);
        let unknown = hook(&server.url, "nope", &[("X-Hub-Signature-256", &sig)], &big);
        assert_eq!(known.status, 413, "{}", known.body);
        assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
        assert!(known.body.contains("1 MiB"), "{}", known.body);
        assert!(runs_of(server, "demo").is_empty());
    });
}

/// Sends a webhook's head and `sent` bytes of a chunked body that never ends, and reads the
/// answer while the body is still open: the server answers without waiting for the rest.
fn answer_to_endless_body(server: &Server, length: Option<u64>, sent: usize) -> String {
    let addr = server.url.trim_start_matches("http://").to_owned();
    let stream = TcpStream::connect(&addr).unwrap();
    // A guard against a server that waits for the body: the test fails, it does not hang.
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let framing = match length {
        Some(n) => format!("Content-Length: {n}"),
        None => "Transfer-Encoding: chunked".to_owned(),
    };
    let head = format!(
        "POST /api/v1/projects/demo/webhook HTTP/1.1\r\nHost: {addr}\r\n\
         X-Hub-Signature-256: sha256={}\r\n{framing}\r\n\r\n",
        "00".repeat(32)
    );
    let mut writer = stream.try_clone().unwrap();
    let chunked = length.is_none();
    // The writer may block once the server stops reading: on a thread of its own, ended by
    // the connection's close.
    let sending = std::thread::spawn(move || {
        let _ = writer.write_all(head.as_bytes());
        let chunk = vec![b' '; 64 * 1024];
        let mut left = sent;
        while left > 0 {
            let n = left.min(chunk.len());
            let framed = if chunked {
                [format!("{n:x}\r\n").as_bytes(), &chunk[..n], b"\r\n"].concat()
            } else {
                chunk[..n].to_vec()
            };
            if writer.write_all(&framed).is_err() {
                return;
            }
            left -= n;
        }
    });
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let mut answer = status.clone();
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 2 {
        answer.push_str(&line);
        line.clear();
    }
    let mut body = vec![0u8; 512];
    let n = reader.read(&mut body).unwrap_or(0);
    answer.push_str(&String::from_utf8_lossy(&body[..n]));
    drop(reader);
    let _ = sending.join();
    answer
}

/// A body past 1 MiB is refused with 413 while it is still coming: declared by its length
/// (before a byte is read), or found so as it is read (2 MiB sent of a body never ended).
#[test]
fn an_oversize_webhook_body_is_refused_without_reading_it_all() {
    let server = Server::start();
    let (url, _) = repo(&server, "r");
    add_project(&server, "demo", &url, Some(SECRET));
    for (length, sent) in [(Some(1u64 << 30), 1000), (None, 2 << 20)] {
        let answer = answer_to_endless_body(&server, length, sent);
        assert!(answer.starts_with("HTTP/1.1 413"), "{length:?}: {answer}");
        assert!(answer.contains("limit of 1 MiB"), "{answer}");
    }
    assert!(runs_of(&server, "demo").is_empty());
}

/// A signed delivery sent again (after, or at the same time as, the first) starts no second
/// run and says why; each forge's delivery header counts; a delivery without an id starts a
/// run each time (nothing tells it from a replay); a malformed id is refused.
#[test]
fn a_replayed_delivery_makes_one_run() {
    on_both(|server| {
        let (url, commit) = repo(server, "r");
        add_project(server, "demo", &url, Some(SECRET));
        let push = push_body(&commit);
        let github = format!("sha256={}", hmac_hex(SECRET, push.as_bytes()));
        let gitea = hmac_hex(SECRET, push.as_bytes());
        let deliveries: [Vec<(&str, &str)>; 3] = [
            vec![
                ("X-GitHub-Event", "push"),
                ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
                ("X-Hub-Signature-256", &github),
            ],
            vec![
                ("X-Gitea-Event", "push"),
                ("X-Gitea-Delivery", "9f1c1e4a-2b6d-4e0b-8e55-0a6d8c7f1b2e"),
                ("X-Gitea-Signature", &gitea),
            ],
            vec![
                ("X-Gitlab-Event", "Push Hook"),
                (
                    "X-Gitlab-Event-UUID",
                    "13792a34-cac6-4fda-95a8-c58e00a3954e",
                ),
                ("X-Gitlab-Token", SECRET),
            ],
        ];
        for (n, headers) in deliveries.iter().enumerate() {
            let first = hook(&server.url, "demo", headers, push.as_bytes());
            assert_eq!(first.status, 201, "{headers:?}: {}", first.body);
            let again = hook(&server.url, "demo", headers, push.as_bytes());
            assert_eq!(again.status, 200, "{headers:?}: {}", again.body);
            let answer: serde_json::Value = serde_json::from_str(&again.body).unwrap();
            assert!(answer["run"].is_null(), "{}", again.body);
            let why = answer["ignored"].as_str().unwrap();
            assert!(
                why.contains(headers[1].1) && why.contains("already handled"),
                "{why}"
            );
            assert_eq!(runs_of(server, "demo").len(), n + 1);
        }
        // Eight copies of one delivery at once: one run.
        let copies: Vec<_> = (0..8)
            .map(|_| {
                let (url, push, github) = (server.url.clone(), push.clone(), github.clone());
                std::thread::spawn(move || {
                    let headers = [
                        ("X-GitHub-Delivery", "at-once"),
                        ("X-Hub-Signature-256", github.as_str()),
                    ];
                    hook(&url, "demo", &headers, push.as_bytes())
                })
            })
            .collect();
        let statuses: Vec<u16> = copies
            .into_iter()
            .map(|t| t.join().unwrap().status)
            .collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 201).count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| [200, 201].contains(s)),
            "{statuses:?}"
        );
        assert_eq!(runs_of(server, "demo").len(), 4);
        // No id: a run each time.
        for _ in 0..2 {
            let plain = [("X-Hub-Signature-256", github.as_str())];
            let reply = hook(&server.url, "demo", &plain, push.as_bytes());
            assert_eq!(reply.status, 201, "{}", reply.body);
        }
        assert_eq!(runs_of(server, "demo").len(), 6);
        let long = "x".repeat(200);
        for bad in [long.as_str(), "a b"] {
            let headers = [("X-GitHub-Delivery", bad), ("X-Hub-Signature-256", &github)];
            let reply = hook(&server.url, "demo", &headers, push.as_bytes());
            assert_eq!(reply.status, 400, "{}", reply.body);
            assert!(reply.body.contains("x-github-delivery"), "{}", reply.body);
        }
        assert_eq!(runs_of(server, "demo").len(), 6);
    });
}

/// Ten signed pushes of one project at once, then ten triggers at once: twenty runs (the
/// fetches into the project's one mirror collided with `cannot lock ref` before).
#[test]
fn ten_concurrent_pushes_of_one_project_make_ten_runs() {
    on_both(|server| {
        let (url, commit) = repo(server, "r");
        add_project(server, "demo", &url, Some(SECRET));
        let push = push_body(&commit);
        let github = format!("sha256={}", hmac_hex(SECRET, push.as_bytes()));
        let pushes: Vec<_> = (0..10)
            .map(|n| {
                let (url, push, github) = (server.url.clone(), push.clone(), github.clone());
                std::thread::spawn(move || {
                    let id = format!("delivery-{n}");
                    let headers = [
                        ("X-GitHub-Delivery", id.as_str()),
                        ("X-Hub-Signature-256", github.as_str()),
                    ];
                    hook(&url, "demo", &headers, push.as_bytes())
                })
            })
            .collect();
        for reply in pushes.into_iter().map(|t| t.join().unwrap()) {
            assert_eq!(reply.status, 201, "{}", reply.body);
        }
        assert_eq!(runs_of(server, "demo").len(), 10);
        let triggers: Vec<_> = (0..10)
            .map(|_| {
                let url = server.url.clone();
                std::thread::spawn(move || {
                    let path = "/api/v1/projects/demo/trigger";
                    http(&url, "POST", path, Some(ADMIN), r#"{"ref":"main"}"#)
                })
            })
            .collect();
        for (status, body) in triggers.into_iter().map(|t| t.join().unwrap()) {
            assert_eq!(status, 201, "{body}");
        }
        assert_eq!(runs_of(server, "demo").len(), 20);
    });
}
