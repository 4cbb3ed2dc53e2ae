//! People, roles and personal tokens against the in-process server, on SQLite and
//! PostgreSQL: what each role may see and do, tokens narrowed, revoked, expired and of
//! removed people, sign-in refusals that tell nothing, and the audit trail of it all.

use railyard_test_support::http::json as http;
use serde_json::{Value, json};

use crate::server::{ADMIN, AGENT, Server};
use crate::webhooks::{add_project, on_both, repo};

/// `method path` as `token` with `body`: (status, JSON or text body).
fn call(server: &Server, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let (status, reply) = http(&server.url, method, path, Some(token), &text);
    let value = serde_json::from_str(&reply).unwrap_or(Value::String(reply));
    (status, value)
}

/// Adds user `name` with a password and signs them in: their personal token.
fn person(server: &Server, name: &str) -> String {
    let password = format!("{name}-long-passphrase");
    let user = json!({ "name": name, "password": password });
    let (status, body) = call(server, ADMIN, "POST", "/api/v1/users", user);
    assert_eq!(status, 201, "{body}");
    login(server, name, &password, json!({}))
}

fn login(server: &Server, name: &str, password: &str, scope: Value) -> String {
    let mut body = json!({ "user": name, "password": password });
    body.as_object_mut()
        .unwrap()
        .extend(scope.as_object().unwrap().clone());
    let (status, reply) = http(
        &server.url,
        "POST",
        "/api/v1/login",
        None,
        &body.to_string(),
    );
    assert_eq!(status, 201, "{reply}");
    let token: Value = serde_json::from_str(&reply).unwrap();
    token["token"].as_str().unwrap().to_owned()
}

fn grant(server: &Server, as_token: &str, project: &str, user: &str, role: &str) -> (u16, Value) {
    let path = format!("/api/v1/projects/{project}/members/{user}");
    call(server, as_token, "PUT", &path, json!({ "role": role }))
}

fn trigger(server: &Server, token: &str, project: &str) -> (u16, Value) {
    let path = format!("/api/v1/projects/{project}/trigger");
    call(server, token, "POST", &path, Value::Null)
}

