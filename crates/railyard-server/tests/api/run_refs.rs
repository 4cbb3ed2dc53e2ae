//! A run reference that matches several runs (`1` when two projects each have a run #1) is
//! the client's mistake: 409 naming the candidates, never a 500; on SQLite and PostgreSQL.

use railyard_test_support::http::json as http;

use crate::server::ADMIN;
use crate::webhooks::{add_project, on_both, repo};

#[test]
fn an_ambiguous_run_reference_is_a_409_naming_the_candidates() {
    on_both(|server| {
        let (url, _) = repo(server, "r");
        let mut ids = Vec::new();
        for project in ["left", "right"] {
            add_project(server, project, &url, None);
            let path = format!("/api/v1/projects/{project}/trigger");
            let (status, body) = http(&server.url, "POST", &path, Some(ADMIN), "");
            assert_eq!(status, 201, "{body}");
            let triggered: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(triggered["run"]["number"], 1);
            ids.push(triggered["run"]["id"].as_str().unwrap().to_owned());
        }
        for path in [
            "/api/v1/runs/1",
            "/api/v1/runs/%231",
            "/api/v1/runs/1/logs/a",
            "/api/v1/runs/1/artifacts/a",
        ] {
            let (status, body) = http(&server.url, "GET", path, Some(ADMIN), "");
            assert_eq!(status, 409, "{path}: {body}");
            let error: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(error["error"]["code"], "conflict", "{body}");
            let message = error["error"]["message"].as_str().unwrap();
            assert!(message.contains("give more of the id"), "{message}");
            for id in &ids {
                assert!(message.contains(id.as_str()), "{path}: {message}");
            }
        }
        let (status, body) = http(
            &server.url,
            "POST",
            "/api/v1/runs/1/cancel",
            Some(ADMIN),
            "",
        );
        assert_eq!(status, 409, "{body}");
        // The full id is one run; an unknown one is 404.
        let (status, body) = http(
            &server.url,
            "GET",
            &format!("/api/v1/runs/{}", ids[0]),
            Some(ADMIN),
            "",
        );
        assert_eq!(status, 200, "{body}");
        let (status, body) = http(&server.url, "GET", "/api/v1/runs/7", Some(ADMIN), "");
        assert_eq!(status, 404, "{body}");
    });
}

/// Requests a client gets wrong (references of any shape, refs git refuses, names of no
/// project): each a 4xx in the envelope with a message, never a 500.
#[test]
fn a_clients_mistakes_are_never_a_500() {
    on_both(|server| {
        let (url, _) = repo(server, "r");
        add_project(server, "demo", &url, Some("s3cret"));
        let (status, body) = http(
            &server.url,
            "POST",
            "/api/v1/projects/demo/trigger",
            Some(ADMIN),
            "",
        );
        assert_eq!(status, 201, "{body}");
        let long = "7".repeat(5000);
        let huge_number = "99999999999999999999999";
        let mut requests: Vec<(&str, String, String)> = Vec::new();
        for reference in [
            "%00",
            "%23",
            "%23x",
            "-1",
            "'%20OR%201=1",
            "%25",
            "Z",
            huge_number,
            &long,
            "%F0%9F%92%A5",
        ] {
            for path in ["", "/logs/a", "/artifacts/a", "/logs/a/follow"] {
                let path = format!("/api/v1/runs/{reference}{path}");
                requests.push(("GET", path, String::new()));
            }
            let cancel = format!("/api/v1/runs/{reference}/cancel");
            requests.push(("POST", cancel, String::new()));
        }
        for path in [
            "/api/v1/runs/1/logs/%00",
            "/api/v1/runs/1/logs/..%2F..%2Fetc",
        ] {
            requests.push(("GET", path.to_owned(), String::new()));
        }
        for git_ref in [
            "-x",
            "--upload-pack=touch /tmp/x",
            "main\u{0}",
            "a..b",
            "refs/heads/ nope",
            &long,
        ] {
            let body = serde_json::json!({ "ref": git_ref }).to_string();
            requests.push(("POST", "/api/v1/projects/demo/trigger".into(), body));
        }
        for project in ["nope", "..", "a%00b", &long] {
            let path = format!("/api/v1/projects/{project}/trigger");
            requests.push(("POST", path, String::new()));
            let path = format!("/api/v1/runs?project={project}");
            requests.push(("GET", path, String::new()));
        }
        requests.push(("GET", "/api/v1/runs?limit=-1".into(), String::new()));
        requests.push((
            "GET",
            format!("/api/v1/runs?limit={huge_number}"),
            String::new(),
        ));
        requests.push((
            "GET",
            "/api/v1/deployments/%00?limit=-3".into(),
            String::new(),
        ));
        for (method, path, body) in &requests {
            let (status, answer) = http(&server.url, method, path, Some(ADMIN), body);
            let shown: String = path.chars().take(120).collect();
            assert!(
                status < 500,
                "{method} {shown} {body:.80}: {status} {answer}"
            );
            if status >= 400 {
                let error: serde_json::Value = serde_json::from_str(&answer)
                    .unwrap_or_else(|_| panic!("{method} {shown}: {answer}"));
                let message = error["error"]["message"].as_str().unwrap_or_default();
                assert!(!message.is_empty(), "{method} {shown}: {answer}");
            }
        }
    });
}
