//! Who may call: tokens and signed push webhooks.

use std::io::{Read, Write};
use std::process::Command;

use crate::fleet::*;

#[test]
fn bad_tokens_get_401() {
    let mut fleet = Fleet::start("env: { image: busybox }\njobs:\n  a:\n    script: [echo a]\n");
    let out = output_within(
        fleet.cli(&["project", "add", "demo", "--repo", "x", "--token", "wrong"]),
        30,
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("401"), "{}", text(&out.stderr));
    for (path, token) in [
        ("/api/v1/projects", None),
        ("/api/v1/projects", Some(AGENT)),
        ("/api/v1/agents/claim", Some(ADMIN)),
        ("/api/v1/agents/register", Some("nope")),
    ] {
        let (status, body) = http(&fleet.url, "POST", path, token, "{}");
        assert_eq!(status, 401, "{path} {token:?}: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    // An agent with the wrong token stops at once and says why.
    let out = output_within(
        {
            let mut cmd = bin();
            cmd.args(["agent", "--server", &fleet.url, "--token", "wrong"]);
            cmd
        },
        30,
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("401"), "{}", text(&out.stderr));
    fleet.agents.clear();
}

#[test]
fn push_webhooks_are_verified_and_start_runs() {
    let mut fleet =
        Fleet::start("env: { image: busybox }\njobs:\n  hook:\n    script: [echo from a push]\n");
    let out = output_within(
        fleet.cli(&[
            "project",
            "add",
            "demo",
            "--repo",
            &fleet.repo_url(),
            "--webhook-secret",
            "s3cret",
        ]),
        30,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let head = Command::new("git")
        .args([
            "--git-dir",
            &fleet.dir.path().join("repo.git").display().to_string(),
            "rev-parse",
            "main",
        ])
        .output()
        .unwrap();
    let commit = text(&head.stdout).trim().to_string();
    let push = format!(r#"{{"ref":"refs/heads/main","after":"{commit}"}}"#);
    let hook = |project: &str, header: Option<(&str, &str)>, body: &str| {
        let addr = fleet.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let extra = header
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "POST /api/v1/projects/{project}/webhook HTTP/1.1\r\nHost: {addr}\r\n{extra}X-Gitlab-Event: Push Hook\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status: u16 = response.split(' ').nth(1).unwrap().parse().unwrap();
        (status, response)
    };
    let good = Some(("X-Gitlab-Token", "s3cret"));
    for (project, header, body, expected) in [
        ("demo", None, push.as_str(), 401),
        (
            "demo",
            Some(("X-Gitlab-Token", "wrong")),
            push.as_str(),
            401,
        ),
        (
            "demo",
            Some(("X-Hub-Signature-256", "sha256=00")),
            push.as_str(),
            401,
        ),
        ("nope", good, push.as_str(), 401),
        ("demo", good, "not json", 400),
        ("demo", good, r#"{"ref":"refs/heads/main"}"#, 400),
        ("demo", good, r#"{"after":"; rm -rf /"}"#, 400),
    ] {
        let (status, response) = hook(project, header, body);
        assert_eq!(status, expected, "{project} {header:?} {body}: {response}");
    }
    let (_, runs) = fleet.get("/api/v1/runs");
    assert_eq!(runs.trim(), "[]", "refused deliveries queued nothing");

    let (status, response) = hook("demo", good, &push);
    assert_eq!(status, 201, "{response}");
    let body = response.split_once("\r\n\r\n").unwrap().1;
    let answer: serde_json::Value = serde_json::from_str(body).unwrap();
    let run = answer["run"]["id"].as_str().unwrap().to_string();
    assert_eq!(answer["run"]["commit"], commit.as_str());
    fleet.agent("hooked");
    let detail = fleet.wait_run(&run, 240);
    assert_eq!(
        detail["run"]["status"],
        "success",
        "{detail}\n{}",
        fleet.diagnostics()
    );
    assert_nothing_left(&run);
}
