//! The fleet's image inventory on the server: an agent sends an image's inventory under a
//! job's lease and gets the server's findings; an image ID scanned once is answered from the
//! store for any other job (of any project), filed under that job's project. The inventory
//! is untrusted (bounded, field by field); people see only the images of the projects they
//! may see; an import of advisories names the projects newly hit.

use railyard_store::{NewRun, QueuedJob, Store};
use railyard_test_support::http::{json as http, request};
use railyard_types::{AgentId, Millis, ProjectName};
use serde_json::{Value, json};

use crate::server::{ADMIN, AGENT, Server};
use crate::webhooks::{add_project, repo};

const IMAGE: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const LAYER: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// Projects `a` and `b`, a run of each with one job, both leased by one agent: the agent
/// and each project's job id.
fn setup(server: &Server) -> (AgentId, String, String) {
    for name in ["a", "b"] {
        let (url, _) = repo(server, name);
        add_project(server, name, &url, None);
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Store::open_in(&server.dir.path().join("data"))
            .await
            .unwrap();
        let now = Millis::now();
        let agent = store.register_agent("a", 10, &[], now).await.unwrap();
        for project in ["a", "b"] {
            let run = store
                .create_run(&NewRun {
                    project: project.into(),
                    pipeline_path: ".railyard.yml".into(),
                    commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
                    owner: "railyard-server:test".into(),
                    jobs: vec!["build".into()],
                    started_at: now,
                    context: None,
                })
                .await
                .unwrap();
            let queued = [QueuedJob {
                name: "build".into(),
                shards: 1,
                ..Default::default()
            }];
            let project = ProjectName::from(project);
            store
                .enqueue_run(&run.id, &project, "file:///r.git", "abc", &queued, 2, now)
                .await
                .unwrap();
        }
        let mut jobs = std::collections::HashMap::new();
        while let Some(claim) = store.claim(&agent, now, 600_000).await.unwrap() {
            jobs.insert(claim.project.to_string(), claim.job_id.to_string());
        }
        (agent, jobs["a"].clone(), jobs["b"].clone())
    })
}

/// A Debian 12 image with glibc's libc6 at `version` in its one layer.
fn inventory(reference: &str) -> Value {
    json!({
        "image_id": IMAGE,
        "reference": reference,
        "distro": { "id": "debian", "version_id": "12", "pretty_name": null },
        "layers": [{ "index": 0, "diff_id": LAYER, "instruction": "ADD rootfs /", "size": 10 }],
        "packages": [{
            "name": "libc6", "version": "2.36-9", "ecosystem": "deb",
            "purl": "pkg:deb/debian/libc6@2.36-9", "source_name": "glibc",
            "source_version": null, "license": null, "arch": "amd64",
            "location": "var/lib/dpkg/status",
            "layer": { "index": 0, "diff_id": LAYER, "instruction": "ADD rootfs /" },
            "owned_by_os": false
        }],
    })
}

fn advisory(id: &str) -> String {
    json!({
        "id": id,
        "modified": "2026-01-01T00:00:00Z",
        "summary": "a test advisory against glibc",
        "affected": [{
            "package": { "ecosystem": "Debian:12", "name": "glibc" },
            "ranges": [{ "type": "ECOSYSTEM", "events": [{ "introduced": "0" }, { "fixed": "2.36-9+deb12u4" }] }]
        }],
        "database_specific": { "severity": "HIGH" }
    })
    .to_string()
}

fn call(server: &Server, token: &str, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let (status, reply) = http(&server.url, method, path, Some(token), &text);
    (
        status,
        serde_json::from_str(&reply).unwrap_or(Value::String(reply)),
    )
}

fn import(server: &Server, token: &str, name: &str, body: &str) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let reply = request(
        &server.url,
        "PUT",
        &format!("/api/v1/advisories/import?name={name}"),
        &[("authorization", auth.as_str())],
        body.as_bytes().to_vec(),
    );
    let value = serde_json::from_str(&reply.body).unwrap_or(Value::String(reply.body));
    (reply.status, value)
}

