//! What operators read and the tokens they make: stored tokens (by hash, revoked at once),
//! the agents list, the queue-wait histogram, and a lease's end recorded with it. On SQLite,
//! and on PostgreSQL when available.

use railyard_store::{JobStatus, QueuedJob, StepStatus, Store, WAIT_BOUNDS_MS};
use railyard_types::{AgentId, Millis, ProjectName, Role, TokenName};

use crate::common::{PgDb, data_dir, new_run, now_ms, open_pg};

#[tokio::test(flavor = "multi_thread")]
async fn tokens_and_fleet_on_sqlite() {
    let dir = data_dir();
    let store = Store::open_in(dir.path()).await.unwrap();
    tokens(&store).await;
    fleet(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_and_fleet_on_postgres() {
    let Some(db) = PgDb::create("tokens_and_fleet_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    tokens(&store).await;
    fleet(&store).await;
    store.close().await;
    db.drop_db().await;
}

async fn tokens(store: &Store) {
    assert!(
        store
            .add_token(&TokenName::from("ci"), Role::Agent, "aa11", Millis(1))
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_token(&TokenName::from("ci"), Role::Admin, "bb22", Millis(2))
            .await
            .unwrap(),
        "a taken name"
    );
    assert_eq!(store.token_role("aa11").await.unwrap(), Some(Role::Agent));
    assert_eq!(
        store.token_role("bb22").await.unwrap(),
        None,
        "nothing stored twice"
    );
    assert!(
        store
            .revoke_token(&TokenName::from("ci"), Millis(3))
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_token(&TokenName::from("ci"), Millis(4))
            .await
            .unwrap(),
        "revoked once"
    );
    assert_eq!(store.token_role("aa11").await.unwrap(), None);
    let list = store.tokens().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].name.as_str(), list[0].revoked_at),
        ("ci", Some(Millis(3)))
    );
}

async fn fleet(store: &Store) {
    let now = now_ms();
    let run = store
        .create_run(&new_run("waits", "railyard-server:test", &["a", "b"]))
        .await
        .unwrap();
    let jobs: Vec<QueuedJob> = ["a", "b"]
        .iter()
        .map(|n| QueuedJob {
            name: n.to_string(),
            ..Default::default()
        })
        .collect();
    store
        .enqueue_run(
            &run.id,
            &ProjectName::from("waits"),
            "file:///r.git",
            "abc",
            &jobs,
            3,
            Millis(now - 2_000),
        )
        .await
        .unwrap();
    let agent = store
        .register_agent("w1", 2, &[], Millis(now))
        .await
        .unwrap();
    assert!(store.wait_histograms().await.unwrap().is_empty());
    // Each claim counts its wait: 2 s, then a job claimed two hours after it was queued.
    let first = store
        .claim(&agent, Millis(now), 60_000)
        .await
        .unwrap()
        .unwrap();
    let h = store.wait_histograms().await.unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].project, "waits");
    assert_eq!((h[0].count, h[0].sum_ms), (1, 2_000));
    let late = now + 7_200_000;
    let second = store
        .claim(&agent, Millis(late), 60_000)
        .await
        .unwrap()
        .unwrap();
    let h = store.wait_histograms().await.unwrap();
    assert_eq!((h[0].count, h[0].sum_ms), (2, 2_000 + 7_202_000));
    let expected: Vec<i64> = WAIT_BOUNDS_MS
        .iter()
        .map(|b| i64::from(*b >= 2_000) + i64::from(*b >= 7_202_000))
        .collect();
    assert_eq!(
        h[0].cumulative, expected,
        "2 s in its bucket, 2 h only in +Inf"
    );
    assert_eq!(expected[3], 1, "2.5 s holds the first");
    // The claim marked each job running, in its own transaction.
    let detail = store.find_run(None, &run.id).await.unwrap().unwrap();
    for (claim, at) in [(&first, now), (&second, late)] {
        let job = detail.jobs.iter().find(|j| j.name == claim.job).unwrap();
        assert_eq!(
            (job.status, job.started_at),
            (JobStatus::Running, Some(Millis(at)))
        );
    }
    let agents = store.agents().await.unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(
        (agents[0].name.as_str(), agents[0].running, agents[0].slots),
        ("w1", 2, 2)
    );
    // Ending a lease records the job's end with it; only the holder of the lease can.
    store
        .step_started(&run.id, &first.job, 0, "make", Millis(now))
        .await
        .unwrap();
    let job_id = &first.job_id;
    let end = |agent: AgentId, attempt: i64| async move {
        store
            .finish_leased_job(
                job_id,
                &agent,
                attempt,
                JobStatus::Failed,
                Millis(now + 5),
                Some("boom"),
            )
            .await
    };
    assert!(
        !end(agent.clone(), 2).await.unwrap(),
        "another attempt's lease"
    );
    assert!(
        !end("someone".into(), 1).await.unwrap(),
        "another agent's lease"
    );
    assert!(end(agent.clone(), 1).await.unwrap());
    assert!(!end(agent.clone(), 1).await.unwrap(), "ended once");
    let detail = store.find_run(None, &run.id).await.unwrap().unwrap();
    let job = detail.jobs.iter().find(|j| j.name == first.job).unwrap();
    assert_eq!(
        (job.status, job.finished_at, job.error.as_deref()),
        (JobStatus::Failed, Some(Millis(now + 5)), Some("boom"))
    );
    assert_eq!(
        (job.steps[0].status, job.steps[0].finished_at),
        (StepStatus::Cancelled, Some(Millis(now + 5))),
        "a step left running is closed"
    );
    assert_eq!(store.agents().await.unwrap()[0].running, 1);

    // Agents unseen since a time are forgotten (with their labels), unless they hold a lease.
    let day = 86_400_000;
    let labels = vec!["gpu".to_string()];
    let idle = store
        .register_agent("idle", 1, &labels, Millis(now - 2 * day))
        .await
        .unwrap();
    assert_eq!(store.forget_agents(Millis(now - day)).await.unwrap(), 1);
    assert_eq!(
        store.forget_agents(Millis(i64::MAX)).await.unwrap(),
        0,
        "w1 holds a lease"
    );
    let names: Vec<String> = store
        .agents()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["w1"]);
    assert!(
        !store.touch_agent(&idle, Millis(now), 0).await.unwrap(),
        "a claim would hear 404"
    );
}
