//! Who may call: tokens and signed push webhooks.

use railyard_test_support::http::request;
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
    let hook = |project: &str, headers: &[(&str, &str)], body: &str| {
        let path = format!("/api/v1/projects/{project}/webhook");
        let reply = request(&fleet.url, "POST", &path, headers, body);
        (reply.status, reply.body)
    };
    let github = |body: &str| format!("sha256={}", hmac_hex("s3cret", body));
    let gitlab = [
        ("X-Gitlab-Event", "Push Hook"),
        ("X-Gitlab-Token", "s3cret"),
    ];
    let not_json = "not json";
    let no_after = r#"{"ref":"refs/heads/main"}"#;
    let bad_after = r#"{"after":"; rm -rf /"}"#;
    let refused: Vec<Delivery> = vec![
        ("demo", vec![], &push, 401),
        ("demo", vec![("X-Gitlab-Token", "wrong".into())], &push, 401),
        (
            "nope",
            vec![("X-Gitlab-Token", "s3cret".into())],
            &push,
            401,
        ),
        (
            "demo",
            vec![("X-Hub-Signature-256", "sha256=00".into())],
            &push,
            401,
        ),
        // Signed for another body, or without GitHub's `sha256=`.
        (
            "demo",
            vec![("X-Hub-Signature-256", github("{}"))],
            &push,
            401,
        ),
        (
            "demo",
            vec![("X-Hub-Signature-256", hmac_hex("s3cret", &push))],
            &push,
            401,
        ),
        (
            "demo",
            vec![("X-Gitea-Signature", hmac_hex("other", &push))],
            &push,
            401,
        ),
        (
            "demo",
            vec![("X-Gitlab-Token", "s3cret".into())],
            not_json,
            400,
        ),
        (
            "demo",
            vec![("X-Gitlab-Token", "s3cret".into())],
            no_after,
            400,
        ),
        (
            "demo",
            vec![("X-Gitlab-Token", "s3cret".into())],
            bad_after,
            400,
        ),
        (
            "demo",
            vec![("X-Hub-Signature-256", github(not_json))],
            not_json,
            400,
        ),
        (
            "demo",
            vec![("X-Gitea-Signature", hmac_hex("s3cret", no_after))],
            no_after,
            400,
        ),
    ];
    for (project, headers, body, expected) in &refused {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, response) = hook(project, &headers, body);
        assert_eq!(
            status, *expected,
            "{project} {headers:?} {body}: {response}"
        );
        assert!(response.contains("\"error\""), "{response}");
    }
    let (_, runs) = fleet.get("/api/v1/runs");
    assert_eq!(runs.trim(), "[]", "refused deliveries queued nothing");
    // GitHub's ping is answered and starts nothing.
    let ping = r#"{"zen":"Keep it logically awesome."}"#;
    let (status, response) = hook(
        "demo",
        &[
            ("X-GitHub-Event", "ping"),
            ("X-Hub-Signature-256", &github(ping)),
        ],
        ping,
    );
    assert_eq!(status, 200, "{response}");
    // A signed push from each forge starts a run for the pushed commit.
    let mut started = Vec::new();
    for headers in [
        vec![
            ("X-GitHub-Event", "push".to_string()),
            ("X-Hub-Signature-256", github(&push)),
        ],
        vec![
            ("X-Gitea-Event", "push".to_string()),
            ("X-Gitea-Signature", hmac_hex("s3cret", &push)),
        ],
        gitlab.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, response) = hook("demo", &headers, &push);
        assert_eq!(status, 201, "{headers:?}: {response}");
        let answer: serde_json::Value = serde_json::from_str(&response).unwrap();
        assert_eq!(answer["run"]["commit"], commit.as_str());
        started.push(answer["run"]["id"].as_str().unwrap().to_string());
    }
    fleet.agent("hooked");
    for run in &started {
        fleet.wait_success(run, 240);
        assert_nothing_left(run);
    }
}

/// A webhook delivery: project, headers, body, and the status it must get.
type Delivery<'a> = (&'a str, Vec<(&'a str, String)>, &'a str, u16);

/// HMAC-SHA256 of `body` under `secret`, in hex: what GitHub and Gitea sign a delivery with.
pub(crate) fn hmac_hex(secret: &str, body: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}
