//! The statements that carry the run model's names and rule, run on both backends: the run's
//! close against [`run_status`], and the claim and end (SQLite's triggers, PostgreSQL's
//! CTEs, which cannot import the model's constants) against the queue states, job statuses
//! and wait buckets the Rust side uses; and whole runs, moved on by the store, against the
//! model alone.

use railyard_run_model::{JobStatus, QueueState, RunStatus, run_status};
use railyard_types::{Millis, ProjectName, RunId};
use sqlx::Row;

use crate::{NewRun, QueuedJob, Store, WAIT_BOUNDS_MS};

/// A store on SQLite, then on PostgreSQL when a test server is configured.
pub(super) async fn on_each_backend<F, Fut>(test: &str, story: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = Store>,
{
    let dir = tempfile::tempdir().unwrap();
    story(Store::open_in(dir.path()).await.unwrap())
        .await
        .close()
        .await;
    if let Some(db) = crate::test_pg::PgDb::create(test).await {
        story(Store::open(&db.url).await.unwrap())
            .await
            .close()
            .await;
        db.drop_db().await;
    }
}

/// A run of `jobs` (none needing another) in `project`'s queue, queued at `at`.
async fn queued_run(store: &Store, project: &str, jobs: &[&str], at: i64) -> RunId {
    let run = store
        .create_queued_run(&NewRun {
            project: project.into(),
            pipeline_path: ".railyard.yml".into(),
            commit: None,
            owner: "railyard-server:queue".into(),
            jobs: jobs.iter().map(|j| j.to_string()).collect(),
            started_at: Millis(at),
            context: None,
        })
        .await
        .unwrap();
    let queued: Vec<QueuedJob> = jobs
        .iter()
        .map(|j| QueuedJob {
            name: j.to_string(),
            ..QueuedJob::default()
        })
        .collect();
    store
        .enqueue_run(
            &run.id,
            &ProjectName::from(project),
            "file:///r.git",
            "abc",
            &queued,
            1,
            Millis(at),
        )
        .await
        .unwrap();
    run.id
}

async fn text(store: &Store, sql: &str, id: &str) -> String {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

const STATUSES: [JobStatus; 6] = [
    JobStatus::Success,
    JobStatus::FailedAllowed,
    JobStatus::Failed,
    JobStatus::TimedOut,
    JobStatus::Skipped,
    JobStatus::Cancelled,
];

/// `close_run`'s one statement answers as the model's rule, for every pair of results, with
/// and without a cancel asked of a running job, and for a result the model cannot read.
#[tokio::test]
async fn closing_a_run_follows_the_models_rule() {
    on_each_backend(
        "closing_a_run_follows_the_models_rule",
        |store| async move {
            for a in STATUSES {
                for b in STATUSES {
                    for cancel_asked in [false, true] {
                        let run = queued_run(&store, "p", &["a", "b"], 1).await;
                        for (job, status) in [("a", a), ("b", b)] {
                            sqlx::query(sqlx::AssertSqlSafe(format!(
                                "UPDATE queue SET state = '{}', result = $1, cancel_requested = $2 \
                             WHERE run_id = $3 AND job_name = $4",
                                QueueState::Done
                            )))
                            .bind(status.as_str())
                            .bind(i64::from(cancel_asked && job == "a"))
                            .bind(run.as_str())
                            .bind(job)
                            .execute(store.pool())
                            .await
                            .unwrap();
                        }
                        let rule = run_status(cancel_asked, [a, b]);
                        assert_eq!(
                            store.close_run(&run, Millis(2)).await.unwrap(),
                            Some(rule),
                            "{a} {b} cancel asked: {cancel_asked}"
                        );
                        // Once only.
                        assert_eq!(store.close_run(&run, Millis(3)).await.unwrap(), None);
                    }
                }
            }
            // A done row without a result counts as failed, in the model as here.
            let run = queued_run(&store, "p", &["a"], 1).await;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE queue SET state = '{}' WHERE run_id = $1",
                QueueState::Done
            )))
            .bind(run.as_str())
            .execute(store.pool())
            .await
            .unwrap();
            let model = QueueState::Done.job_state(None).ended().unwrap();
            assert_eq!(
                store.close_run(&run, Millis(2)).await.unwrap(),
                Some(run_status(false, [model]))
            );
            // Not every row done: not closed.
            let run = queued_run(&store, "p", &["a"], 1).await;
            assert_eq!(store.close_run(&run, Millis(2)).await.unwrap(), None);
            store
        },
    )
    .await;
}

