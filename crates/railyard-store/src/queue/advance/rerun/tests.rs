//! A re-run opens a finished run as its next attempt: only the failed shard and what it
//! skipped (failed only), or every job (all); never the jobs left out by their rule; the
//! earlier attempt's results are kept. Refused for an open run, an unknown one, and a
//! failed-only re-run of a run where nothing failed. Both backends.

use railyard_run_model::{JobStatus, RunStatus};
use railyard_types::{AgentId, Millis, RunId};

use super::super::tests::on_each_backend;
use crate::{NewRun, QueuedJob, Rerun, Store};

fn job(name: &str, needs: &[&str], shards: u32) -> QueuedJob {
    QueuedJob {
        name: name.into(),
        needs: needs.iter().map(|n| n.to_string()).collect(),
        shards,
        ..QueuedJob::default()
    }
}

async fn run_of(store: &Store, jobs: &[QueuedJob]) -> RunId {
    let new = NewRun {
        project: "p".into(),
        pipeline_path: ".railyard.yml".into(),
        commit: Some("abc1234".into()),
        owner: "railyard-server:queue".into(),
        jobs: jobs.iter().flat_map(|j| j.queued_names()).collect(),
        started_at: Millis(1),
        context: None,
    };
    let run = store.queue_run(&new, None, "file:///r.git", jobs, 1).await;
    run.unwrap().expect("the project exists").id
}

/// Claims every job there is to claim, ends each with success unless it is named in
/// `failing`, moves the run on, and repeats until nothing is left: the names run, in order.
async fn drain(store: &Store, agent: &AgentId, run: &RunId, failing: &[&str]) -> Vec<String> {
    let mut ran = Vec::new();
    while let Some(claim) = store.claim(agent, Millis(10), 60_000).await.unwrap() {
        assert_eq!(&claim.run_id, run);
        let status = if failing.contains(&claim.job.as_str()) {
            JobStatus::Failed
        } else {
            JobStatus::Success
        };
        let done = store
            .finish_leased_job(
                &claim.job_id,
                agent,
                claim.attempt,
                status,
                Millis(11),
                None,
            )
            .await
            .unwrap();
        assert!(done);
        store.advance_run(run, Millis(12)).await.unwrap();
        ran.push(claim.job);
    }
    ran
}

async fn detail(store: &Store, run: &RunId) -> railyard_types::records::RunDetail {
    store.find_run(None, run.as_str()).await.unwrap().unwrap()
}

async fn status_of(store: &Store, run: &RunId) -> RunStatus {
    detail(store, run).await.run.status
}

#[tokio::test]
async fn a_failed_shard_runs_again_alone_then_its_dependents() {
    on_each_backend("a_failed_shard_runs_again_alone", |store| async move {
        store
            .add_project(&"p".into(), "file:///r.git", Millis(0))
            .await
            .unwrap();
        let agent = store.register_agent("a", 1, &[], Millis(0)).await.unwrap();
        let mut docs = job("docs", &[], 1);
        docs.skipped = Some("skipped: `when` wants event `tag`; this run's is `push`".into());
        let jobs = [
            job("build", &[], 1),
            job("test", &["build"], 3),
            job("report", &["test"], 1),
            docs,
            job("after-docs", &["docs"], 1),
        ];
        let run = run_of(&store, &jobs).await;
        let mut ran = drain(&store, &agent, &run, &["test [2/3]"]).await;
        ran.sort();
        assert_eq!(ran, ["build", "test [1/3]", "test [2/3]", "test [3/3]"]);
        assert_eq!(status_of(&store, &run).await, RunStatus::Failed);

        let started = store.rerun(&run, true, Millis(20)).await.unwrap();
        assert_eq!(
            started,
            Rerun::Started {
                attempt: 2,
                jobs: vec!["test [2/3]".into(), "report".into()]
            }
        );
        // Open again, and only the failed shard is claimable, then what it let run.
        assert_eq!(status_of(&store, &run).await, RunStatus::Queued);
        assert_eq!(
            store.rerun(&run, true, Millis(21)).await.unwrap(),
            Rerun::Unfinished
        );
        let ran = drain(&store, &agent, &run, &[]).await;
        assert_eq!(ran, ["test [2/3]", "report"]);
        let detail = detail(&store, &run).await;
        assert_eq!(detail.run.status, RunStatus::Success);
        assert_eq!(detail.run.attempt, 2);
        let status = |name: &str| detail.jobs.iter().find(|j| j.name == name).unwrap().status;
        assert_eq!(status("docs"), JobStatus::Skipped);
        assert_eq!(status("after-docs"), JobStatus::Skipped);
        assert_eq!(status("report"), JobStatus::Success);
        // The first attempt's results are kept, the failure among them.
        let first: Vec<(&str, JobStatus)> = (detail.earlier_attempts.iter())
            .filter(|a| a.attempt == 1)
            .map(|a| (a.job.as_str(), a.status))
            .collect();
        assert!(
            first.contains(&("test [2/3]", JobStatus::Failed)),
            "{first:?}"
        );
        assert!(first.contains(&("report", JobStatus::Skipped)), "{first:?}");
        assert_eq!(first.len(), 7, "{first:?}");

        // Nothing failed now: a failed-only re-run is refused and changes nothing.
        let again = store.rerun(&run, true, Millis(30)).await.unwrap();
        assert_eq!(again, Rerun::NothingFailed);
        assert_eq!(status_of(&store, &run).await, RunStatus::Success);
        // Every job again, but never the jobs the rule left out.
        let all = store.rerun(&run, false, Millis(31)).await.unwrap();
        let Rerun::Started { attempt: 3, jobs } = all else {
            panic!("{all:?}")
        };
        assert!(!jobs.iter().any(|j| j.contains("docs")), "{jobs:?}");
        let mut ran = drain(&store, &agent, &run, &[]).await;
        ran.sort();
        let mut expected = ["build", "report", "test [1/3]", "test [2/3]", "test [3/3]"];
        expected.sort();
        assert_eq!(ran, expected);
        assert_eq!(status_of(&store, &run).await, RunStatus::Success);

        let unknown = RunId::from("01J00000000000000000000000".to_string());
        let none = store.rerun(&unknown, false, Millis(40)).await.unwrap();
        assert_eq!(none, Rerun::NoSuchRun);
        store
    })
    .await;
}
