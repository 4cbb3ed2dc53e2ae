//! The artifacts of a job's `needs` as an agent fetches them: listed with the pipeline job,
//! shard, size and SHA-256 of each file, downloaded under the job's lease, from the leased
//! job's own run only; and uploads over the server's limit refused before anything stays.

use std::io::{Read, Write};

use railyard_store::{NewRun, QueuedJob, Store};
use railyard_test_support::http::request;
use railyard_types::{AgentId, Millis, ProjectName, RunId};
use sha2::Digest;

use crate::server::{AGENT, ARTIFACT_LIMIT, Server};

const AUTH: (&str, &str) = ("authorization", "Bearer agent-secret");

/// One leased row: (job id, queue name, run).
type Leased = (String, String, RunId);

/// Runs `mine` (build, unit ×2, test) and `theirs` (build) queued and every row leased by
/// one agent, through a second handle on the server's SQLite file.
fn setup(server: &Server) -> (AgentId, Vec<Leased>, RunId) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Store::open_in(&server.dir.path().join("data"))
            .await
            .unwrap();
        let now = Millis::now();
        let agent = store.register_agent("a", 10, &[], now).await.unwrap();
        let mut mine = None;
        for (project, jobs) in [
            ("mine", &[("build", 1), ("unit", 2), ("test", 1)][..]),
            ("theirs", &[("build", 1)][..]),
        ] {
            let run = store
                .create_run(&NewRun {
                    project: project.into(),
                    pipeline_path: ".railyard.yml".into(),
                    commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
                    owner: "railyard-server:test".into(),
                    jobs: jobs.iter().map(|(j, _)| j.to_string()).collect(),
                    started_at: now,
                    context: None,
                })
                .await
                .unwrap();
            let queued: Vec<QueuedJob> = jobs
                .iter()
                .map(|(name, shards)| QueuedJob {
                    name: name.to_string(),
                    shards: *shards,
                    ..Default::default()
                })
                .collect();
            let project = ProjectName::from(project);
            store
                .enqueue_run(&run.id, &project, "file:///r.git", "abc", &queued, 2, now)
                .await
                .unwrap();
            mine.get_or_insert(run.id);
        }
        let mut leased = Vec::new();
        while let Some(claim) = store.claim(&agent, now, 600_000).await.unwrap() {
            leased.push((claim.job_id.to_string(), claim.job, claim.run_id));
        }
        (agent, leased, mine.unwrap())
    })
}

/// The job id of `name` in the run `run`.
fn id_of<'a>(leased: &'a [Leased], run: &RunId, name: &str) -> &'a str {
    let found = leased.iter().find(|(_, n, r)| n == name && r == run);
    &found.unwrap_or_else(|| panic!("{name} in {leased:?}")).0
}

/// `name` as one path segment (a shard's `unit [2/2]`).
fn segment(name: &str) -> String {
    railyard_types::protocol::path_segment(name)
}

