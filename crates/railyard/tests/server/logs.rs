//! Job logs live in the database: two servers on one PostgreSQL, an agent talking to one, and
//! the log read (whole and followed) from the other has every line once, and its artifact
//! downloads there whole.

use crate::fleet::*;

const LINES: usize = 200;

#[test]
fn a_log_and_an_artifact_sent_to_one_server_are_read_whole_from_another_on_postgres() {
    let Some(db) = PgDb::create() else {
        return;
    };
    let pipeline = format!(
        "env: {{ image: busybox }}\njobs:\n  talk:\n    script:\n      - for i in $(seq 1 {LINES}); do echo line-$i; sleep 0.01; done\n      - seq 1 300000 > numbers.txt\n    artifacts: [numbers.txt]\n"
    );
    let mut fleet = Fleet::start_on(&pipeline, Some(&db.url));
    // Server B: the same database, a data folder of its own, no agent.
    let b_dir = tempfile::tempdir().unwrap();
    let (mut b, b_url) = spawn_server(b_dir.path(), "127.0.0.1:0", Some(&db.url));
    fleet.agent("only-a");
    let run = trigger(&fleet);
    // Followed on B while the agent streams to A.
    let followed = {
        let (b_url, run) = (b_url.clone(), run.clone());
        std::thread::spawn(move || follow(&b_url, &run, "talk"))
    };
    fleet.wait_success(&run, 240);
    let followed = followed.join().unwrap();
    let (get_status, log) = http(
        &b_url,
        "GET",
        &format!("/api/v1/runs/{run}/logs/talk"),
        Some(ADMIN),
        "",
    );
    // The artifact (2 MB: two chunks) went to A; B lists and serves it whole.
    let (list_status, listed) = http(
        &b_url,
        "GET",
        &format!("/api/v1/runs/{run}/artifacts/talk"),
        Some(ADMIN),
        "",
    );
    let (file_status, numbers) = http(
        &b_url,
        "GET",
        &format!("/api/v1/runs/{run}/artifacts/talk/numbers.txt"),
        Some(ADMIN),
        "",
    );
    let _ = b.kill();
    let _ = b.wait();
    let expected: String = (1..=300_000).map(|i| format!("{i}\n")).collect();
    assert_eq!(list_status, 200, "{listed}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&listed).unwrap(),
        serde_json::json!([{
            "path": "numbers.txt",
            "size": expected.len(),
            "sha256": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(expected.as_bytes())),
        }])
    );
    assert_eq!(file_status, 200);
    assert!(numbers == expected, "B served {} bytes", numbers.len());
    assert_eq!(get_status, 200, "{log}");
    assert_eq!(log, fleet.log(&run, "talk"), "A and B serve the same log");
    assert_eq!(followed.last().map(|s| s.as_str()), Some("success"));
    assert_eq!(
        followed[..followed.len() - 1],
        log.lines().collect::<Vec<_>>(),
        "the followed lines are the stored ones"
    );
    for i in 1..=LINES {
        let line = format!("line-{i}");
        assert_eq!(
            log.lines().filter(|l| *l == line).count(),
            1,
            "{line}\n{log}"
        );
    }
    assert!(
        !b_dir.path().join("data/logs").exists(),
        "server B wrote no log file"
    );
    assert_nothing_left(&run);
}

#[test]
fn log_chunks_over_http_are_stored_once_and_in_order() {
    chunks_over_http(Fleet::start(ONE_JOB));
}

#[test]
fn log_chunks_over_http_on_postgres() {
    let Some(db) = PgDb::create() else {
        return;
    };
    chunks_over_http(Fleet::start_on(ONE_JOB, Some(&db.url)));
}

const ONE_JOB: &str = "env: { image: busybox }\njobs:\n  only:\n    script: [\"true\"]\n";

/// An agent simulated over HTTP: a resent chunk is acknowledged and stored once, another
/// attempt's gets 410 and moves nothing, one after a gap is kept after a line naming it.
fn chunks_over_http(fleet: Fleet) {
    let post = |path: &str, body: serde_json::Value| {
        http(&fleet.url, "POST", path, Some(AGENT), &body.to_string())
    };
    let (status, body) = post(
        "/api/v1/agents/register",
        serde_json::json!({"name": "sim", "slots": 1}),
    );
    assert_eq!(status, 200, "{body}");
    let agent: serde_json::Value = serde_json::from_str(&body).unwrap();
    let agent = agent["agent_id"].as_str().unwrap().to_string();
    let run = trigger(&fleet);
    let (status, body) = post(
        "/api/v1/agents/claim",
        serde_json::json!({"agent_id": agent, "wait_ms": 10_000}),
    );
    assert_eq!(status, 200, "{body}");
    let claim: serde_json::Value = serde_json::from_str(&body).unwrap();
    let path = format!("/api/v1/jobs/{}/logs", claim["job_id"].as_str().unwrap());
    let chunk = |attempt: i64, seq: i64, text: &str| {
        post(
            &path,
            serde_json::json!({"agent_id": agent, "attempt": attempt, "seq": seq, "text": text}),
        )
    };
    for _ in 0..2 {
        let (status, body) = chunk(1, 1, "first\n");
        assert_eq!((status, body.as_str()), (200, r#"{"acked":1}"#));
    }
    let (status, body) = chunk(2, 2, "other attempt\n");
    assert_eq!(status, 410, "{body}");
    assert_eq!(fleet.log(&run, "only"), "first\n");
    // A chunk after a gap (chunks the database lost) is acknowledged and kept after a line
    // that names the gap.
    let (status, body) = chunk(1, 3, "third\n");
    assert_eq!((status, body.as_str()), (200, r#"{"acked":3}"#));
    assert_eq!(
        fleet.log(&run, "only"),
        "first\n[railyard: chunk 2 of this attempt's log is missing: the server lost them]\nthird\n"
    );
    // A job with no chunks has no log.
    let (status, body) = fleet.get(&format!("/api/v1/runs/{run}/logs/other"));
    assert_eq!(status, 404, "{body}");
}
