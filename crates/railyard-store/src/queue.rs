//! The server's queue: projects, agents, and one row per job of a server run.
//!
//! A row is `waiting` until its `needs` are done and let dependents run, then `queued`; an
//! agent's claim makes it `leased` (one `UPDATE … WHERE id = (SELECT … LIMIT 1)` statement,
//! with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so servers sharing a database never hand a
//! job out twice); heartbeats push `lease_until`; the agent's report makes it `done`. A lease
//! that lapses puts the row back to `queued`, or ends it as `agent lost` after
//! `max_attempts`. Every lease check names the attempt, so an agent that comes back after
//! its lease lapsed is refused.
//!
//! Which queued job a claim gets (labels, caps, weights) is `claim`'s; projects and agents
//! are in `projects`, moving a run on in `advance`, counts for `/metrics` in `stats`.

use railyard_run_model::{
    Change, DONE, Event, Job, JobState, LEASED, QUEUED, QueueState, RunBuilder,
};
use railyard_types::{AgentId, JobId, JobStatus, Millis, ProjectName, RunId, RunStatus};
use sqlx::Row;

use crate::records::{NewRun, RunRecord};
use crate::runs::{batches, insert_run, values};
use crate::{Backend, Store, StoreError};

pub use railyard_types::protocol::{Claim, Project, ShardOf};

mod advance;
mod claim;
mod clock;
mod deliveries;
mod pools;
mod projects;
mod stats;
mod tests_queue;

pub use advance::{Approval, Rerun};
pub use claim::GroupWait;
pub use deliveries::Delivered;
pub use pools::{AgentCaller, AgentFit, DEFAULT_POOL};
pub use projects::ProjectRemoval;
pub use stats::QueueStats;
pub use tests_queue::OpenedQueue;

/// One job of a run, as the queue takes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueuedJob {
    /// Its name in the pipeline.
    pub name: String,
    /// Why it is not run at all (its `when:` rule does not match the run): it is written
    /// ended `skipped` with this reason (every shard of a sharded job), and the jobs that
    /// need it are skipped by the run model. `None` for a job that runs.
    pub skipped: Option<String>,
    /// The jobs it waits for.
    pub needs: Vec<String>,
    /// Labels an agent must all have to claim it (`runs_on`).
    pub runs_on: Vec<String>,
    /// Its `parallel`: above 1, it is queued as that many shards (`test [1/4]` …), each
    /// claimed on its own, and a job that needs it waits for them all.
    pub shards: u32,
    /// Its `concurrency` group: no two leased rows of one group, across the runs and
    /// projects of the server.
    pub concurrency_group: Option<String>,
    /// With a group: a newer job of the group queued drops an older one still queued.
    pub cancel_pending: bool,
    /// Its `environment`: the job is recorded as a deployment of it.
    pub environment: Option<String>,
    /// `manual: true`: once its needs let it run, it waits for [`Store::approve_job`].
    pub manual: bool,
}

impl QueuedJob {
    /// The names it is queued (and recorded) under: its own, or its shards'.
    pub fn queued_names(&self) -> Vec<String> {
        if self.shards > 1 {
            (1..=self.shards)
                .map(|k| railyard_types::shard_name(&self.name, k, self.shards))
                .collect()
        } else {
            vec![self.name.clone()]
        }
    }
}

/// A leased job whose lease lapsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lapsed {
    /// The run.
    pub run_id: RunId,
    /// The job.
    pub job: String,
    /// True when it went back to the queue; false when it ran out of attempts.
    pub requeued: bool,
}

pub(crate) const COLUMNS: &str = "id, run_id, job_name, project, repo_url, git_commit, git_ref, \
     attempt, lease_until, sharded_job, shard, shards";

/// What every queue row of one run shares.
struct RunQueue<'a> {
    run_id: &'a str,
    project: &'a str,
    repo_url: &'a str,
    commit: &'a str,
    git_ref: Option<&'a str>,
    max_attempts: i64,
    at: i64,
}

