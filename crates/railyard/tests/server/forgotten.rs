//! An agent the server forgot (gone a day, or a server on a fresh database) is told to
//! register first at its next claim, registers again, and takes the next job.

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
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while listed(&fleet).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent never registered"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let first = listed(&fleet)[0]["id"].as_str().unwrap().to_string();
    // The server's housekeeping forgets an agent unseen for a day; here, everyone now.
    let forgotten = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = railyard_store::Store::open_in(&fleet.dir.path().join("data"))
            .await
            .unwrap();
        store.forget_agents(i64::MAX).await.unwrap()
    });
    assert_eq!(forgotten, 1);
    let run = trigger(&fleet);
    fleet.wait_success(&run, 120);
    let now = listed(&fleet);
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now[0]["id"], first.as_str(), "a new registration");
    assert_eq!(now[0]["name"], "comeback");
    let said = std::fs::read_to_string(fleet.dir.path().join("comeback.err")).unwrap();
    assert!(said.contains("registering again"), "{said}");
    assert_nothing_left(&run);
}
