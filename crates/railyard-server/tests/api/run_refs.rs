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
