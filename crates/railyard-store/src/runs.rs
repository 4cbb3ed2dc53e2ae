//! Recording a run as it goes: the run, its jobs and steps. Each call is one short
//! transaction, so a crash leaves the history as of the last event.
//!
//! Job events are upserts: a job first named after `create_run` (a shard, say) is added at
//! the end. A run or job that reaches a final status closes what it left open (running steps
//! and unfinished jobs become `cancelled`), so no finished run shows a job still running.

use railyard_types::{JobStatus, Millis, RunId, RunStatus, StepStatus};
use sqlx::error::ErrorKind;
use sqlx::{Any, AnyConnection, Row, Transaction};

use crate::records::{NewRun, RunRecord};
use crate::{Backend, Store, StoreError};

impl Store {
    /// Records a new run (status `running`) with its jobs `pending`. Assigns its id (a ULID)
    /// and its number: the project's last number plus one, bumped atomically so that
    /// concurrent creators never share one.
    pub async fn create_run(&self, new: &NewRun) -> Result<RunRecord, StoreError> {
        self.insert_run(new, RunStatus::Running).await
    }

    /// Like [`Store::create_run`] for a run of the server's queue: it is `queued` until an
    /// agent claims one of its jobs (the claim makes it `running`), so nobody reads a run
    /// whose jobs all wait for an agent as running.
    pub async fn create_queued_run(&self, new: &NewRun) -> Result<RunRecord, StoreError> {
        self.insert_run(new, RunStatus::Queued).await
    }

    async fn insert_run(&self, new: &NewRun, status: RunStatus) -> Result<RunRecord, StoreError> {
        let err = self.query_error("creating a run");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        let run = insert_run(&mut tx, self.backend(), new, status, None)
            .await
            .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        Ok(run)
    }

    /// Sets a run's status (and end time). A final status closes its unfinished jobs and
    /// running steps as `cancelled`.
    pub async fn set_run_status(
        &self,
        run_id: &RunId,
        status: RunStatus,
        finished_at: Option<Millis>,
    ) -> Result<(), StoreError> {
        let err = self.query_error("setting a run's status");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        let done = sqlx::query("UPDATE runs SET status = $2, finished_at = $3 WHERE id = $1")
            .bind(run_id.as_str())
            .bind(status.as_str())
            .bind(finished_at.map(Millis::as_i64))
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        if done.rows_affected() == 0 {
            return Err(self.not_found(format!("run {run_id}")));
        }
        if is_final(status) {
            close_unfinished(&mut tx, run_id, finished_at)
                .await
                .map_err(&err)?;
        }
        tx.commit().await.map_err(&err)
    }

    /// Marks a job `running` (adding it if the run did not list it).
    pub async fn job_started(
        &self,
        run_id: &RunId,
        job: &str,
        at: Millis,
    ) -> Result<(), StoreError> {
        let mut conn =
            (self.pool().acquire().await).map_err(self.query_error("recording a job start"))?;
        record_job_start(&mut conn, run_id, job, at)
            .await
            .map_err(|e| self.job_error(e, run_id, job, "recording a job start"))
    }

