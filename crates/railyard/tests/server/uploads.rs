//! What agents send back besides logs: step records, test timings, and artifacts, listed and
//! downloaded through the API, with paths that climb out refused.

use crate::fleet::*;
use railyard_types::ProjectName;

const WITH_OUTPUTS: &str = r#"env: { image: busybox }
jobs:
  build:
    script:
      - mkdir -p out/sub && echo hello > out/sub/a.txt && echo two > b.txt
      - echo second
    artifacts: [out, b.txt]
  unit:
    tests:
      list: printf 't1\nt2\n'
      run: "echo {tests}; printf '<testsuite name=\"s\"><testcase name=\"t1\" time=\"0.5\"/><testcase name=\"t2\" time=\"1.5\"/></testsuite>' > report.xml"
      junit: report.xml
      format: "{name}"
"#;

#[test]
fn steps_timings_and_artifacts_reach_the_server() {
    let mut fleet = Fleet::start(WITH_OUTPUTS);
    fleet.agent("up");
    let run = trigger(&fleet);
    let detail = fleet.wait_success(&run, 180);
    // Step records, as a local run keeps them.
    let build = detail["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "build")
        .unwrap();
    let steps = build["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{build}");
    for (i, step) in steps.iter().enumerate() {
        assert_eq!(step["index"], i);
        assert_eq!(step["status"], "success", "{step}");
        assert_eq!(step["exit_code"], 0);
        assert!(step["finished_at"].as_i64().unwrap() >= step["started_at"].as_i64().unwrap());
    }
    assert_eq!(steps[1]["command"], "echo second");
    // The log says where the server keeps each artifact, not the agent's temporary folder.
    let log = fleet.log(&run, "build");
    assert!(
        log.contains(&format!(
            "artifact `b.txt` collected: the server keeps it at /api/v1/runs/{run}/artifacts/build/b.txt"
        )),
        "{log}"
    );
    assert!(!log.contains("railyard-job-"), "{log}");
    // Artifacts: listed, downloaded.
    let (status, body) = fleet.get(&format!("/api/v1/runs/{run}/artifacts/build"));
    assert_eq!(status, 200, "{body}");
    let listed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let paths: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["b.txt", "out/sub/a.txt"], "{body}");
    assert_eq!(listed[1]["size"], 6);
    // sha256 of "hello\n", computed by the server as it stored the upload.
    assert_eq!(
        listed[1]["sha256"],
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    );
    let (status, body) = fleet.get(&format!("/api/v1/runs/{run}/artifacts/build/out/sub/a.txt"));
    assert_eq!((status, body.as_str()), (200, "hello\n"));
    let (status, _) = fleet.get(&format!("/api/v1/runs/{run}/artifacts/build/nope.txt"));
    assert_eq!(status, 404);
    let (status, body) = fleet.get(&format!(
        "/api/v1/runs/{run}/artifacts/build/out/..%2F..%2F..%2Frailyard.db"
    ));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("is not a plain name"), "{body}");
    // An upload that climbs out is refused before anything is written, lease or not.
    let (status, body) = http(
        &fleet.url,
        "PUT",
        "/api/v1/jobs/x/artifacts/..%2Fescape?agent_id=a&attempt=1",
        Some(AGENT),
        "x",
    );
    assert_eq!(status, 400, "{body}");
    assert!(!fleet.dir.path().join("data/artifacts/escape").exists());
    // An upload without the job's lease is refused (the job is done).
    let (status, _) = http(
        &fleet.url,
        "PUT",
        "/api/v1/jobs/x/artifacts/late.txt?agent_id=a&attempt=1",
        Some(AGENT),
        "x",
    );
    assert_eq!(status, 410);
    // The test job's timings are the project's now: its next split uses them.
    let store = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = railyard_store::Store::open_in(&fleet.dir.path().join("data"))
            .await
            .unwrap();
        store.timings(&ProjectName::from("demo")).await.unwrap()
    });
    let (_, unit) = fleet.get(&format!("/api/v1/runs/{run}/logs/unit"));
    assert_eq!(store.get("t1").map(|t| t.0), Some(0.5), "{store:?}\n{unit}");
    assert_eq!(store.get("t2").map(|t| t.0), Some(1.5), "{store:?}");
    assert_nothing_left(&run);
}
