//! Retention and quotas through the API: a project's settings set with `PATCH` and listed;
//! an upload over the project's quota refused (413) before anything is stored, naming the
//! project, its quota and usage and what to do, with nothing already stored lost; a pruned
//! run's log and artifacts answer 410 saying retention deleted them.

use railyard_store::{JobStatus, NewRun, QueuedJob, RunStatus, Store};
use railyard_test_support::http::{json, request};
use railyard_types::{AgentId, Millis, ProjectName, RunId};

use crate::server::{ADMIN, Server};

const AGENT_AUTH: (&str, &str) = ("authorization", "Bearer agent-secret");
const ADMIN_AUTH: (&str, &str) = ("authorization", "Bearer admin-secret");
const DAY: i64 = 24 * 60 * 60 * 1000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

async fn store_of(server: &Server) -> Store {
    Store::open_in(&server.dir.path().join("data"))
        .await
        .unwrap()
}

/// Project `name` with one run whose job `build` is leased to a new agent, through a second
/// handle on the server's SQLite file: (agent, job id, run).
fn leased(server: &Server, name: &str) -> (AgentId, String, RunId) {
    runtime().block_on(async {
        let store = store_of(server).await;
        let now = Millis::now();
        let project = ProjectName::from(name);
        assert!(
            store
                .add_project(&project, "file:///r.git", now)
                .await
                .unwrap()
        );
        let run = store
            .create_run(&NewRun {
                project: name.into(),
                pipeline_path: ".railyard.yml".into(),
                commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
                owner: "railyard-server:test".into(),
                jobs: vec!["build".into()],
                started_at: now,
                context: None,
            })
            .await
            .unwrap();
        let job = QueuedJob {
            name: "build".into(),
            ..Default::default()
        };
        store
            .enqueue_run(&run.id, &project, "file:///r.git", "abc", &[job], 1, now)
            .await
            .unwrap();
        let agent = store.register_agent(name, 1, &[], now).await.unwrap();
        let claim = store.claim(&agent, now, 600_000).await.unwrap().unwrap();
        (agent, claim.job_id.to_string(), run.id)
    })
}

fn put(server: &Server, job: &str, agent: &AgentId, path: &str, body: Vec<u8>) -> (u16, String) {
    let url = format!("/api/v1/jobs/{job}/artifacts/{path}?agent_id={agent}&attempt=1");
    let reply = request(&server.url, "PUT", &url, &[AGENT_AUTH], body);
    (reply.status, reply.body)
}

fn get(server: &Server, path: &str) -> (u16, String) {
    let reply = request(&server.url, "GET", path, &[ADMIN_AUTH], "");
    (reply.status, reply.body)
}

fn patch(server: &Server, project: &str, body: &str) -> (u16, String) {
    let path = format!("/api/v1/projects/{project}");
    json(&server.url, "PATCH", &path, Some(ADMIN), body)
}