fn person(server: &Server, name: &str, member_of: Option<&str>) -> String {
    let password = format!("{name}-long-passphrase");
    let user = json!({ "name": name, "password": password });
    let (status, body) = call(server, ADMIN, "POST", "/api/v1/users", &user);
    assert_eq!(status, 201, "{body}");
    if let Some(project) = member_of {
        let path = format!("/api/v1/projects/{project}/members/{name}");
        let (status, body) = call(server, ADMIN, "PUT", &path, &json!({ "role": "viewer" }));
        assert_eq!(status, 200, "{body}");
    }
    let login = json!({ "user": name, "password": password });
    let (status, body) = call(server, ADMIN, "POST", "/api/v1/login", &login);
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

fn projects_of(rows: &Value, field: &str) -> Vec<String> {
    let mut out: Vec<String> = (rows.as_array().unwrap().iter())
        .map(|r| r[field].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn an_image_is_scanned_once_and_each_person_sees_only_their_projects_images() {
    let server = Server::start();
    let (agent, job_a, job_b) = setup(&server);

    // Only an admin imports advisories.
    for token in [AGENT.to_owned(), person(&server, "mallory", Some("a"))] {
        let (status, body) = import(&server, &token, "x.json", &advisory("RY-1"));
        assert!(status == 401 || status == 403, "{status} {body}");
    }
    let (status, got) = import(&server, ADMIN, "RY-1.json", &advisory("RY-1"));
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        (got["read"].as_u64(), got["added"].as_u64()),
        (Some(1), Some(1))
    );

    // Never scanned: the agent is told to scan.
    let lookup = |job: &str, attempt: i64| {
        let body = json!({ "agent_id": agent, "attempt": attempt, "image_id": IMAGE, "reference": "railyard-env:k" });
        call(
            &server,
            AGENT,
            "POST",
            &format!("/api/v1/jobs/{job}/image-scan/lookup"),
            &body,
        )
    };
    assert_eq!(lookup(&job_a, 1).0, 204);

    // Project a's job sends its scan and gets the server's findings.
    let upload = |job: &str, attempt: i64, inventory: Value| {
        let body = json!({ "agent_id": agent, "attempt": attempt, "inventory": inventory });
        call(
            &server,
            AGENT,
            "POST",
            &format!("/api/v1/jobs/{job}/image-scan"),
            &body,
        )
    };
    let (status, verdict) = upload(&job_a, 1, inventory("railyard-env:k"));
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["packages"], 1);
    assert_eq!(verdict["findings"][0]["advisory_id"], "RY-1");
    assert_eq!(verdict["findings"][0]["severity"], "high");

    // Project b's job meets the same image ID: answered from the store, filed under b.
    let (status, reused) = lookup(&job_b, 1);
    assert_eq!(status, 200, "{reused}");
    assert_eq!(reused["findings"][0]["advisory_id"], "RY-1");
    assert_ne!(reused["scan_id"], verdict["scan_id"]);
    // A lease that is not held (another attempt) is refused.
    assert_eq!(lookup(&job_b, 2).0, 410);

    let (status, all) = call(&server, ADMIN, "GET", "/api/v1/scans", &Value::Null);
    assert_eq!(status, 200, "{all}");
    assert_eq!(projects_of(&all, "project"), ["a", "b"]);

    // A member of b sees b's image only, everywhere; someone of no project sees nothing.
    let bob = person(&server, "bob", Some("b"));
    let nobody = person(&server, "carol", None);
    for (token, seen) in [(&bob, vec!["b"]), (&nobody, vec![])] {
        let (status, scans) = call(&server, token, "GET", "/api/v1/scans", &Value::Null);
        assert_eq!(status, 200, "{scans}");
        assert_eq!(projects_of(&scans, "project"), seen);
        let (status, holders) = call(
            &server,
            token,
            "GET",
            "/api/v1/inventory/who-has?name=glibc",
            &Value::Null,
        );
        assert_eq!(status, 200, "{holders}");
        assert_eq!(projects_of(&holders, "project"), seen);
        let (status, hit) = call(
            &server,
            token,
            "GET",
            "/api/v1/advisories/RY-1/affected",
            &Value::Null,
        );
        assert_eq!(status, 200, "{hit}");
        assert_eq!(projects_of(&hit, "project"), seen);
        // Asking for a's scans by name is the 404 of an unknown project.
        let (status, _) = call(
            &server,
            token,
            "GET",
            "/api/v1/scans?project=a",
            &Value::Null,
        );
        assert_eq!(status, 404);
    }
    let a_scan = verdict["scan_id"].as_str().unwrap();
    let (status, _) = call(
        &server,
        &bob,
        "GET",
        &format!("/api/v1/scans/{a_scan}"),
        &Value::Null,
    );
    assert_eq!(status, 404, "b's member reads a's scan");
    let (status, detail) = call(
        &server,
        ADMIN,
        "GET",
        &format!("/api/v1/scans/{a_scan}"),
        &Value::Null,
    );
    assert_eq!(status, 200, "{detail}");
    assert_eq!(
        detail["inventory"]["layers"][0]["instruction"],
        "ADD rootfs /"
    );
    assert_eq!(detail["findings"][0]["advisory_id"], "RY-1");
    let (status, by_image) = call(
        &server,
        &bob,
        "GET",
        "/api/v1/scans?image=sha256:1111",
        &Value::Null,
    );
    assert_eq!(
        (status, projects_of(&by_image, "project")),
        (200, vec!["b".to_owned()])
    );

    // A new advisory hits both projects: both are newly affected; RY-1 hit them already.
    let (status, _) = import(&server, ADMIN, "RY-2.json", &advisory("RY-2"));
    assert_eq!(status, 200);
    let (status, rematched) = call(
        &server,
        ADMIN,
        "POST",
        "/api/v1/advisories/rematch",
        &Value::Null,
    );
    assert_eq!(status, 200, "{rematched}");
    assert_eq!(
        projects_of(&rematched["newly_affected"], "project"),
        ["a", "b"]
    );
    assert_eq!(
        rematched["newly_affected"][0]["advisories"],
        json!(["RY-2"])
    );
    assert_eq!(
        rematched["newly_affected"][0]["images"],
        json!(["railyard-env:k"])
    );
    let (status, again) = call(
        &server,
        ADMIN,
        "POST",
        "/api/v1/advisories/rematch",
        &Value::Null,
    );
    assert_eq!((status, again["newly_affected"].clone()), (200, json!([])));
    let (status, _) = call(
        &server,
        &bob,
        "POST",
        "/api/v1/advisories/rematch",
        &Value::Null,
    );
    assert_eq!(status, 403);
}

/// An inventory comes from an untrusted image through an agent: each way out of bounds is
/// refused with 400 naming the field (413 past the body limit), and nothing is stored.
#[test]
fn an_uploaded_inventory_out_of_bounds_is_refused_naming_the_field() {
    let server = Server::start();
    let (agent, job_a, _) = setup(&server);
    let send = |inventory: &Value| {
        let body = json!({ "agent_id": agent, "attempt": 1, "inventory": inventory });
        call(
            &server,
            AGENT,
            "POST",
            &format!("/api/v1/jobs/{job_a}/image-scan"),
            &body,
        )
    };
    let long = "x".repeat(5_000);
    type Spoil<'a> = Box<dyn Fn(&mut Value) + 'a>;
    let cases: Vec<(&str, Spoil)> = vec![
        (
            "image_id",
            Box::new(|i| i["image_id"] = json!("../../etc/passwd")),
        ),
        (
            "layers[0].diff_id",
            Box::new(|i| i["layers"][0]["diff_id"] = json!("sha256:zz")),
        ),
        (
            "packages[0].layer.index",
            Box::new(|i| i["packages"][0]["layer"]["index"] = json!(7)),
        ),
        (
            "packages[0].layer.diff_id",
            Box::new(|i| i["packages"][0]["layer"]["diff_id"] = json!(IMAGE)),
        ),
        (
            "packages[0].name",
            Box::new(|i| i["packages"][0]["name"] = json!(long.clone())),
        ),
        (
            "packages[0].version",
            Box::new(|i| i["packages"][0]["version"] = json!("1\u{0}")),
        ),
        (
            "reference",
            Box::new(|i| i["reference"] = json!(long.clone())),
        ),
        (
            "layers[0] says index",
            Box::new(|i| i["layers"][0]["index"] = json!(3)),
        ),
        (
            "warnings",
            Box::new(|i| i["warnings"] = json!(vec!["w"; 1_001])),
        ),
    ];
    for (field, spoil) in cases {
        let mut bad = inventory("app");
        spoil(&mut bad);
        let (status, body) = send(&bad);
        assert_eq!(status, 400, "{field}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{field}: {message}");
    }
    // Past the body limit: 413 before anything is read into an inventory.
    let mut huge = inventory("app");
    let package = huge["packages"][0].clone();
    huge["packages"] = Value::Array(vec![package; 120_000]);
    let (status, body) = send(&huge);
    assert_eq!(status, 413, "{body}");
    // A project named in the body is no field of it: the job's project is taken.
    let mut other = inventory("app");
    other["project"] = json!("b");
    let (status, _) = send(&other);
    assert_eq!(status, 200);
    let (_, scans) = call(&server, ADMIN, "GET", "/api/v1/scans", &Value::Null);
    assert_eq!(projects_of(&scans, "project"), ["a"]);
    // Nothing of the refused ones was kept.
    assert_eq!(scans.as_array().unwrap().len(), 1);
}