/// A claim and a job's end, one statement each, write the states the model names: the queue
/// row leased then done, the job running then ended with its status, the run running then
/// closed; and the claim counts its wait in the bucket `WAIT_BOUNDS_MS` gives it.
#[tokio::test]
async fn claims_and_ends_record_the_models_states_and_wait_buckets() {
    let name = "claims_and_ends_record_the_models_states_and_wait_buckets";
    on_each_backend(name, |store| async move {
        let agent = store.register_agent("a", 1, &[], Millis(0)).await.unwrap();
        let mut waits: Vec<i64> = vec![0];
        for bound in WAIT_BOUNDS_MS {
            waits.extend([bound - 1, bound, bound + 1]);
        }
        let t0 = 10_000_000;
        for (k, wait) in waits.iter().enumerate() {
            let project = format!("p{k}");
            let run = queued_run(&store, &project, &["job"], t0).await;
            let claim = store
                .claim(&agent, Millis(t0 + wait), 60_000)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(claim.run_id, run);
            let queue_state = "SELECT state FROM queue WHERE id = $1";
            let job_status = "SELECT status FROM jobs WHERE run_id = $1 AND name = 'job'";
            let run_state = "SELECT status FROM runs WHERE id = $1";
            assert_eq!(
                QueueState::parse(&text(&store, queue_state, &claim.job_id).await),
                Some(QueueState::Leased)
            );
            let job = text(&store, job_status, &run).await;
            assert_eq!(JobStatus::parse(&job), Some(JobStatus::Running));
            let status = text(&store, run_state, &run).await;
            assert_eq!(RunStatus::parse(&status), Some(RunStatus::Running));

            let bucket = WAIT_BOUNDS_MS
                .into_iter()
                .find(|b| wait <= b)
                .unwrap_or(i64::MAX);
            let row = sqlx::query(
                "SELECT le_ms, CAST(SUM(n) AS BIGINT), CAST(SUM(sum_ms) AS BIGINT) \
                 FROM queue_waits WHERE project = $1 GROUP BY le_ms",
            )
            .bind(&project)
            .fetch_all(store.pool())
            .await
            .unwrap();
            assert_eq!(row.len(), 1, "wait {wait}");
            let got: (i64, i64, i64) = (
                row[0].try_get(0).unwrap(),
                row[0].try_get(1).unwrap(),
                row[0].try_get(2).unwrap(),
            );
            assert_eq!(got, (bucket, 1, *wait), "wait {wait}");

            let end = JobStatus::FailedAllowed;
            let at = Millis(t0 + wait + 5);
            assert!(
                store
                    .finish_leased_job(&claim.job_id, &agent, claim.attempt, end, at, None)
                    .await
                    .unwrap()
            );
            assert_eq!(
                QueueState::parse(&text(&store, queue_state, &claim.job_id).await),
                Some(QueueState::Done)
            );
            let job = text(&store, job_status, &run).await;
            assert_eq!(JobStatus::parse(&job), Some(end));
            assert_eq!(
                store.advance_run(&run, at).await.unwrap(),
                Some(run_status(false, [end]))
            );
        }
        store
    })
    .await;
}