/// Writes a run's queue rows and their labels on a caller's transaction, by batches of rows
/// (one statement each): the largest pipeline a server takes is a few statements, so a
/// trigger holds SQLite's one writer for milliseconds.
async fn enqueue(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    run: &RunQueue<'_>,
    jobs: &[QueuedJob],
) -> Result<(), sqlx::Error> {
    let names: std::collections::HashMap<&str, Vec<String>> = jobs
        .iter()
        .map(|j| (j.name.as_str(), j.queued_names()))
        .collect();
    struct Row<'j> {
        id: String,
        name: String,
        needs: String,
        state: QueueState,
        job: &'j QueuedJob,
        shard: Option<i64>,
    }
    // Every row waits but those the run model queues at once.
    let mut model = RunBuilder::new();
    let mut rows = Vec::new();
    for job in jobs {
        let needs: Vec<String> = job
            .needs
            .iter()
            .flat_map(|n| {
                names
                    .get(n.as_str())
                    .cloned()
                    .unwrap_or_else(|| vec![n.clone()])
            })
            .collect();
        let listed = serde_json::to_string(&needs).expect("names serialize");
        let needs = model.needs(needs);
        // A job skipped by its rule goes in ended: the model never queues it, and skips
        // the jobs that need it (written by `advance_run` after the commit).
        let (state, queue_state) = match job.skipped {
            Some(_) => (JobState::Ended(JobStatus::Skipped), QueueState::Done),
            None => (JobState::Waiting, QueueState::Waiting),
        };
        for (k, name) in job.queued_names().into_iter().enumerate() {
            let mut entry = Job::new(&name, needs, state);
            entry.shard_of = (job.shards > 1).then(|| job.name.clone());
            entry.manual = job.manual;
            entry.ruled_out = job.skipped.is_some();
            model.job(entry);
            rows.push(Row {
                id: ulid::Ulid::new().to_string(),
                name,
                needs: listed.clone(),
                state: queue_state,
                job,
                shard: (job.shards > 1).then_some(k as i64 + 1),
            });
        }
    }
    for change in model.build().apply(Event::Check).changes {
        match change {
            Change::Queue(i) => rows[i].state = QueueState::Queued,
            Change::AwaitApproval(i) => rows[i].state = QueueState::AwaitingApproval,
            _ => {}
        }
    }
    for (_, chunk) in batches(&rows) {
        let sql = format!(
            "INSERT INTO queue (id, run_id, job_name, project, repo_url, git_commit, git_ref, \
             needs, state, attempt, max_attempts, log_seq, queued_at, labelled, sharded_job, \
             shard, shards, concurrency_group, cancel_pending, environment, result, error, \
             ended_at, manual, ruled_out) VALUES {}",
            values(backend, chunk.len(), 25)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in chunk {
            let sharded = row.shard.is_some();
            query = query
                .bind(&row.id)
                .bind(run.run_id)
                .bind(&row.name)
                .bind(run.project)
                .bind(run.repo_url)
                .bind(run.commit)
                .bind(run.git_ref)
                .bind(&row.needs)
                .bind(row.state.as_str())
                .bind(0i64)
                .bind(run.max_attempts)
                .bind(0i64)
                .bind(run.at)
                .bind(i64::from(!row.job.runs_on.is_empty()))
                .bind(sharded.then_some(&row.job.name))
                .bind(row.shard)
                .bind(sharded.then_some(i64::from(row.job.shards)))
                .bind(row.job.concurrency_group.as_deref())
                .bind(i64::from(
                    row.job.cancel_pending && row.job.concurrency_group.is_some(),
                ))
                .bind(row.job.environment.as_deref());
            let skipped = row.job.skipped.as_deref();
            query = query
                .bind(skipped.map(|_| JobStatus::Skipped.as_str()))
                .bind(skipped)
                .bind(skipped.map(|_| run.at))
                .bind(i64::from(row.job.manual))
                .bind(i64::from(skipped.is_some()));
        }
        query.execute(&mut *conn).await?;
    }
    skip_records(conn, backend, run, jobs).await?;
    let labels: Vec<(&str, &str)> = rows
        .iter()
        .flat_map(|r| r.job.runs_on.iter().map(|l| (r.id.as_str(), l.as_str())))
        .collect();
    for (_, chunk) in batches(&labels) {
        let sql = format!(
            "INSERT INTO job_labels (job_id, label) VALUES {} ON CONFLICT DO NOTHING",
            values(backend, chunk.len(), 2)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, label) in chunk {
            query = query.bind(*id).bind(*label);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records the jobs skipped by their rule as ended `skipped` with the reason (their job
/// records exist already, written with the run as pending), grouped by reason: one
/// statement per reason and batch.
async fn skip_records(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    run: &RunQueue<'_>,
    jobs: &[QueuedJob],
) -> Result<(), sqlx::Error> {
    let mut by_reason: Vec<(&str, Vec<String>)> = Vec::new();
    for job in jobs {
        let Some(why) = job.skipped.as_deref() else {
            continue;
        };
        match by_reason.iter_mut().find(|(w, _)| *w == why) {
            Some((_, names)) => names.extend(job.queued_names()),
            None => by_reason.push((why, job.queued_names())),
        }
    }
    for (why, names) in &by_reason {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        advance::skip_job_records(conn, backend, run.run_id, &names, why, run.at).await?;
    }
    Ok(())
}

impl Store {
    /// Puts a run's jobs in the queue: those without `needs` queued, the others waiting. A
    /// job's `runs_on` labels go in with it, in the same transaction, so no agent lacking
    /// them can claim it in between. A sharded job goes in as one row per shard; a need
    /// naming it becomes a need of each shard.
    #[allow(clippy::too_many_arguments)]
    pub async fn enqueue_run(
        &self,
        run_id: &RunId,
        project: &ProjectName,
        repo_url: &str,
        commit: &str,
        jobs: &[QueuedJob],
        max_attempts: i64,
        at: Millis,
    ) -> Result<(), StoreError> {
        let err = self.query_error("queueing a run's jobs");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        let run = RunQueue {
            run_id,
            project,
            repo_url,
            commit,
            git_ref: None,
            max_attempts,
            at: at.as_i64(),
        };
        enqueue(&mut tx, self.backend(), &run, jobs)
            .await
            .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        self.supersede_if_pending(run_id, jobs, at).await?;
        self.advance_if_skipped(run_id, jobs, at).await
    }

    /// With jobs skipped by their rule, [`Store::advance_run`] at once: it skips the jobs
    /// that need them, and ends the run when nothing is left to run (all skipped).
    async fn advance_if_skipped(
        &self,
        run_id: &RunId,
        jobs: &[QueuedJob],
        at: Millis,
    ) -> Result<(), StoreError> {
        if jobs.iter().any(|j| j.skipped.is_some()) {
            self.advance_run(run_id, at).await?;
        }
        Ok(())
    }

    /// [`Store::supersede_waiting`] when some of `jobs` has `cancel_pending` (no query else).
    async fn supersede_if_pending(
        &self,
        run_id: &RunId,
        jobs: &[QueuedJob],
        at: Millis,
    ) -> Result<(), StoreError> {
        let pending = jobs
            .iter()
            .any(|j| j.cancel_pending && j.concurrency_group.is_some());
        if pending {
            self.supersede_waiting(run_id, at).await?;
        }
        Ok(())
    }

    /// Records a server's run (`queued`, see [`Store::create_queued_run`]) and puts its jobs
    /// in the queue (as [`Store::enqueue_run`]) in one transaction: a failure anywhere leaves
    /// nothing, where a run recorded without its queue rows stayed open for ever. `None`, with
    /// nothing written, when the project is gone (removed while its repository was fetched).
    /// `git_ref` is the ref the run was triggered for, in full, handed to its jobs.
    pub async fn queue_run(
        &self,
        new: &NewRun,
        git_ref: Option<&str>,
        repo_url: &str,
        jobs: &[QueuedJob],
        max_attempts: i64,
    ) -> Result<Option<RunRecord>, StoreError> {
        let queued = self
            .queue_run_once(new, git_ref, repo_url, jobs, max_attempts, None)
            .await?;
        Ok(match queued {
            Delivered::Queued(run) => Some(*run),
            Delivered::ProjectGone | Delivered::AlreadyHandled => None,
        })
    }

    /// [`Store::queue_run`], and with a webhook's `delivery` id, the delivery recorded in
    /// the same transaction (see `deliveries`): a delivery recorded already queues nothing.
    async fn queue_run_once(
        &self,
        new: &NewRun,
        git_ref: Option<&str>,
        repo_url: &str,
        jobs: &[QueuedJob],
        max_attempts: i64,
        delivery: Option<&str>,
    ) -> Result<Delivered, StoreError> {
        let err = self.query_error("queueing a run");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        // First, and a lock: a removal of the project either went before (no row: nothing
        // is queued) or waits for this commit and deletes the run with the project. A write
        // on SQLite, so that the transaction holds the write lock from here.
        let lock = match self.backend() {
            Backend::Postgres => "SELECT name FROM projects WHERE name = $1 FOR KEY SHARE",
            Backend::Sqlite => "UPDATE projects SET name = name WHERE name = $1 RETURNING name",
        };
        let project = sqlx::query(lock)
            .bind(new.project.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(&err)?;
        if project.is_none() {
            return Ok(Delivered::ProjectGone);
        }
        if let Some(delivery) = delivery
            && !deliveries::record(&mut tx, &new.project, delivery, new.started_at)
                .await
                .map_err(&err)?
        {
            return Ok(Delivered::AlreadyHandled);
        }
        let run = insert_run(&mut tx, self.backend(), new, RunStatus::Queued, git_ref)
            .await
            .map_err(&err)?;
        let queue = RunQueue {
            run_id: &run.id,
            project: &new.project,
            repo_url,
            commit: new.commit.as_deref().unwrap_or_default(),
            git_ref,
            max_attempts,
            at: new.started_at.as_i64(),
        };
        enqueue(&mut tx, self.backend(), &queue, jobs)
            .await
            .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        self.supersede_if_pending(&run.id, jobs, new.started_at)
            .await?;
        self.advance_if_skipped(&run.id, jobs, new.started_at)
            .await?;
        Ok(Delivered::Queued(Box::new(run)))
    }

    /// Renews a lease: `None` when the agent no longer holds it (lapsed and handed on),
    /// else whether the job's run was cancelled (the agent should stop it and report).
    pub async fn renew_lease(
        &self,
        job_id: &JobId,
        agent_id: &AgentId,
        attempt: i64,
        now: Millis,
        lease_ms: i64,
    ) -> Result<Option<bool>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE queue SET lease_until = $4 WHERE id = $1 AND agent_id = $2 AND attempt = $3 \
             AND state = '{LEASED}' AND lease_until >= $5 RETURNING cancel_requested"
        )))
        .bind(job_id.as_str())
        .bind(agent_id.as_str())
        .bind(attempt)
        .bind(now.as_i64() + lease_ms)
        .bind(now.as_i64())
        .fetch_optional(self.pool())
        .await
        .map_err(self.query_error("renewing a lease"))?;
        match row {
            None => Ok(None),
            Some(r) => {
                let cancel: i64 = r.try_get(0).map_err(self.query_error("renewing a lease"))?;
                Ok(Some(cancel != 0))
            }
        }
    }

    /// The leased job and its last accepted log chunk, when the agent holds its lease.
    pub async fn leased_job(
        &self,
        job_id: &JobId,
        agent_id: &AgentId,
        attempt: i64,
    ) -> Result<Option<(Claim, i64)>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS}, log_seq FROM queue WHERE id = $1 AND agent_id = $2 \
             AND attempt = $3 AND state = '{LEASED}'"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job_id.as_str())
            .bind(agent_id.as_str())
            .bind(attempt)
            .fetch_optional(self.pool())
            .await
            .map_err(self.query_error("reading a leased job"))?;
        match row {
            None => Ok(None),
            Some(r) => {
                let claim = claim_from_row(&r).map_err(self.query_error("reading a leased job"))?;
                let seq: i64 = r
                    .try_get("log_seq")
                    .map_err(self.query_error("reading a leased job"))?;
                Ok(Some((claim, seq)))
            }
        }
    }

    /// Puts jobs whose lease lapsed before `now` back in the queue, or fails them as
    /// `agent lost` (job record included) once out of attempts.
    pub async fn expire_leases(&self, now: Millis) -> Result<Vec<Lapsed>, StoreError> {
        let err = self.query_error("expiring leases");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, run_id, job_name, attempt, max_attempts, environment FROM queue \
             WHERE state = '{LEASED}' AND lease_until < $1"
        )))
        .bind(now.as_i64())
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        let mut out = Vec::new();
        for row in rows {
            let id: String = row.try_get("id").map_err(&err)?;
            let run_id = RunId::from(row.try_get::<String, _>("run_id").map_err(&err)?);
            let job: String = row.try_get("job_name").map_err(&err)?;
            let attempt: i64 = row.try_get("attempt").map_err(&err)?;
            let max: i64 = row.try_get("max_attempts").map_err(&err)?;
            let requeued = attempt < max;
            let sql = if requeued {
                format!(
                    "UPDATE queue SET state = '{QUEUED}', agent_id = NULL, lease_until = NULL \
                     WHERE id = $1 AND attempt = $2 AND state = '{LEASED}' AND lease_until < $3"
                )
            } else {
                format!(
                    "UPDATE queue SET state = '{DONE}', result = '{}', lease_until = NULL, \
                     ended_at = $3, error = $4 \
                     WHERE id = $1 AND attempt = $2 AND state = '{LEASED}' AND lease_until < $3",
                    JobStatus::Failed
                )
            };
            let why = format!("agent lost: its lease lapsed on each of {max} attempt(s)");
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&id)
                .bind(attempt)
                .bind(now.as_i64());
            if !requeued {
                query = query.bind(&why);
            }
            let done = query.execute(self.pool()).await.map_err(&err)?;
            if done.rows_affected() == 1 {
                if !requeued {
                    // SQLite's `queue_ended` trigger wrote this already; PostgreSQL needs it.
                    self.job_finished(&run_id, &job, JobStatus::Failed, now, Some(&why))
                        .await?;
                }
                let environment: Option<String> = row.try_get("environment").map_err(&err)?;
                if environment.is_some() {
                    // Failed, or handed on (started again by the next claim): it ended here.
                    let status = if requeued {
                        JobStatus::Cancelled
                    } else {
                        JobStatus::Failed
                    };
                    self.deployment_ended(&run_id, &job, status, now).await?;
                }
                out.push(Lapsed {
                    run_id,
                    job,
                    requeued,
                });
            }
        }
        Ok(out)
    }
}