/// The ids of the runs `token` is shown.
fn listed(server: &Server, token: &str, query: &str) -> (u16, Vec<String>) {
    let (status, body) = call(
        server,
        token,
        "GET",
        &format!("/api/v1/runs{query}"),
        Value::Null,
    );
    let ids = body
        .as_array()
        .map(|runs| {
            runs.iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (status, ids)
}

#[test]
fn each_role_sees_and_does_only_what_it_allows_in_its_own_projects() {
    on_both(|server| {
        for name in ["a", "b"] {
            let (url, _) = repo(server, name);
            add_project(server, name, &url, None);
        }
        let viv = person(server, "viv");
        let dev = person(server, "dev");
        let mia = person(server, "mia");
        let bob = person(server, "bob");
        for (user, project, role) in [
            ("viv", "a", "viewer"),
            ("dev", "a", "developer"),
            ("mia", "a", "maintainer"),
            ("bob", "b", "developer"),
        ] {
            assert_eq!(grant(server, ADMIN, project, user, role).0, 200);
        }

        // A viewer cannot trigger; the refusal says which role it needs.
        let (status, body) = trigger(server, &viv, "a");
        assert_eq!(status, 403, "{body}");
        assert!(
            body.to_string().contains("needs the developer role"),
            "{body}"
        );
        let (status, run_a) = trigger(server, &dev, "a");
        assert_eq!(status, 201, "{run_a}");
        let run_a = run_a["run"]["id"].as_str().unwrap().to_owned();
        let (status, run_b) = trigger(server, &bob, "b");
        assert_eq!(status, 201, "{run_b}");
        let run_b = run_b["run"]["id"].as_str().unwrap().to_owned();

        // Each sees their own project's runs only; another project's is not found at all,
        // with the body of a run that does not exist.
        assert_eq!(listed(server, &dev, ""), (200, vec![run_a.clone()]));
        assert_eq!(listed(server, &bob, ""), (200, vec![run_b.clone()]));
        assert_eq!(listed(server, ADMIN, "").1.len(), 2);
        let (status, body) = listed(server, &dev, "?project=b");
        assert_eq!((status, body), (404, vec![]));
        let (hidden, hidden_body) = call(
            server,
            &dev,
            "GET",
            &format!("/api/v1/runs/{run_b}"),
            Value::Null,
        );
        let (missing, missing_body) = call(
            server,
            &dev,
            "GET",
            "/api/v1/runs/01JZZZZZZZZZZZZZZZZZZZZZZZ",
            Value::Null,
        );
        assert_eq!((hidden, missing), (404, 404));
        let strip = |v: &Value, id: &str| v.to_string().replace(id, "ID");
        assert_eq!(
            strip(&hidden_body, &run_b),
            strip(&missing_body, "01JZZZZZZZZZZZZZZZZZZZZZZZ")
        );
        for path in [
            format!("/api/v1/runs/{run_b}/logs/a"),
            format!("/api/v1/runs/{run_b}/artifacts/a"),
            format!("/api/v1/runs/{run_b}/artifacts/a/out.txt"),
            "/api/v1/projects/b/members".to_string(),
        ] {
            let (status, body) = call(server, &dev, "GET", &path, Value::Null);
            assert_eq!(status, 404, "{path}: {body}");
        }
        let (status, projects) = call(server, &dev, "GET", "/api/v1/projects", Value::Null);
        assert_eq!(status, 200);
        let names: Vec<&str> = projects
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a"]);

        // A viewer reads but does not cancel; a developer cancels.
        let run_path = format!("/api/v1/runs/{run_a}");
        assert_eq!(call(server, &viv, "GET", &run_path, Value::Null).0, 200);
        let cancel = format!("{run_path}/cancel");
        assert_eq!(call(server, &viv, "POST", &cancel, Value::Null).0, 403);
        let (status, body) = call(server, &dev, "POST", &cancel, Value::Null);
        assert_eq!(status, 202, "{body}");

        // Only a maintainer gives roles; then the viewer may trigger.
        assert_eq!(grant(server, &dev, "a", "viv", "developer").0, 403);
        assert_eq!(grant(server, &bob, "a", "viv", "developer").0, 404);
        assert_eq!(grant(server, &mia, "a", "viv", "developer").0, 200);
        assert_eq!(trigger(server, &viv, "a").0, 201);
        assert_eq!(grant(server, &mia, "a", "nobody", "viewer").0, 404);

        // Secrets are a maintainer's: others are refused before anything is read.
        let secret = json!({"value": "hunter2-hunter2"});
        let path = "/api/v1/projects/a/secrets/DEPLOY_KEY";
        assert_eq!(call(server, &dev, "PUT", path, secret.clone()).0, 403);
        assert_eq!(call(server, &bob, "PUT", path, secret.clone()).0, 404);
        let (status, body) = call(server, &mia, "PUT", path, secret);
        // Past the role check: this test server has no secrets key.
        assert_eq!(status, 400, "{body}");
        assert!(body.to_string().contains("no secrets key"), "{body}");
        assert_eq!(
            call(
                server,
                &mia,
                "GET",
                "/api/v1/projects/a/secrets",
                Value::Null
            )
            .0,
            200
        );
        assert_eq!(
            call(
                server,
                &viv,
                "GET",
                "/api/v1/projects/a/secrets",
                Value::Null
            )
            .0,
            403
        );

        // Server-wide endpoints are an admin's.
        for (method, path, body) in [
            ("GET", "/api/v1/users", Value::Null),
            ("GET", "/api/v1/tokens", Value::Null),
            (
                "POST",
                "/api/v1/tokens",
                json!({"name": "x", "role": "admin"}),
            ),
            (
                "POST",
                "/api/v1/projects",
                json!({"name": "c", "repo": "file:///x"}),
            ),
        ] {
            let (status, reply) = call(server, &mia, method, path, body);
            assert_eq!(status, 403, "{method} {path}: {reply}");
        }

        // The audit trail names who did each change.
        let (status, audit) = call(server, ADMIN, "GET", "/api/v1/audit", Value::Null);
        assert_eq!(status, 200, "{audit}");
        let seen: Vec<(String, String, String)> = audit
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap_or("").to_owned();
                (s("actor"), s("action"), s("project"))
            })
            .collect();
        for expected in [
            ("user:dev", "run.trigger", "a"),
            ("user:bob", "run.trigger", "b"),
            ("user:dev", "run.cancel", "a"),
            ("user:mia", "role.set", "a"),
            ("admin", "role.set", "b"),
            ("admin", "user.add", ""),
        ] {
            let expected = (expected.0.into(), expected.1.into(), expected.2.into());
            assert!(seen.contains(&expected), "{expected:?} not in {seen:?}");
        }
        // A maintainer reads their project's trail, nobody else's; a developer none.
        let (status, mine) = call(server, &mia, "GET", "/api/v1/audit?project=a", Value::Null);
        assert_eq!(status, 200);
        assert!(mine.as_array().unwrap().iter().all(|e| e["project"] == "a"));
        assert_eq!(
            call(server, &mia, "GET", "/api/v1/audit", Value::Null).0,
            403
        );
        assert_eq!(
            call(server, &mia, "GET", "/api/v1/audit?project=b", Value::Null).0,
            404
        );
        assert_eq!(
            call(server, &dev, "GET", "/api/v1/audit?project=a", Value::Null).0,
            403
        );
    });
}