fn put(server: &Server, job: &str, agent: &AgentId, path: &str, body: &[u8]) -> (u16, String) {
    let url = format!("/api/v1/jobs/{job}/artifacts/{path}?agent_id={agent}&attempt=1");
    let reply = request(&server.url, "PUT", &url, &[AUTH], body.to_vec());
    (reply.status, reply.body)
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn a_leased_job_lists_and_fetches_its_runs_artifacts_only() {
    let server = Server::start();
    let (agent, leased, mine) = setup(&server);
    let build = id_of(&leased, &mine, "build");
    let big = vec![7u8; (2 << 20) + 5];
    assert_eq!(
        put(&server, build, &agent, "dist/app.txt", b"built\n").0,
        204
    );
    assert_eq!(put(&server, build, &agent, "dist/big.bin", &big).0, 204);
    for n in 1..=2 {
        let shard = id_of(&leased, &mine, &format!("unit [{n}/2]"));
        let report = format!("<testsuite n=\"{n}\"/>");
        let put = put(
            &server,
            shard,
            &agent,
            "reports/junit.xml",
            report.as_bytes(),
        );
        assert_eq!(put.0, 204, "{}", put.1);
    }
    // The other run's build, leased by the same agent.
    let theirs = leased
        .iter()
        .find(|(_, n, r)| n == "build" && *r != mine)
        .unwrap();
    assert_ne!(theirs.0, build);
    assert_eq!(
        put(&server, &theirs.0, &agent, "secret.txt", b"their bytes").0,
        204
    );

    let test = id_of(&leased, &mine, "test");
    let lease = format!("agent_id={agent}&attempt=1");
    let listed = request(
        &server.url,
        "GET",
        &format!("/api/v1/jobs/{test}/inputs?{lease}"),
        &[AUTH],
        "",
    );
    assert_eq!(listed.status, 200, "{}", listed.body);
    let listed: serde_json::Value = serde_json::from_str(&listed.body).unwrap();
    let rows: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {} {} {} {} {} {}",
                a["job"],
                a["pipeline_job"],
                a["shard"],
                a["shards"],
                a["path"],
                a["size"],
                a["sha256"]
            )
        })
        .collect();
    let want = [
        format!(
            "\"build\" \"build\" null 1 \"dist/app.txt\" 6 \"{}\"",
            sha256(b"built\n")
        ),
        format!(
            "\"build\" \"build\" null 1 \"dist/big.bin\" {} \"{}\"",
            big.len(),
            sha256(&big)
        ),
        format!(
            "\"unit [1/2]\" \"unit\" 1 2 \"reports/junit.xml\" 18 \"{}\"",
            sha256(b"<testsuite n=\"1\"/>")
        ),
        format!(
            "\"unit [2/2]\" \"unit\" 2 2 \"reports/junit.xml\" 18 \"{}\"",
            sha256(b"<testsuite n=\"2\"/>")
        ),
    ];
    assert_eq!(rows, want, "the run's artifacts, never the other run's");

    let fetch = |job: &str, path: &str, lease: &str, auth: &[(&str, &str)]| {
        let url = format!("/api/v1/jobs/{test}/inputs/{}/{path}?{lease}", segment(job));
        request(&server.url, "GET", &url, auth, "")
    };
    let got = fetch("build", "dist/app.txt", &lease, &[AUTH]);
    assert_eq!((got.status, got.body.as_str()), (200, "built\n"));
    assert_eq!(got.header("content-length"), Some("6"));
    let got = fetch("build", "dist/big.bin", &lease, &[AUTH]);
    assert_eq!(got.status, 200);
    assert_eq!(sha256(got.body.as_bytes()), sha256(&big), "streamed whole");
    let got = fetch("unit [2/2]", "reports/junit.xml", &lease, &[AUTH]);
    assert_eq!(
        (got.status, got.body.as_str()),
        (200, "<testsuite n=\"2\"/>")
    );

    // Another run's file is not reachable through this lease, whatever the name asked.
    let got = fetch("build", "secret.txt", &lease, &[AUTH]);
    assert_eq!(got.status, 404, "{}", got.body);
    assert!(!got.body.contains("their bytes"), "{}", got.body);
    // Hostile paths are refused before anything is read.
    for bad in [
        "..%2F..%2Fsecret.txt",
        "dist/..%2F..%2Fx",
        "%2Fetc%2Fpasswd",
    ] {
        let got = fetch("build", bad, &lease, &[AUTH]);
        assert_eq!(got.status, 400, "{bad}: {}", got.body);
        assert!(got.body.contains("not a plain name"), "{bad}: {}", got.body);
    }
    // Without the lease: another attempt, another agent (410, as every lease call); no token,
    // or an admin's (401).
    for lease in [
        format!("agent_id={agent}&attempt=2"),
        "agent_id=someone&attempt=1".to_string(),
    ] {
        let got = fetch("build", "dist/app.txt", &lease, &[AUTH]);
        assert_eq!(got.status, 410, "{}", got.body);
        let url = format!("/api/v1/jobs/{test}/inputs?{lease}");
        let got = request(&server.url, "GET", &url, &[AUTH], "");
        assert_eq!(got.status, 410, "{}", got.body);
        assert!(got.body.contains("lease_lost"), "{}", got.body);
    }
    let got = fetch("build", "dist/app.txt", &lease, &[]);
    assert_eq!(got.status, 401, "{}", got.body);
    let admin = [("authorization", "Bearer admin-secret")];
    let got = fetch("build", "dist/app.txt", &lease, &admin);
    assert_eq!(got.status, 401, "{}", got.body);
}

/// Sends `head` then `body` on a connection of its own, as fast as the server reads; the
/// status it answers.
fn raw_upload(server: &Server, head: &str, body: impl Iterator<Item = Vec<u8>>) -> (u16, String) {
    let addr = server.url.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    conn.write_all(head.as_bytes()).unwrap();
    for part in body {
        // The server may answer and close while the rest is on its way.
        if conn.write_all(&part).is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    (status, answer)
}

#[test]
fn an_artifact_over_the_limit_is_refused_and_leaves_no_chunks() {
    let server = Server::start();
    let (agent, leased, run) = setup(&server);
    let build = id_of(&leased, &run, "build");
    let url = format!("/api/v1/jobs/{build}/artifacts/app.iso?agent_id={agent}&attempt=1");
    // Declared 2 GB: refused before a byte is read.
    let head = format!(
        "PUT {url} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {AGENT}\r\n\
         Content-Length: 2000000000\r\nConnection: close\r\n\r\n"
    );
    let (status, answer) = raw_upload(&server, &head, std::iter::empty());
    assert_eq!(status, 413, "{answer}");
    assert!(
        answer.contains("artifact `app.iso` is over the server's limit of 3145728 bytes (3 MiB)"),
        "{answer}"
    );
    // Sent without a length (chunked) and over the limit: refused once past it.
    let head = format!(
        "PUT {url} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {AGENT}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let chunk = 256 << 10;
    let parts = (0..(ARTIFACT_LIMIT as usize / chunk + 4)).map(|_| {
        let mut part = format!("{chunk:x}\r\n").into_bytes();
        part.extend(std::iter::repeat_n(b'x', chunk));
        part.extend(b"\r\n");
        part
    });
    let (status, answer) = raw_upload(&server, &head, parts.chain([b"0\r\n\r\n".to_vec()]));
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains("too_large"), "{answer}");
    // Nothing stays: no artifact, no chunk.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Store::open_in(&server.dir.path().join("data"))
            .await
            .unwrap();
        assert_eq!(store.artifacts(&run, "build").await.unwrap(), vec![]);
        let swept = store
            .sweep_artifact_chunks(Millis(0), Millis(i64::MAX))
            .await
            .unwrap();
        assert_eq!(swept, 0, "chunks of the refused upload were left");
    });
    // A file at the limit is taken.
    let (status, body) = put(
        &server,
        build,
        &agent,
        "app.iso",
        &vec![1; ARTIFACT_LIMIT as usize],
    );
    assert_eq!(status, 204, "{body}");
}
