//! An agent the server forgot (gone a day, or a server on a fresh database) is told to
//! register first at its next claim, registers again, and takes the next job.

use railyard_types::Millis;
use std::time::{Duration, Instant};

use crate::fleet::*;

#[test]
fn a_forgotten_agent_registers_again_and_runs_the_next_job() {
    let mut fleet =
        Fleet::start("env: { image: busybox }\njobs:\n  hello:\n    script: [echo hi]\n");
    fleet.agent("comeback");
    let listed = |fleet: &Fleet| -> Vec<serde_json::Value> {
        let (status, body) = fleet.get("/api/v1/agents");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    let registered = wait_for(&fleet, "the agent never registered", || {
        listed(&fleet).first().cloned()
    });
    let first = registered["id"].as_str().unwrap().to_string();
    // The server's housekeeping forgets an agent unseen for a day; here, everyone now.
    let forgotten = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = railyard_store::Store::open_in(&fleet.dir.path().join("data"))
            .await
            .unwrap();
        store.forget_agents(Millis(i64::MAX)).await.unwrap()
    });
    assert_eq!(forgotten, 1);
    // Its next claim hears 404 and it registers again. Wait for that rather than for time:
    // a job queued at once could still be leased to the old id (the server notes a live
    // agent for up to a quarter of the lease without asking the database), and the agent
    // would then register again only after the job, racing the checks below on a busy
    // machine (seen once as an empty agent list).
    let again = wait_for(&fleet, "the agent never registered again", || {
        listed(&fleet)
            .into_iter()
            .find(|a| a["id"] != first.as_str())
    });
    assert_eq!(again["name"], "comeback");
    let run = trigger(&fleet);
    fleet.wait_success(&run, 120);
    let now = listed(&fleet);
    assert_eq!(now.len(), 1, "{now:?}");
    assert_eq!(
        now[0]["id"], again["id"],
        "the job ran on the new registration"
    );
    assert_ne!(now[0]["id"], first.as_str(), "a new registration");
    assert_eq!(now[0]["name"], "comeback");
    let said = std::fs::read_to_string(fleet.dir.path().join("comeback.err")).unwrap();
    assert!(said.contains("registering again"), "{said}");
    let log = std::fs::read_to_string(fleet.dir.path().join("server.err")).unwrap();
    let leased_to = format!("agent={}", again["id"].as_str().unwrap());
    assert!(
        log.lines()
            .any(|l| l.contains("job leased") && l.contains(&leased_to)),
        "{log}"
    );
    assert_nothing_left(&run);
}

/// Polls `found` every 100 ms for up to 30 s; panics with `what` and the fleet's logs.
fn wait_for<T>(fleet: &Fleet, what: &str, mut found: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}\n{}", fleet.diagnostics());
        std::thread::sleep(Duration::from_millis(100));
    }
}
