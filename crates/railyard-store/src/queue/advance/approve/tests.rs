//! A manual job waits in `approval` (with its dependents), no claim takes it, the run stays
//! open; an approval queues it (all its shards), a second one or one of another job is
//! refused naming the state; a cancel ends it. Both backends.

use railyard_run_model::{JobStatus, RunStatus};
use railyard_types::{AgentId, Millis, ProjectName, RunId};

use super::super::tests::on_each_backend;
use crate::{Approval, NewRun, QueuedJob, Store};

fn job(name: &str, needs: &[&str], manual: bool, shards: u32) -> QueuedJob {
    QueuedJob {
        name: name.into(),
        needs: needs.iter().map(|n| n.to_string()).collect(),
        manual,
        shards,
        ..QueuedJob::default()
    }
}

async fn run_of(store: &Store, project: &str, jobs: &[QueuedJob]) -> RunId {
    let run = store
        .create_queued_run(&NewRun {
            project: project.into(),
            pipeline_path: ".railyard.yml".into(),
            commit: None,
            owner: "railyard-server:queue".into(),
            jobs: jobs.iter().flat_map(|j| j.queued_names()).collect(),
            started_at: Millis(1),
            context: None,
        })
        .await
        .unwrap();
    store
        .enqueue_run(
            &run.id,
            &ProjectName::from(project),
            "file:///r.git",
            "abc",
            jobs,
            1,
            Millis(1),
        )
        .await
        .unwrap();
    run.id
}

/// Claims the next job, which must be `expected`, and ends it with success.
async fn run_next(store: &Store, agent: &AgentId, run: &RunId, expected: &str) {
    assert_eq!(run_any(store, agent, run).await, expected);
}

/// Claims the next job, of `run`, ends it with success and names it.
async fn run_any(store: &Store, agent: &AgentId, run: &RunId) -> String {
    let claim = store.claim(agent, Millis(10), 60_000).await.unwrap();
    let claim = claim.expect("a job to claim");
    assert_eq!(&claim.run_id, run);
    let done = (store.finish_leased_job(
        &claim.job_id,
        agent,
        claim.attempt,
        JobStatus::Success,
        Millis(11),
        None,
    ))
    .await
    .unwrap();
    assert!(done);
    claim.job
}

fn refused(answer: Approval, words: &str) {
    match answer {
        Approval::Refused(why) => assert!(why.contains(words), "{why}"),
        other => panic!("expected a refusal saying {words:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_manual_job_waits_for_its_approval_and_then_runs() {
    on_each_backend("a_manual_job_waits_for_its_approval", |store| async move {
        let agent = store.register_agent("a", 1, &[], Millis(0)).await.unwrap();
        let jobs = [
            job("build", &[], false, 1),
            job("deploy", &["build"], true, 1),
            job("after", &["deploy"], false, 1),
        ];
        let run = run_of(&store, "p", &jobs).await;
        // Not approvable before its needs let it run.
        refused(
            store.approve_job(&run, "deploy", Millis(2)).await.unwrap(),
            "waiting for its needs",
        );
        run_next(&store, &agent, &run, "build").await;
        assert_eq!(store.advance_run(&run, Millis(12)).await.unwrap(), None);
        let awaiting = store.jobs_awaiting_approval(&run).await.unwrap();
        assert_eq!(awaiting, [("deploy".to_string(), "deploy".to_string())]);
        // Nothing to claim: the manual job waits for a person, its dependent with it.
        assert!(
            store
                .claim(&agent, Millis(13), 60_000)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.advance_run(&run, Millis(13)).await.unwrap(), None);
        refused(
            store.approve_job(&run, "build", Millis(14)).await.unwrap(),
            "not a manual job",
        );
        refused(
            store.approve_job(&run, "after", Millis(14)).await.unwrap(),
            "not a manual job",
        );
        assert_eq!(
            store.approve_job(&run, "nope", Millis(14)).await.unwrap(),
            Approval::NoSuchJob
        );
        assert_eq!(
            store.approve_job(&run, "deploy", Millis(14)).await.unwrap(),
            Approval::Approved
        );
        refused(
            store.approve_job(&run, "deploy", Millis(15)).await.unwrap(),
            "queued already",
        );
        assert!(store.jobs_awaiting_approval(&run).await.unwrap().is_empty());
        run_next(&store, &agent, &run, "deploy").await;
        assert_eq!(store.advance_run(&run, Millis(16)).await.unwrap(), None);
        run_next(&store, &agent, &run, "after").await;
        assert_eq!(
            store.advance_run(&run, Millis(17)).await.unwrap(),
            Some(RunStatus::Success)
        );
        refused(
            store.approve_job(&run, "deploy", Millis(18)).await.unwrap(),
            "ended (success)",
        );
        store
    })
    .await;
}

#[tokio::test]
async fn a_sharded_manual_job_is_approved_at_once_and_a_cancel_ends_a_waiting_one() {
    on_each_backend("a_sharded_manual_job_is_approved", |store| async move {
        let agent = store.register_agent("a", 1, &[], Millis(0)).await.unwrap();
        let run = run_of(&store, "p", &[job("ship", &[], true, 2)]).await;
        assert_eq!(store.jobs_awaiting_approval(&run).await.unwrap().len(), 2);
        assert_eq!(
            store.approve_job(&run, "ship", Millis(2)).await.unwrap(),
            Approval::Approved
        );
        let mut shards = [
            run_any(&store, &agent, &run).await,
            run_any(&store, &agent, &run).await,
        ];
        shards.sort();
        assert_eq!(shards, ["ship [1/2]", "ship [2/2]"]);
        assert_eq!(
            store.advance_run(&run, Millis(12)).await.unwrap(),
            Some(RunStatus::Success)
        );

        let other = run_of(
            &store,
            "q",
            &[job("ship", &[], true, 1), job("then", &["ship"], false, 1)],
        )
        .await;
        assert!(store.cancel_run(&other, Millis(20)).await.unwrap());
        assert_eq!(
            store.advance_run(&other, Millis(20)).await.unwrap(),
            Some(RunStatus::Cancelled)
        );
        refused(
            store.approve_job(&other, "ship", Millis(21)).await.unwrap(),
            "ended (cancelled)",
        );
        store
    })
    .await;
}