pub(crate) fn claim_from_row(r: &sqlx::any::AnyRow) -> Result<Claim, sqlx::Error> {
    Ok(Claim {
        job_id: r.try_get::<String, _>("id")?.into(),
        run_id: r.try_get::<String, _>("run_id")?.into(),
        job: r.try_get("job_name")?,
        project: ProjectName::from(r.try_get::<String, _>("project")?),
        repo_url: r.try_get("repo_url")?,
        commit: r.try_get("git_commit")?,
        git_ref: r.try_get("git_ref")?,
        attempt: r.try_get("attempt")?,
        lease_until: Millis(r.try_get("lease_until")?),
        shard: match (
            r.try_get::<Option<String>, _>("sharded_job")?,
            r.try_get::<Option<i64>, _>("shard")?,
            r.try_get::<Option<i64>, _>("shards")?,
        ) {
            (Some(job), Some(shard), Some(shards)) => Some(ShardOf {
                job,
                shard: shard as u32,
                shards: shards as u32,
            }),
            _ => None,
        },
        // Filled by the server's claim handler, from the secrets table.
        secrets: Vec::new(),
        repo_credential: None,
        // Filled by the server's claim handler, from the run.
        context: None,
        run_url: None,
        run_attempt: None,
        cache_scope: None,
    })
}
