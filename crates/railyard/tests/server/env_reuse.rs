//! The env image on an agent: built once by cache key, then reused by the next job on the
//! same engine (nothing built again), and recorded on each job like a local run records it.

use std::process::Command;

use crate::fleet::*;

#[test]
fn a_second_job_on_the_same_agent_builds_nothing() {
    // A key of this test run only, so the first job really builds.
    let nonce = format!("{}-{}", std::process::id(), ulid_ish());
    let pipeline = format!(
        "env: {{ dockerfile: ci/Dockerfile, args: {{ NONCE: \"{nonce}\" }} }}\njobs:\n  first:\n    script: [cat /built]\n  second:\n    needs: [first]\n    script: [cat /built]\n"
    );
    let mut fleet = Fleet::start(&pipeline);
    let work = fleet.dir.path().join("work");
    std::fs::create_dir_all(work.join("ci")).unwrap();
    std::fs::write(
        work.join("ci/Dockerfile"),
        "FROM busybox\nARG NONCE\nRUN echo \"built $NONCE\" > /built\n",
    )
    .unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "env"]);
    git(&work, &["push", "-q", "../repo.git", "main"]);
    fleet.agent("builder");
    let run = trigger(&fleet);
    let detail = fleet.wait_run(&run, 240);
    let key = detail["jobs"][0]["env_key"].as_str().map(str::to_owned);
    // Whatever happened, the image this test built goes.
    if let Some(key) = &key {
        let filter = format!("label=io.railyard.env-key={key}");
        let out = Command::new("docker")
            .args(["images", "-q", "--filter", &filter])
            .output()
            .unwrap();
        for id in text(&out.stdout).split_whitespace() {
            let _ = Command::new("docker").args(["rmi", "-f", id]).output();
        }
    }
    assert_eq!(
        detail["run"]["status"],
        "success",
        "{detail}\n{}",
        fleet.diagnostics()
    );
    let first = fleet.log(&run, "first");
    let second = fleet.log(&run, "second");
    assert!(
        first.contains("[railyard] env ci/Dockerfile: built image"),
        "{first}"
    );
    assert!(first.contains(&format!("built {nonce}")), "{first}");
    assert!(
        second.contains("[railyard] env ci/Dockerfile: reused image"),
        "{second}"
    );
    // The agent's scan of the reused image says what it found; nothing else of the env.
    assert!(
        !(second.lines()).any(|l| l.starts_with("[env] ") && !l.starts_with("[env] scanned: ")),
        "the second job printed build output: {second}"
    );
    let jobs = detail["jobs"].as_array().unwrap();
    assert!(key.is_some(), "{detail}");
    assert_eq!(jobs[0]["env_key"], jobs[1]["env_key"]);
    assert_eq!(jobs[0]["env_image_id"], jobs[1]["env_image_id"]);
    assert!(
        jobs[0]["env_image_id"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{detail}"
    );
    assert_nothing_left(&run);
}

/// A few characters that differ between runs of this test.
fn ulid_ish() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}")
}
