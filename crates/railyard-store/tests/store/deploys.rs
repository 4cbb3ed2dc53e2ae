//! Deploy jobs told to the store (issue 13): a `concurrency` group is one lock across the
//! runs and projects of the server (a second job of the group is not claimable while the
//! first is leased, and is again once it ends, is cancelled or its lease lapses), a race of
//! concurrent claims never leases two rows of one group, `cancel_pending` drops an older
//! waiting job through the run model, and jobs with an `environment` are recorded as
//! deployments. On SQLite, and on PostgreSQL when available.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use railyard_store::{JobStatus, QueuedJob, RunStatus, Store};
use railyard_types::{AgentId, Millis, ProjectName, RunId};

use crate::common::{PgDb, data_dir, new_run, open_pg};

const LEASE: i64 = 60_000;
const GROUP: &str = "production";

async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = data_dir();
    (Store::open_in(dir.path()).await.unwrap(), dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn deploys_on_sqlite() {
    let (store, _dir) = sqlite().await;
    deploys(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deploys_on_postgres() {
    let Some(db) = PgDb::create("deploys_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    deploys(&store).await;
    store.close().await;
    db.drop_db().await;
}

/// Every story on one store: each leaves nothing of the group leased or queued.
async fn deploys(store: &Store) {
    lock_is_held_until_the_job_ends(store).await;
    lock_is_released_by_a_cancel(store).await;
    lock_is_released_by_a_lapsed_lease(store).await;
    a_blocked_group_does_not_block_other_jobs(store).await;
    cancel_pending_drops_the_older_waiting_job(store).await;
    deployments_are_recorded(store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_claims_never_lease_two_rows_of_a_group_on_postgres() {
    let Some(db) = PgDb::create("concurrent_claims_of_a_group_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    claim_race(store.clone(), 24, 12).await;
    store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_claims_never_lease_two_rows_of_a_group_on_sqlite() {
    let (store, _dir) = sqlite().await;
    claim_race(store, 12, 6).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_database_refuses_a_second_leased_row_of_a_group_on_sqlite() {
    let (store, dir) = sqlite().await;
    let file = format!("sqlite://{}", dir.path().join("railyard.db").display());
    second_lease_refused(&store, &file).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_database_refuses_a_second_leased_row_of_a_group_on_postgres() {
    let Some(db) = PgDb::create("second_leased_row_of_a_group_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    second_lease_refused(&store, &db.url).await;
    store.close().await;
    db.drop_db().await;
}

/// What makes the lock race-free is the database, not the claim's check: a write that leases
/// a second row of a group, whatever its query, is refused (a claim that loses the race gets
/// this refusal and tries again). Ending, handing back or cancelling the first frees it.
async fn second_lease_refused(store: &Store, url: &str) {
    let agent = agent(store, 2).await;
    let first = run_of(store, "shop", &[deploy("deploy", &[], false)], 3).await;
    let second = run_of(store, "blog", &[deploy("deploy", &[], false)], 3).await;
    let a = claim(store, &agent).await.unwrap();
    assert_eq!(a.run_id, first);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    // `claimed_at` for SQLite's claim trigger (migration 0015).
    let lease = "UPDATE queue SET state = 'leased', claimed_at = queued_at WHERE run_id = $1";
    let refused = sqlx::query(lease)
        .bind(second.as_str())
        .execute(&pool)
        .await
        .expect_err("a second leased row of the group");
    assert!(
        matches!(&refused, sqlx::Error::Database(e) if e.is_unique_violation()),
        "{refused}"
    );
    // Once the first is back in the queue (as a lapsed lease puts it), the second may lease.
    sqlx::query("UPDATE queue SET state = 'queued' WHERE run_id = $1")
        .bind(first.as_str())
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(lease)
        .bind(second.as_str())
        .execute(&pool)
        .await
        .unwrap();
    // Rows without a group are not in the index.
    let plain_runs = [
        run_of(store, "docs", &[plain("a")], 3).await,
        run_of(store, "docs", &[plain("b")], 3).await,
    ];
    for run in &plain_runs {
        sqlx::query(lease)
            .bind(run.as_str())
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
}

/// A deploy job: in [`GROUP`], maybe `cancel_pending`, deploying to `production`.
fn deploy(name: &str, needs: &[&str], cancel_pending: bool) -> QueuedJob {
    QueuedJob {
        name: name.into(),
        needs: needs.iter().map(|n| n.to_string()).collect(),
        concurrency_group: Some(GROUP.into()),
        cancel_pending,
        environment: Some("production".into()),
        ..Default::default()
    }
}

fn plain(name: &str) -> QueuedJob {
    QueuedJob {
        name: name.into(),
        ..Default::default()
    }
}

/// A run of `jobs`, queued at a later millisecond than any before it, so that which job is
/// oldest (what a claim takes first) is the order the story makes them in.
async fn run_of(store: &Store, project: &str, jobs: &[QueuedJob], attempts: i64) -> RunId {
    static LAST: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    while Millis::now().as_i64() <= LAST.load(Ordering::SeqCst) {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let at = Millis::now();
    LAST.fetch_max(at.as_i64(), Ordering::SeqCst);
    let names: Vec<String> = jobs.iter().map(|j| j.name.clone()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let run = store
        .create_run(&new_run(project, "railyard-server:queue", &names))
        .await
        .unwrap();
    store
        .enqueue_run(
            &run.id,
            &ProjectName::from(project),
            "file:///repo.git",
            "abc",
            jobs,
            attempts,
            at,
        )
        .await
        .unwrap();
    run.id
}

async fn agent(store: &Store, slots: i64) -> AgentId {
    store
        .register_agent("deployer", slots, &[], Millis::now())
        .await
        .unwrap()
}

async fn claim(store: &Store, agent: &AgentId) -> Option<railyard_store::Claim> {
    store.claim(agent, Millis::now(), LEASE).await.unwrap()
}

async fn finish(store: &Store, agent: &AgentId, c: &railyard_store::Claim, status: JobStatus) {
    assert!(
        store
            .finish_leased_job(&c.job_id, agent, c.attempt, status, Millis::now(), None)
            .await
            .unwrap()
    );
    store.advance_run(&c.run_id, Millis::now()).await.unwrap();
}

async fn run_status(store: &Store, run: &RunId) -> RunStatus {
    store
        .find_run(None, run.as_str())
        .await
        .unwrap()
        .unwrap()
        .run
        .status
}

async fn job_error(store: &Store, run: &RunId, job: &str) -> (JobStatus, Option<String>) {
    let detail = store.find_run(None, run.as_str()).await.unwrap().unwrap();
    let job = detail.jobs.iter().find(|j| j.name == job).unwrap();
    (job.status, job.error.clone())
}

async fn lock_is_held_until_the_job_ends(store: &Store) {
    let agent = agent(store, 4).await;
    // Two projects: the lock is the server's, not a project's.
    let first = run_of(store, "shop", &[deploy("deploy", &[], false)], 3).await;
    let second = run_of(store, "blog", &[deploy("ship", &[], false)], 3).await;
    let a = claim(store, &agent)
        .await
        .expect("the first deploy is claimable");
    assert_eq!((&a.run_id, a.job.as_str()), (&first, "deploy"));
    assert_eq!(
        claim(store, &agent).await,
        None,
        "the second deploy waits while the first is leased"
    );
    let waits = store.jobs_waiting_for_groups(&second).await.unwrap();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert_eq!(
        (waits[0].job.as_str(), waits[0].group.as_str()),
        ("ship", GROUP)
    );
    assert_eq!(
        (&waits[0].holder_run, waits[0].holder_job.as_str()),
        (&first, "deploy")
    );
    assert!(
        store
            .jobs_waiting_for_groups(&first)
            .await
            .unwrap()
            .is_empty()
    );
    finish(store, &agent, &a, JobStatus::Success).await;
    let b = claim(store, &agent)
        .await
        .expect("free once the first ended");
    assert_eq!((&b.run_id, b.job.as_str()), (&second, "ship"));
    finish(store, &agent, &b, JobStatus::Failed).await;
    assert_eq!(run_status(store, &first).await, RunStatus::Success);
    assert_eq!(run_status(store, &second).await, RunStatus::Failed);
}

async fn lock_is_released_by_a_cancel(store: &Store) {
    let agent = agent(store, 4).await;
    let first = run_of(store, "shop", &[deploy("deploy", &[], false)], 3).await;
    let second = run_of(store, "shop", &[deploy("deploy", &[], false)], 3).await;
    let a = claim(store, &agent).await.unwrap();
    assert_eq!(a.run_id, first);
    assert!(store.cancel_run(&first, Millis::now()).await.unwrap());
    assert_eq!(
        claim(store, &agent).await,
        None,
        "a cancel asks the agent to stop: the lock holds until it reports"
    );
    assert_eq!(
        store
            .renew_lease(&a.job_id, &agent, a.attempt, Millis::now(), LEASE)
            .await
            .unwrap(),
        Some(true)
    );
    finish(store, &agent, &a, JobStatus::Cancelled).await;
    assert_eq!(run_status(store, &first).await, RunStatus::Cancelled);
    let b = claim(store, &agent)
        .await
        .expect("free once the cancelled job stopped");
    assert_eq!(b.run_id, second);
    finish(store, &agent, &b, JobStatus::Success).await;
}

async fn lock_is_released_by_a_lapsed_lease(store: &Store) {
    let agent = agent(store, 4).await;
    // One attempt: the lapse ends the first deploy as failed.
    let first = run_of(store, "shop", &[deploy("deploy", &[], false)], 1).await;
    let second = run_of(store, "shop", &[deploy("deploy", &[], false)], 3).await;
    let a = claim(store, &agent).await.unwrap();
    assert_eq!(a.run_id, first);
    assert_eq!(claim(store, &agent).await, None);
    let later = Millis(Millis::now().as_i64() + 2 * LEASE);
    let lapsed = store.expire_leases(later).await.unwrap();
    assert_eq!(lapsed.len(), 1);
    assert!(!lapsed[0].requeued);
    store.advance_run(&first, Millis::now()).await.unwrap();
    assert_eq!(run_status(store, &first).await, RunStatus::Failed);
    let b = claim(store, &agent)
        .await
        .expect("free once the lease lapsed");
    assert_eq!(b.run_id, second);
    // A lapse that hands the job back also frees the lock: the claim after it gets one of
    // the group's rows (the oldest: the same job again), never two.
    let third = run_of(store, "shop", &[deploy("deploy", &[], false)], 3).await;
    let later = Millis(Millis::now().as_i64() + 2 * LEASE);
    let lapsed = store.expire_leases(later).await.unwrap();
    assert_eq!(lapsed.len(), 1);
    assert!(lapsed[0].requeued);
    let again = claim(store, &agent)
        .await
        .expect("free once the lease lapsed");
    assert_eq!((&again.run_id, again.attempt), (&second, 2));
    assert_eq!(claim(store, &agent).await, None);
    finish(store, &agent, &again, JobStatus::Success).await;
    let c = claim(store, &agent).await.unwrap();
    assert_eq!(c.run_id, third);
    finish(store, &agent, &c, JobStatus::Success).await;
}

async fn a_blocked_group_does_not_block_other_jobs(store: &Store) {
    let agent = agent(store, 4).await;
    let first = run_of(store, "shop", &[deploy("deploy", &[], false)], 3).await;
    let a = claim(store, &agent).await.unwrap();
    assert_eq!(a.run_id, first);
    // The only queued job of project `blog` waits for the lock; `docs`' plain job, queued
    // after it, is still handed out.
    let blocked = run_of(store, "blog", &[deploy("deploy", &[], false)], 3).await;
    let other = run_of(store, "docs", &[plain("build")], 3).await;
    let b = claim(store, &agent).await.expect("a job without a group");
    assert_eq!(b.run_id, other);
    assert_eq!(claim(store, &agent).await, None);
    finish(store, &agent, &b, JobStatus::Success).await;
    finish(store, &agent, &a, JobStatus::Success).await;
    let c = claim(store, &agent).await.unwrap();
    assert_eq!(c.run_id, blocked);
    finish(store, &agent, &c, JobStatus::Success).await;
}

async fn cancel_pending_drops_the_older_waiting_job(store: &Store) {
    let agent = agent(store, 4).await;
    let running = run_of(store, "shop", &[deploy("deploy", &[], true)], 3).await;
    let a = claim(store, &agent).await.unwrap();
    assert_eq!(a.run_id, running);
    // Waits for the lock, with a job after it.
    let older = run_of(
        store,
        "shop",
        &[
            deploy("deploy", &[], true),
            plain_needing("smoke", "deploy"),
        ],
        3,
    )
    .await;
    assert_eq!(claim(store, &agent).await, None);
    // A newer run's deploy becomes queued when its build ends (the run model's queueing).
    let newer = run_of(
        store,
        "shop",
        &[plain("build"), deploy("deploy", &["build"], true)],
        3,
    )
    .await;
    let build = claim(store, &agent).await.expect("the newer run's build");
    assert_eq!((&build.run_id, build.job.as_str()), (&newer, "build"));
    finish(store, &agent, &build, JobStatus::Success).await;
    // The older waiting deploy is dropped, its dependent skipped, its run closed.
    let (status, error) = job_error(store, &older, "deploy").await;
    assert_eq!(status, JobStatus::Cancelled);
    assert_eq!(
        error.as_deref(),
        Some(format!("superseded by run {newer}").as_str())
    );
    assert_eq!(
        job_error(store, &older, "smoke").await.0,
        JobStatus::Skipped
    );
    assert_eq!(run_status(store, &older).await, RunStatus::Cancelled);
    // The running one is left alone.
    assert_eq!(claim(store, &agent).await, None);
    finish(store, &agent, &a, JobStatus::Success).await;
    assert_eq!(run_status(store, &running).await, RunStatus::Success);
    let b = claim(store, &agent).await.unwrap();
    assert_eq!((&b.run_id, b.job.as_str()), (&newer, "deploy"));
    finish(store, &agent, &b, JobStatus::Success).await;
    assert_eq!(run_status(store, &newer).await, RunStatus::Success);

    // Queued at once by a new run: the same, without `cancel_pending` nothing is dropped.
    let holder = run_of(store, "shop", &[deploy("deploy", &[], false)], 3).await;
    let h = claim(store, &agent).await.unwrap();
    assert_eq!(h.run_id, holder);
    let waiting = run_of(store, "shop", &[deploy("deploy", &[], false)], 3).await;
    let patient = run_of(store, "shop", &[deploy("deploy", &[], false)], 3).await;
    // Another project's waiting deploy of the group is not this pipeline's to cancel.
    let foreign = run_of(store, "blog", &[deploy("deploy", &[], false)], 3).await;
    let newest = run_of(store, "shop", &[deploy("deploy", &[], true)], 3).await;
    for dropped in [&waiting, &patient] {
        assert_eq!(run_status(store, dropped).await, RunStatus::Cancelled);
        let (_, error) = job_error(store, dropped, "deploy").await;
        assert_eq!(error, Some(format!("superseded by run {newest}")));
    }
    assert_eq!(
        job_error(store, &foreign, "deploy").await,
        (JobStatus::Pending, None)
    );
    finish(store, &agent, &h, JobStatus::Success).await;
    // The foreign one was queued first: it goes first, then the newest.
    for next in [&foreign, &newest] {
        let n = claim(store, &agent).await.unwrap();
        assert_eq!(&n.run_id, next);
        finish(store, &agent, &n, JobStatus::Success).await;
    }
    assert_eq!(claim(store, &agent).await, None);
}

fn plain_needing(name: &str, need: &str) -> QueuedJob {
    QueuedJob {
        needs: vec![need.into()],
        ..plain(name)
    }
}

async fn deployments_are_recorded(store: &Store) {
    let agent = agent(store, 4).await;
    let before = store.deployments("staging", 100).await.unwrap().len();
    let job = QueuedJob {
        environment: Some("staging".into()),
        ..plain_needing("deploy", "package")
    };
    let run = run_of(store, "shop", &[plain("package"), job, plain("lint")], 3).await;
    let mut claims = [
        claim(store, &agent).await.unwrap(),
        claim(store, &agent).await.unwrap(),
    ];
    claims.sort_by(|a, b| a.job.cmp(&b.job));
    assert_eq!(claims[1].job, "package");
    // What `package` built (`image_build`) is what `deploy` ships.
    let (image, digest) = ("127.0.0.1:5000/shop/app:1", "sha256:0123");
    store
        .set_job_built_image(&run, "package", image, Some(digest))
        .await
        .unwrap();
    finish(store, &agent, &claims[1], JobStatus::Success).await;
    let deploy = claim(store, &agent).await.unwrap();
    assert_eq!(deploy.job, "deploy");
    let listed = store.deployments("staging", 100).await.unwrap();
    assert_eq!(listed.len(), before + 1);
    let d = &listed[0];
    assert_eq!((&d.run_id, d.job.as_str()), (&run, "deploy"));
    assert_eq!((d.status, d.ended_at), (JobStatus::Running, None));
    assert_eq!(d.project, ProjectName::from("shop"));
    assert_eq!(
        (d.image.as_deref(), d.image_digest.as_deref()),
        (Some(image), Some(digest))
    );
    finish(store, &agent, &claims[0], JobStatus::Success).await;
    finish(store, &agent, &deploy, JobStatus::Failed).await;
    let d = &store.deployments("staging", 100).await.unwrap()[0];
    assert_eq!(d.status, JobStatus::Failed);
    assert!(d.ended_at.is_some_and(|e| e >= d.started_at));
    assert!(store.deployments("nowhere", 100).await.unwrap().is_empty());
}

/// `runs` runs of one deploy job each, in one group over several projects, all queued at
/// once, claimed by `claimers` tasks at once: no claim may lease a row of the group while
/// another is leased. A task marks its lease held after its claim returned and released
/// before it reports the end, so two leases that overlapped in the database overlap here.
async fn claim_race(store: Store, runs: usize, claimers: usize) {
    let agent = agent(&store, claimers as i64).await;
    for k in 0..runs {
        run_of(
            &store,
            &format!("p{}", k % 5),
            &[deploy("deploy", &[], false)],
            3,
        )
        .await;
    }
    let held = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..claimers {
        let (store, agent, held, done) = (store.clone(), agent.clone(), held.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while done.load(Ordering::SeqCst) < runs {
                let Some(c) = store.claim(&agent, Millis::now(), LEASE).await.unwrap() else {
                    tokio::task::yield_now().await;
                    continue;
                };
                assert_eq!(held.fetch_add(1, Ordering::SeqCst), 0, "two leases at once");
                tokio::task::yield_now().await;
                held.fetch_sub(1, Ordering::SeqCst);
                done.fetch_add(1, Ordering::SeqCst);
                let now = Millis::now();
                let status = JobStatus::Success;
                assert!(
                    store
                        .finish_leased_job(&c.job_id, &agent, c.attempt, status, now, None)
                        .await
                        .unwrap()
                );
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), runs);
    assert_eq!(
        store.deployments("production", 1000).await.unwrap().len(),
        runs
    );
}