    /// Records the env image a job runs in: its cache key (none for a ready `image`), ID and,
    /// when it came from or went to a registry, the registry's manifest digest.
    pub async fn set_job_env_image(
        &self,
        run_id: &RunId,
        job: &str,
        env_key: Option<&str>,
        (image_id, digest): (&str, Option<&str>),
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET env_key = $3, env_image_id = $4, env_image_digest = $5 \
             WHERE run_id = $1 AND name = $2",
        )
        .bind(run_id.as_str())
        .bind(job)
        .bind(env_key)
        .bind(image_id)
        .bind(digest)
        .execute(self.pool())
        .await
        .map_err(self.query_error("recording a job's env image"))?;
        if done.rows_affected() == 0 {
            return Err(self.not_found(format!("job `{job}` of run {run_id}")));
        }
        Ok(())
    }

    /// Records the image a job built: its reference and, when pushed, the registry's digest.
    pub async fn set_job_built_image(
        &self,
        run_id: &RunId,
        job: &str,
        reference: &str,
        digest: Option<&str>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET built_image_ref = $3, built_image_digest = $4 \
             WHERE run_id = $1 AND name = $2",
        )
        .bind(run_id.as_str())
        .bind(job)
        .bind(reference)
        .bind(digest)
        .execute(self.pool())
        .await
        .map_err(self.query_error("recording the image a job built"))?;
        if done.rows_affected() == 0 {
            return Err(self.not_found(format!("job `{job}` of run {run_id}")));
        }
        Ok(())
    }

    /// Records how a job ended (adding it if the run did not list it, e.g. skipped). Its
    /// steps still running become `cancelled`.
    pub async fn job_finished(
        &self,
        run_id: &RunId,
        job: &str,
        status: JobStatus,
        at: Millis,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let doing = "recording a job's end";
        let mut tx = self.pool().begin().await.map_err(self.query_error(doing))?;
        record_job_end(&mut tx, run_id, job, status, at, error)
            .await
            .map_err(|e| self.job_error(e, run_id, job, doing))?;
        tx.commit().await.map_err(self.query_error(doing))
    }

    /// Records a step starting (again, if it was retried).
    pub async fn step_started(
        &self,
        run_id: &RunId,
        job: &str,
        index: u32,
        command: &str,
        at: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO steps (run_id, job_name, step_index, command, status, started_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (run_id, job_name, step_index) DO UPDATE SET command = excluded.command, \
             status = excluded.status, exit_code = NULL, started_at = excluded.started_at, \
             finished_at = NULL",
        )
        .bind(run_id.as_str())
        .bind(job)
        .bind(i64::from(index))
        .bind(command)
        .bind(StepStatus::Running.as_str())
        .bind(at.as_i64())
        .execute(self.pool())
        .await
        .map_err(|e| self.job_error(e, run_id, job, "recording a step start"))?;
        Ok(())
    }

    /// Records how a step ended.
    pub async fn step_finished(
        &self,
        run_id: &RunId,
        job: &str,
        index: u32,
        status: StepStatus,
        exit_code: Option<i64>,
        at: Millis,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE steps SET status = $4, exit_code = $5, finished_at = $6 \
             WHERE run_id = $1 AND job_name = $2 AND step_index = $3",
        )
        .bind(run_id.as_str())
        .bind(job)
        .bind(i64::from(index))
        .bind(status.as_str())
        .bind(exit_code)
        .bind(at.as_i64())
        .execute(self.pool())
        .await
        .map_err(self.query_error("recording a step's end"))?;
        if done.rows_affected() == 0 {
            return Err(self.not_found(format!("step {index} of job `{job}` of run {run_id}")));
        }
        Ok(())
    }

    /// A foreign-key failure means the run (or job) does not exist: say so.
    pub(crate) fn job_error(
        &self,
        e: sqlx::Error,
        run_id: &str,
        job: &str,
        doing: &'static str,
    ) -> StoreError {
        match e.as_database_error().map(|d| d.kind()) {
            Some(ErrorKind::ForeignKeyViolation) => {
                self.not_found(format!("run {run_id} (or its job `{job}`)"))
            }
            _ => self.query_error(doing)(e),
        }
    }
}