#[test]
fn narrowed_revoked_expired_and_removed_peoples_tokens_stop_at_once() {
    on_both(|server| {
        for name in ["a", "b"] {
            let (url, _) = repo(server, name);
            add_project(server, name, &url, None);
        }
        let full = person(server, "dev");
        for project in ["a", "b"] {
            assert_eq!(grant(server, ADMIN, project, "dev", "developer").0, 200);
        }
        // Narrowed to one project: the other one does not exist for it.
        let only_a = login(
            server,
            "dev",
            "dev-long-passphrase",
            json!({"project": "a"}),
        );
        assert_eq!(trigger(server, &only_a, "a").0, 201);
        assert_eq!(trigger(server, &only_a, "b").0, 404);
        let (status, runs) = listed(server, &full, "");
        assert_eq!((status, runs.len()), (200, 1));
        assert_eq!(listed(server, &only_a, "?project=b").0, 404);
        // It cannot make a wider token than itself.
        let wider = json!({"name": "wider", "project": "b"});
        let (status, body) = call(server, &only_a, "POST", "/api/v1/me/tokens", wider);
        assert_eq!(status, 403, "{body}");

        // Read-only: reads, never triggers.
        let ro = json!({"name": "dev-ro", "read_only": true});
        let (status, made) = call(server, &full, "POST", "/api/v1/me/tokens", ro);
        assert_eq!(status, 201, "{made}");
        let read_only = made["token"].as_str().unwrap().to_owned();
        assert_eq!(listed(server, &read_only, "").0, 200);
        let (status, body) = trigger(server, &read_only, "a");
        assert_eq!(status, 403);
        assert!(body.to_string().contains("read-only"), "{body}");
        let (status, me) = call(server, &read_only, "GET", "/api/v1/me", Value::Null);
        assert_eq!(
            (status, me["read_only"].as_bool()),
            (200, Some(true)),
            "{me}"
        );

        // Revoked: 401 at once.
        let path = "/api/v1/me/tokens/dev-ro/revoke";
        assert_eq!(call(server, &full, "POST", path, Value::Null).0, 204);
        assert_eq!(listed(server, &read_only, "").0, 401);

        // Expired: made to last 0 days, it never works.
        let gone = json!({"name": "dev-0d", "expires_in_days": 0});
        let (status, made) = call(server, &full, "POST", "/api/v1/me/tokens", gone);
        assert_eq!(status, 201, "{made}");
        assert_eq!(listed(server, made["token"].as_str().unwrap(), "").0, 401);

        // Removed person: every token of theirs stops, the name stays taken.
        let (status, _) = call(
            server,
            ADMIN,
            "POST",
            "/api/v1/users/dev/remove",
            Value::Null,
        );
        assert_eq!(status, 204);
        assert_eq!(listed(server, &full, "").0, 401);
        assert_eq!(listed(server, &only_a, "").0, 401);
        let again = json!({"name": "dev", "password": "another-long-one"});
        assert_eq!(call(server, ADMIN, "POST", "/api/v1/users", again).0, 409);

        // An agent's token is nobody's: no person's endpoint takes it.
        assert_eq!(listed(server, AGENT, "").0, 401);
        // A person's token is no agent's.
        let bob = person(server, "bob");
        let register = json!({"name": "x", "slots": 1});
        let (status, _) = call(server, &bob, "POST", "/api/v1/agents/register", register);
        assert_eq!(status, 401);
        // And an admin cannot hand a person's token out by the token endpoint.
        let user_token = json!({"name": "u", "role": "user"});
        assert_eq!(
            call(server, ADMIN, "POST", "/api/v1/tokens", user_token).0,
            400
        );
    });
}

#[test]
fn sign_in_refusals_are_one_answer_and_passwords_are_kept_only_hashed() {
    on_both(|server| {
        let password = "correct horse battery staple";
        let user = json!({ "name": "ann", "password": password });
        assert_eq!(call(server, ADMIN, "POST", "/api/v1/users", user).0, 201);
        let nopass = json!({ "name": "tok" });
        assert_eq!(call(server, ADMIN, "POST", "/api/v1/users", nopass).0, 201);
        let refused: Vec<(u16, String)> = [
            ("ann", "wrong password here"),
            ("nobody", "wrong password here"),
            ("tok", "wrong password here"),
        ]
        .iter()
        .map(|(user, password)| {
            let body = json!({ "user": user, "password": password }).to_string();
            http(&server.url, "POST", "/api/v1/login", None, &body)
        })
        .collect();
        assert_eq!(refused[0].0, 401, "{}", refused[0].1);
        assert!(refused.iter().all(|r| r == &refused[0]), "{refused:?}");
        // Signing in works with the right one.
        login(server, "ann", password, json!({}));

        let short = json!({ "name": "sam", "password": "short" });
        let (status, body) = call(server, ADMIN, "POST", "/api/v1/users", short);
        assert_eq!(status, 400);
        assert!(body.to_string().contains("12 characters"), "{body}");
        let bad = json!({ "name": "a b:c", "password": password });
        let (status, body) = call(server, ADMIN, "POST", "/api/v1/users", bad);
        assert_eq!(status, 400);
        assert!(body.to_string().contains("user name `a b:c`"), "{body}");
        let (status, users) = call(server, ADMIN, "GET", "/api/v1/users", Value::Null);
        assert_eq!(status, 200);
        assert!(!users.to_string().contains("argon2"), "{users}");
        if server.db_file().exists() {
            // The file and its write-ahead log, where recent writes are.
            let mut bytes = std::fs::read(server.db_file()).unwrap();
            let wal = server.db_file().with_extension("db-wal");
            bytes.extend(std::fs::read(wal).unwrap_or_default());
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(password), "the password is stored in clear");
            assert!(text.contains("$argon2id$"), "no argon2id hash stored");
        }
    });
}