#[test]
fn an_upload_over_the_projects_quota_is_refused_and_nothing_stored_is_lost() {
    let server = Server::start();
    let (agent, job, run) = leased(&server, "quota");
    let (status, body) = patch(&server, "quota", r#"{"quota_bytes": 1000}"#);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""quota_bytes":1000"#), "{body}");

    assert_eq!(put(&server, &job, &agent, "a.txt", vec![b'a'; 600]).0, 204);
    let (status, body) = put(&server, &job, &agent, "b.txt", vec![b'b'; 600]);
    assert_eq!(status, 413, "{body}");
    for says in [
        "project `quota` is over its storage quota",
        "hold 600 bytes",
        "of its 1000",
        "adds 600 bytes",
        "nothing of it was stored",
        "railyard project set quota --quota-bytes N",
    ] {
        assert!(body.contains(says), "`{says}` in {body}");
    }
    assert!(body.contains(r#""code":"too_large""#), "{body}");
    // What was stored is all there; the refused file is not.
    let listed = get(&server, &format!("/api/v1/runs/{run}/artifacts/build"));
    assert_eq!(listed.0, 200, "{}", listed.1);
    assert!(
        listed.1.contains("a.txt") && !listed.1.contains("b.txt"),
        "{}",
        listed.1
    );
    let a = get(
        &server,
        &format!("/api/v1/runs/{run}/artifacts/build/a.txt"),
    );
    assert_eq!((a.0, a.1.len()), (200, 600));

    // A resend replaces the file: its old bytes do not count against the new ones.
    assert_eq!(put(&server, &job, &agent, "a.txt", vec![b'A'; 900]).0, 204);
    // Raised, the quota takes the file.
    assert_eq!(patch(&server, "quota", r#"{"quota_bytes": 2000}"#).0, 200);
    assert_eq!(put(&server, &job, &agent, "b.txt", vec![b'b'; 600]).0, 204);

    // Hostile settings: refused naming the field, nothing changed.
    for (body, field) in [
        (r#"{"quota_bytes": -1}"#, "`quota_bytes` is -1"),
        (r#"{"keep_days": -5}"#, "`keep_days` is -5"),
        (r#"{"keep_runs": -2}"#, "`keep_runs` is -2"),
    ] {
        let (status, reply) = patch(&server, "quota", body);
        assert_eq!(status, 400, "{reply}");
        assert!(reply.contains(field), "{reply}");
    }
    let (status, listed) = get(&server, "/api/v1/projects");
    assert_eq!(status, 200);
    for shown in [
        r#""quota_bytes":2000"#,
        r#""keep_days":90"#,
        r#""keep_runs":20"#,
    ] {
        assert!(listed.contains(shown), "{shown} in {listed}");
    }
}

#[test]
fn a_pruned_runs_log_and_artifacts_answer_410_saying_retention_deleted_them() {
    let server = Server::start();
    let (agent, job, run) = leased(&server, "old");
    let (status, body) = patch(&server, "old", r#"{"keep_days": 1, "keep_runs": 0}"#);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        put(&server, &job, &agent, "out.txt", b"built".to_vec()).0,
        204
    );
    let now = Millis::now();
    runtime().block_on(async {
        let store = store_of(&server).await;
        let id = railyard_types::JobId::from(job.as_str());
        for seq in 1..=3 {
            let line = format!("line {seq}\n");
            store
                .append_log_chunk(&id, &agent, 1, seq, line.as_bytes())
                .await
                .unwrap();
        }
        assert!(
            store
                .finish_leased_job(&id, &agent, 1, JobStatus::Success, now, None)
                .await
                .unwrap()
        );
        store
            .set_run_status(&run, RunStatus::Success, Some(now))
            .await
            .unwrap();
    });
    let log_path = format!("/api/v1/runs/{run}/logs/build");
    let log = request(&server.url, "GET", &log_path, &[ADMIN_AUTH], "");
    assert_eq!(
        (log.status, log.body.as_str()),
        (200, "line 1\nline 2\nline 3\n")
    );
    assert_eq!(
        log.header("content-type"),
        Some("text/plain; charset=utf-8")
    );

    // Two days on, the server's sweep (run here as it runs it) prunes the run.
    runtime().block_on(async {
        let store = store_of(&server).await;
        assert_eq!(
            store
                .mark_expired_runs(Millis(now.as_i64() + 2 * DAY), 500)
                .await
                .unwrap(),
            1
        );
        while store.purge_pruned(500).await.unwrap() > 0 {}
    });
    for (path, what) in [
        (log_path.clone(), "the logs of run old #1"),
        (
            format!("/api/v1/runs/{run}/artifacts/build"),
            "the artifacts of run old #1",
        ),
        (
            format!("/api/v1/runs/{run}/artifacts/build/out.txt"),
            "the artifacts of run old #1",
        ),
    ] {
        let (status, body) = get(&server, &path);
        assert_eq!(status, 410, "{path}: {body}");
        for says in [
            what,
            "were deleted on",
            "by project `old`'s retention (keep 1 day(s) and the newest 0 runs)",
            "railyard project set old --keep-days N --keep-runs N",
        ] {
            assert!(body.contains(says), "`{says}` in {body}");
        }
        assert!(body.contains(r#""code":"pruned""#), "{body}");
    }
    // The run itself is still there.
    let (status, body) = get(&server, &format!("/api/v1/runs/{run}"));
    assert_eq!(status, 200, "{body}");
    // Any job of a pruned run says so (its jobs' names are not checked against the run's).
    let (status, body) = get(&server, &format!("/api/v1/runs/{run}/logs/nothing"));
    assert_eq!(status, 410, "{body}");
}