/// Writes a new run, its number and its jobs (`pending`) on a caller's transaction (a
/// server's trigger queues the jobs in the same one). The jobs go in by batches of rows, a
/// statement each: a thousand jobs cost a few statements, not a thousand.
pub(crate) async fn insert_run(
    conn: &mut AnyConnection,
    backend: Backend,
    new: &NewRun,
    status: RunStatus,
    git_ref: Option<&str>,
) -> Result<RunRecord, sqlx::Error> {
    let number: i64 = sqlx::query(
        "INSERT INTO run_counters (project, last_number) VALUES ($1, 1) \
         ON CONFLICT (project) DO UPDATE SET last_number = run_counters.last_number + 1 \
         RETURNING last_number",
    )
    .bind(new.project.as_str())
    .fetch_one(&mut *conn)
    .await
    .and_then(|row| row.try_get(0))?;
    let run = RunRecord {
        id: RunId::from(ulid::Ulid::new().to_string()),
        number,
        project: new.project.clone(),
        pipeline_path: new.pipeline_path.clone(),
        commit: new.commit.clone(),
        git_ref: git_ref.map(str::to_owned),
        owner: new.owner.clone(),
        status,
        started_at: new.started_at,
        finished_at: None,
        event: new.context.as_ref().map(|c| c.event),
        pull_request: new.context.as_ref().and_then(|c| c.pull_request.clone()),
        started_by: new.context.as_ref().and_then(|c| c.started_by.clone()),
        attempt: 1,
    };
    let pr = run.pull_request.as_ref();
    sqlx::query(
        "INSERT INTO runs (id, number, project, pipeline_path, git_commit, git_ref, owner, \
         status, started_at, event, pr_number, pr_source, pr_target, pr_from_fork, \
         started_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(run.id.as_str())
    .bind(run.number)
    .bind(run.project.as_str())
    .bind(&run.pipeline_path)
    .bind(&run.commit)
    .bind(&run.git_ref)
    .bind(&run.owner)
    .bind(run.status.as_str())
    .bind(run.started_at.as_i64())
    .bind(run.event.map(|e| e.as_str()))
    // A number past i64 cannot come from a forge; the webhook refuses it before.
    .bind(pr.map(|p| i64::try_from(p.number).unwrap_or(i64::MAX)))
    .bind(pr.map(|p| p.source_branch.as_str()))
    .bind(pr.map(|p| p.target_branch.as_str()))
    .bind(pr.map(|p| i64::from(p.from_fork)))
    .bind(run.started_by.as_deref())
    .execute(&mut *conn)
    .await?;
    let mut seen = std::collections::HashSet::new();
    let jobs: Vec<&String> = new.jobs.iter().filter(|j| seen.insert(*j)).collect();
    for (start, chunk) in batches(&jobs) {
        let sql = format!(
            "INSERT INTO jobs (run_id, name, position, status) VALUES {}",
            values(backend, chunk.len(), 4)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (k, job) in chunk.iter().enumerate() {
            query = query
                .bind(run.id.as_str())
                .bind(*job)
                .bind((start + k) as i64)
                .bind(JobStatus::Pending.as_str());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(run)
}

/// Rows written by one multi-row `INSERT`: at 16 columns, 4,096 parameters, well within
/// both databases' limits (SQLite 32,766, PostgreSQL 65,535).
const ROWS_AT_ONCE: usize = 256;

/// `items` by [`ROWS_AT_ONCE`], each with the index of its first item.
pub(crate) fn batches<T>(items: &[T]) -> impl Iterator<Item = (usize, &[T])> {
    items
        .chunks(ROWS_AT_ONCE)
        .enumerate()
        .map(|(i, chunk)| (i * ROWS_AT_ONCE, chunk))
}

/// The `VALUES` list of `rows` rows of `columns` parameters each: `($1, $2), ($3, $4)`, or
/// `(?, ?), (?, ?)` on SQLite. SQLite takes `$N` (and `?N`) for names, which sqlx looks up
/// one by one in a list: a thousand rows of them spent 0.2 s there.
pub(crate) fn values(backend: Backend, rows: usize, columns: usize) -> String {
    let row = |r: usize| list(backend, r * columns + 1, columns);
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

/// The `n`th parameter (from 1): `$n`, or `?` on SQLite (see [`values`]), where parameters
/// are bound in the order they appear: write them in the order of their numbers.
pub(crate) fn param(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => "?".to_owned(),
        Backend::Postgres => format!("${n}"),
    }
}

/// `($first, …)`: `count` parameters from `first`, for `IN`.
pub(crate) fn list(backend: Backend, first: usize, count: usize) -> String {
    let params: Vec<String> = (first..first + count).map(|n| param(backend, n)).collect();
    format!("({})", params.join(", "))
}

/// How a job start is written (upsert: a job the run did not list is added at the end):
/// the row comes from a `SELECT` of run id, name, position, then status and time.
pub(crate) const JOB_START: &str = "INSERT INTO jobs (run_id, name, position, status, started_at)";
/// What follows [`JOB_START`] and its `SELECT`.
pub(crate) const JOB_START_CONFLICT: &str = "ON CONFLICT (run_id, name) DO UPDATE SET \
     status = excluded.status, started_at = excluded.started_at, finished_at = NULL, error = NULL";
/// How a job end is written: the row comes from a `SELECT` of run id, name, position,
/// then status, time and error.
pub(crate) const JOB_END: &str =
    "INSERT INTO jobs (run_id, name, position, status, finished_at, error)";
/// What follows [`JOB_END`] and its `SELECT`.
pub(crate) const JOB_END_CONFLICT: &str = "ON CONFLICT (run_id, name) DO UPDATE SET \
     status = excluded.status, finished_at = excluded.finished_at, error = excluded.error";

/// What [`Store::job_started`] writes, on a caller's connection (a claim records the start
/// in the transaction that leases the job).
pub(crate) async fn record_job_start(
    conn: &mut AnyConnection,
    run_id: &str,
    job: &str,
    at: Millis,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "{JOB_START} SELECT $1, $2, (SELECT COUNT(*) FROM jobs WHERE run_id = $1), $3, $4 \
         WHERE true {JOB_START_CONFLICT}"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(run_id)
        .bind(job)
        .bind(JobStatus::Running.as_str())
        .bind(at.as_i64())
        .execute(conn)
        .await?;
    Ok(())
}

/// A queued run becomes `running` when an agent claims its first job, in the claim's
/// transaction; only a `queued` run changes, so later claims of its jobs write nothing.
pub(crate) async fn record_run_start(
    conn: &mut AnyConnection,
    run_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE runs SET status = 'running' WHERE id = $1 AND status = 'queued'")
        .bind(run_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// What [`Store::job_finished`] writes, inside a caller's transaction (a completion records
/// the end in the transaction that ends the lease).
pub(crate) async fn record_job_end(
    conn: &mut AnyConnection,
    run_id: &str,
    job: &str,
    status: JobStatus,
    at: Millis,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "{JOB_END} SELECT $1, $2, (SELECT COUNT(*) FROM jobs WHERE run_id = $1), $3, $4, $5 \
         WHERE true {JOB_END_CONFLICT}"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(run_id)
        .bind(job)
        .bind(status.as_str())
        .bind(at.as_i64())
        .bind(error)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE steps SET status = $3, finished_at = $4 \
         WHERE run_id = $1 AND job_name = $2 AND status = $5",
    )
    .bind(run_id)
    .bind(job)
    .bind(StepStatus::Cancelled.as_str())
    .bind(at.as_i64())
    .bind(StepStatus::Running.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) fn is_final(status: RunStatus) -> bool {
    !matches!(status, RunStatus::Queued | RunStatus::Running)
}

/// Unfinished jobs and running steps of a finished run become `cancelled`.
pub(crate) async fn close_unfinished(
    tx: &mut Transaction<'static, Any>,
    run_id: &str,
    at: Option<Millis>,
) -> Result<(), sqlx::Error> {
    let at = at.map(Millis::as_i64);
    sqlx::query(
        "UPDATE steps SET status = $2, finished_at = COALESCE(finished_at, $3) \
         WHERE run_id = $1 AND status = $4",
    )
    .bind(run_id)
    .bind(StepStatus::Cancelled.as_str())
    .bind(at)
    .bind(StepStatus::Running.as_str())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE jobs SET status = $2, \
         finished_at = CASE WHEN started_at IS NULL THEN NULL ELSE COALESCE(finished_at, $3) END \
         WHERE run_id = $1 AND status IN ($4, $5)",
    )
    .bind(run_id)
    .bind(JobStatus::Cancelled.as_str())
    .bind(at)
    .bind(JobStatus::Pending.as_str())
    .bind(JobStatus::Running.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