/// A small xorshift: the same pipelines and orders at every run, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The store carries out what the model decides: random pipelines (needs on earlier jobs,
/// some sharded) whose jobs are claimed and ended in the claim's order with random results
/// end, job by job (status and reason) and as a run, as the model alone says they do.
#[tokio::test]
async fn the_store_persists_what_the_model_decides() {
    use railyard_run_model::{Change, Event, Job, JobState, RunBuilder};
    let name = "the_store_persists_what_the_model_decides";
    on_each_backend(name, |store| async move {
        let agent = store.register_agent("a", 1, &[], Millis(0)).await.unwrap();
        let ends = [
            JobStatus::Success,
            JobStatus::Success,
            JobStatus::Failed,
            JobStatus::FailedAllowed,
            JobStatus::TimedOut,
            JobStatus::Cancelled,
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        // What the cases reached: skipped jobs, and runs of each final status.
        let (mut skipped, mut runs) = (0, std::collections::HashSet::new());
        for case in 0..40 {
            let count = 1 + rng.below(7);
            let jobs: Vec<QueuedJob> = (0..count)
                .map(|i| QueuedJob {
                    name: format!("j{i}"),
                    needs: (0..i)
                        .filter(|_| rng.below(3) == 0)
                        .map(|n| format!("j{n}"))
                        .collect(),
                    shards: [1, 1, 1, 2, 3][rng.below(5)],
                    ..QueuedJob::default()
                })
                .collect();
            let rows: Vec<String> = jobs.iter().flat_map(QueuedJob::queued_names).collect();
            // Each row's end is drawn here, in row order, not as it is claimed: the claim's
            // order follows the rows' random ids, and the cases must reach the same ends
            // (and the same statuses) at every run.
            let end_of: std::collections::HashMap<String, JobStatus> = rows
                .iter()
                .map(|row| (row.clone(), ends[rng.below(ends.len())]))
                .collect();
            let run = store
                .create_queued_run(&NewRun {
                    project: format!("p{case}").into(),
                    pipeline_path: ".railyard.yml".into(),
                    commit: None,
                    owner: "railyard-server:queue".into(),
                    jobs: rows.clone(),
                    started_at: Millis(1),
                    context: None,
                })
                .await
                .unwrap();
            let run = run.id;
            let project = format!("p{case}");
            store
                .enqueue_run(
                    &run,
                    &ProjectName::from(project.as_str()),
                    "file:///r.git",
                    "abc",
                    &jobs,
                    1,
                    Millis(1),
                )
                .await
                .unwrap();
            // The model alone, told the same ends.
            let mut model = RunBuilder::new();
            for job in &jobs {
                let needs: Vec<String> = (job.needs.iter())
                    .flat_map(|n| jobs.iter().find(|j| j.name == *n).unwrap().queued_names())
                    .collect();
                let needs = model.needs(needs);
                for name in job.queued_names() {
                    model.job(Job::new(name, needs, JobState::Waiting));
                }
            }
            let mut model = model.build();
            let mut reasons = std::collections::HashMap::new();
            let mut closed = model.apply(Event::Check).closed;
            let mut now = 10;
            while let Some(claim) = store.claim(&agent, Millis(now), 60_000).await.unwrap() {
                let end = end_of[&claim.job];
                now += 1;
                assert!(
                    store
                        .finish_leased_job(
                            &claim.job_id,
                            &agent,
                            claim.attempt,
                            end,
                            Millis(now),
                            None
                        )
                        .await
                        .unwrap()
                );
                let stored = store.advance_run(&run, Millis(now)).await.unwrap();
                let decided = model.apply(Event::JobEnded(&claim.job, end));
                for change in &decided.changes {
                    if let Change::Skip(i, why) = change {
                        reasons.insert(model.job(*i).name.clone(), why.clone());
                    }
                }
                closed = closed.or(decided.closed);
                assert_eq!(stored, decided.closed, "case {case}: {jobs:?}");
            }
            let detail = store.find_run(None, &run).await.unwrap().unwrap();
            assert_eq!(Some(detail.run.status), closed, "case {case}: {jobs:?}");
            for record in &detail.jobs {
                let i = model.position(&record.name).unwrap();
                assert_eq!(
                    Some(record.status),
                    model.job(i).state.ended(),
                    "{}",
                    record.name
                );
                if record.status == JobStatus::Skipped {
                    assert_eq!(record.error.as_ref(), reasons.get(&record.name));
                }
            }
            assert_eq!(detail.jobs.len(), rows.len());
            skipped += reasons.len();
            runs.insert(detail.run.status);
        }
        assert!(skipped > 10, "{skipped}");
        assert_eq!(runs.len(), 3, "{runs:?}");
        store
    })
    .await;
}
