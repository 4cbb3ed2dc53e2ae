//! Moving a run on after its jobs end, and cancelling it: the run model
//! ([`railyard_run_model`]) decides what is queued, skipped, cancelled or stopped and when the
//! run ends; this module reads a run's queue rows into it and writes its answers.

use std::collections::{HashMap, HashSet};

use railyard_run_model::{
    APPROVAL, Change, DONE, Event, Job, JobStatus, LEASED, Needs, QUEUED, QueueState, Run,
    RunBuilder, RunStatus, Transitions, WAITING,
};
use railyard_types::{AgentId, JobId, Millis, RunId, StepStatus};
use sqlx::{AnyConnection, Row};

use crate::runs::{JOB_END, JOB_END_CONFLICT, batches, list, param};
use crate::{Backend, Store, StoreError};

/// What a job that ends cancelled without having started is told.
const CANCELLED: &str = "cancelled";

impl Store {
    /// Ends a leased job with the agent's result and records it on the job (as
    /// [`Store::job_finished`]), in one statement on either backend (one round trip, one
    /// commit). False when the agent no longer holds the lease (nothing changes). Call
    /// [`Store::advance_run`] after: its check must see this end committed.
    pub async fn finish_leased_job(
        &self,
        job_id: &JobId,
        agent_id: &AgentId,
        attempt: i64,
        status: JobStatus,
        at: Millis,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let doing = "completing a job";
        let err = self.query_error(doing);
        let end = format!(
            "UPDATE queue SET state = '{DONE}', result = $4, lease_until = NULL, \
             ended_at = $5, error = $6 \
             WHERE id = $1 AND agent_id = $2 AND attempt = $3 AND state = '{LEASED}' \
             RETURNING run_id, job_name, environment"
        );
        let pg = self.backend() == Backend::Postgres;
        let sql = if pg {
            // One statement, so one round trip: data-modifying CTEs record what ended.
            format!(
                "WITH d AS ({end}), \
                 j AS ({JOB_END} SELECT d.run_id, d.job_name, (SELECT COUNT(*) FROM jobs x \
                 WHERE x.run_id = d.run_id), $4, $5, $6 FROM d {JOB_END_CONFLICT}), \
                 s AS (UPDATE steps SET status = $7, finished_at = $5 FROM d \
                 WHERE steps.run_id = d.run_id AND steps.job_name = d.job_name \
                 AND steps.status = $8) SELECT run_id, job_name, environment FROM d"
            )
        } else {
            // SQLite: the `queue_ended` trigger (migration 0015) records the job's end and
            // cancels its running steps in this one statement.
            end
        };
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job_id.as_str())
            .bind(agent_id.as_str())
            .bind(attempt)
            .bind(status.as_str())
            .bind(at.as_i64())
            .bind(error);
        if pg {
            query = query
                .bind(StepStatus::Cancelled.as_str())
                .bind(StepStatus::Running.as_str());
        }
        // `fetch_all` steps the statement to its end, so that SQLite's implicit transaction
        // commits before this returns.
        let rows = query.fetch_all(self.pool()).await.map_err(&err)?;
        let Some(row) = rows.first() else {
            return Ok(false);
        };
        // A deploy job: its deployment's end (rows without an environment pay nothing more).
        let environment: Option<String> = row.try_get("environment").map_err(&err)?;
        if environment.is_some() {
            let run_id = RunId::from(row.try_get::<String, _>("run_id").map_err(&err)?);
            let job: String = row.try_get("job_name").map_err(&err)?;
            self.deployment_ended(&run_id, &job, status, at).await?;
        }
        Ok(true)
    }

    /// Moves a run on after a job ended: the run model queues the waiting jobs whose needs
    /// all let dependents run and skips those with a need that failed; when every job is done
    /// the run gets its final status (returned).
    pub async fn advance_run(
        &self,
        run_id: &RunId,
        now: Millis,
    ) -> Result<Option<RunStatus>, StoreError> {
        let err = self.query_error("moving a run on");
        // Most job ends change nothing else: no job of the run waits and some are not done.
        // A read sees that without the write lock and a commit. It is safe because the job's
        // own end was committed before: of two jobs ending together, the later sees both.
        let open = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COALESCE(SUM(CASE WHEN state = '{WAITING}' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN state <> '{DONE}' THEN 1 ELSE 0 END), 0) \
             FROM queue WHERE run_id = $1"
        )))
        .bind(run_id.as_str())
        .fetch_one(self.pool())
        .await
        .map_err(&err)?;
        let (waiting, not_done): (i64, i64) = (
            open.try_get(0).map_err(&err)?,
            open.try_get(1).map_err(&err)?,
        );
        if waiting == 0 && not_done > 0 {
            return Ok(None);
        }
        if waiting == 0 {
            return self.close_run(run_id, now).await;
        }
        let mut tx = self.pool().begin().await.map_err(&err)?;
        // A write first: takes SQLite's write lock (and PostgreSQL's row lock on the run)
        // before reading, so two jobs ending at once are seen one after the other.
        sqlx::query("UPDATE runs SET status = status WHERE id = $1")
            .bind(run_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        let (mut run, pending) = read_run(&mut tx, run_id).await.map_err(&err)?;
        let decided = run.apply(Event::Check);
        write_changes(
            &mut tx,
            self.backend(),
            run_id,
            &run,
            &decided,
            now,
            CANCELLED,
        )
        .await
        .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        let queues_pending = decided.changes.iter().any(|c| match c {
            Change::Queue(i) => pending.contains(&run.job(*i).name),
            _ => false,
        });
        if queues_pending {
            self.supersede_waiting(run_id, now).await?;
        }
        Ok(decided.closed)
    }

    /// Cancels a run: the run model ends the jobs not started `cancelled` now, and flags the
    /// leased ones, so their agents stop them at the next heartbeat and report. The run's end
    /// is [`Store::advance_run`]'s, called after. False when no such unfinished run.
    pub async fn cancel_run(&self, run_id: &RunId, now: Millis) -> Result<bool, StoreError> {
        let err = self.query_error("cancelling a run");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        let done =
            sqlx::query("UPDATE runs SET status = status WHERE id = $1 AND finished_at IS NULL")
                .bind(run_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(&err)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let (mut run, _) = read_run(&mut tx, run_id).await.map_err(&err)?;
        let mut decided = run.apply(Event::RunCancelled);
        // Closing is advance_run's (one place writes a run's end).
        decided.closed = None;
        write_changes(
            &mut tx,
            self.backend(),
            run_id,
            &run,
            &decided,
            now,
            CANCELLED,
        )
        .await
        .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        Ok(true)
    }
}

/// Reads a run's queue rows into the run model: each distinct `needs` is parsed once (every
/// shard of a job, and every job needing the same ones, share theirs: a thousand shards
/// needing sixty each were a thousand lists). A run asked to cancel while jobs ran stays
/// cancelled, as it does on a laptop. With it, the names of the jobs whose `concurrency`
/// has `cancel_pending` (see [`Store::supersede_waiting`]).
async fn read_run(
    conn: &mut AnyConnection,
    run_id: &RunId,
) -> Result<(Run, HashSet<String>), sqlx::Error> {
    let rows = sqlx::query(
        "SELECT job_name, needs, state, result, sharded_job, cancel_requested, \
         cancel_pending, manual, ruled_out FROM queue WHERE run_id = $1",
    )
    .bind(run_id.as_str())
    .fetch_all(conn)
    .await?;
    let mut run = RunBuilder::new();
    let mut lists: HashMap<String, Needs> = HashMap::new();
    let mut cancelled = false;
    let mut pending = HashSet::new();
    for r in &rows {
        let needs: String = r.try_get("needs")?;
        let needs = match lists.get(&needs) {
            Some(&k) => k,
            None => {
                let k = run.needs(serde_json::from_str(&needs).unwrap_or_default());
                lists.insert(needs, k);
                k
            }
        };
        let state: String = r.try_get("state")?;
        let state = QueueState::parse(&state)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown queue state `{state}`").into()))?;
        let result: Option<String> = r.try_get("result")?;
        let result = result.as_deref().and_then(JobStatus::parse);
        let mut job = Job::new(
            r.try_get::<String, _>("job_name")?,
            needs,
            state.job_state(result),
        );
        job.shard_of = r.try_get("sharded_job")?;
        job.manual = r.try_get::<i64, _>("manual")? != 0;
        job.ruled_out = r.try_get::<i64, _>("ruled_out")? != 0;
        cancelled |= r.try_get::<i64, _>("cancel_requested")? != 0;
        if r.try_get::<i64, _>("cancel_pending")? != 0 {
            pending.insert(job.name.clone());
        }
        run.job(job);
    }
    run.cancelled(cancelled);
    Ok((run.build(), pending))
}

/// Writes the model's changes, by batches of jobs (a few statements for the largest run).
/// The run's end is written when the model closed it. A job cancelled is told `cancel_why`.
async fn write_changes(
    conn: &mut AnyConnection,
    backend: Backend,
    run_id: &RunId,
    run: &Run,
    decided: &Transitions,
    now: Millis,
    cancel_why: &str,
) -> Result<(), sqlx::Error> {
    let (run_id, now) = (run_id.as_str(), now.as_i64());
    let mut queued: Vec<&str> = Vec::new();
    let mut awaiting: Vec<&str> = Vec::new();
    let mut stopped: Vec<&str> = Vec::new();
    let mut retried: Vec<&str> = Vec::new();
    // Jobs that end without starting, grouped by status and why.
    let mut ended: Vec<(JobStatus, &str, Vec<&str>)> = Vec::new();
    for change in &decided.changes {
        let (status, why, i) = match change {
            Change::Queue(i) => {
                queued.push(&run.job(*i).name);
                continue;
            }
            Change::Stop(i) => {
                stopped.push(&run.job(*i).name);
                continue;
            }
            Change::AwaitApproval(i) => {
                awaiting.push(&run.job(*i).name);
                continue;
            }
            Change::Skip(i, why) => (JobStatus::Skipped, why.as_str(), *i),
            Change::Cancel(i) => (JobStatus::Cancelled, cancel_why, *i),
            Change::Retry(i) => {
                retried.push(&run.job(*i).name);
                continue;
            }
        };
        let name = run.job(i).name.as_str();
        match ended.iter_mut().find(|(s, w, _)| *s == status && *w == why) {
            Some((_, _, names)) => names.push(name),
            None => ended.push((status, why, vec![name])),
        }
    }
    // First: a job run again is then queued or skipped by the changes after its retry.
    rerun::reset_rows(conn, backend, run_id, &retried).await?;
    use Value::{Int, Text};
    let set = [("state", Text(QUEUED)), ("queued_at", Int(now))];
    update_named(conn, backend, QUEUE_ROWS, &set, run_id, &queued).await?;
    let set = [("state", Text(APPROVAL))];
    update_named(conn, backend, QUEUE_ROWS, &set, run_id, &awaiting).await?;
    let set = [("cancel_requested", Int(1))];
    update_named(conn, backend, QUEUE_ROWS, &set, run_id, &stopped).await?;
    for (status, why, names) in &ended {
        let set = [("state", Text(DONE)), ("result", Text(status.as_str()))];
        update_named(conn, backend, QUEUE_ROWS, &set, run_id, names).await?;
        let set = [
            ("status", Text(status.as_str())),
            ("finished_at", Int(now)),
            ("error", Text(why)),
        ];
        update_named(conn, backend, JOB_RECORDS, &set, run_id, names).await?;
    }
    if let Some(status) = decided.closed {
        sqlx::query(
            "UPDATE runs SET status = $2, finished_at = $3 WHERE id = $1 AND finished_at IS NULL",
        )
        .bind(run_id)
        .bind(status.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Ends the job records `names` of a run `skipped`, told `why`: jobs skipped by their
/// `when:` rule as their run is queued.
pub(crate) async fn skip_job_records(
    conn: &mut AnyConnection,
    backend: Backend,
    run_id: &str,
    names: &[&str],
    why: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    use Value::{Int, Text};
    let set = [
        ("status", Text(JobStatus::Skipped.as_str())),
        ("finished_at", Int(at)),
        ("error", Text(why)),
    ];
    update_named(conn, backend, JOB_RECORDS, &set, run_id, names).await
}

/// A value set on rows.
#[derive(Clone, Copy)]
enum Value<'a> {
    Int(i64),
    Text(&'a str),
}

/// Queue rows, by job name.
const QUEUE_ROWS: (&str, &str) = ("queue", "job_name");
/// Job records, by name.
const JOB_RECORDS: (&str, &str) = ("jobs", "name");

/// `UPDATE table SET …` of a run's rows named in `names`: a few statements however many.
/// The pair is the table and its name column.
async fn update_named(
    conn: &mut AnyConnection,
    backend: Backend,
    (table, name_column): (&str, &str),
    set: &[(&str, Value<'_>)],
    run_id: &str,
    names: &[&str],
) -> Result<(), sqlx::Error> {
    let n = set.len();
    let columns: Vec<String> = (set.iter().enumerate())
        .map(|(k, (column, _))| format!("{column} = {}", param(backend, k + 1)))
        .collect();
    for (_, names) in batches(names) {
        let sql = format!(
            "UPDATE {table} SET {} WHERE run_id = {} AND {name_column} IN {}",
            columns.join(", "),
            param(backend, n + 1),
            list(backend, n + 2, names.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (_, value) in set {
            query = match *value {
                Value::Int(v) => query.bind(v),
                Value::Text(v) => query.bind(v),
            };
        }
        query = query.bind(run_id);
        for name in names {
            query = query.bind(*name);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

impl Store {
    /// Sets the final status of a run whose jobs are all done, in one statement: the jobs of a
    /// run often end together, and each of the last ones sees the run complete. Taking the
    /// run's lock for a read-then-write transaction made them queue on it (3 ms a completion on
    /// PostgreSQL at 800 claims/s); a single conditional UPDATE holds it only while it writes,
    /// and only the first one changes the row. None when another already closed the run.
    ///
    /// Its `CASE` is the run model's [`railyard_run_model::run_status`] over the rows (a row
    /// flagged to stop is the run's cancel), checked against it by the store's tests.
    pub(crate) async fn close_run(
        &self,
        run_id: &RunId,
        now: Millis,
    ) -> Result<Option<RunStatus>, StoreError> {
        // The statuses for which `JobStatus::lets_dependents_run` holds, and skipped: a
        // skip fails no run by itself (see `run_status`).
        let ok = [
            JobStatus::Success,
            JobStatus::FailedAllowed,
            JobStatus::Skipped,
        ]
        .map(|s| format!("'{}'", s.as_str()))
        .join(", ");
        let sql = format!(
            "UPDATE runs SET finished_at = $2, status = CASE \
             WHEN EXISTS (SELECT 1 FROM queue WHERE run_id = $1 \
             AND (result = $3 OR cancel_requested <> 0)) THEN $3 \
             WHEN EXISTS (SELECT 1 FROM queue WHERE run_id = $1 \
             AND (result IS NULL OR result NOT IN ({ok}))) THEN $4 ELSE $5 END \
             WHERE id = $1 AND finished_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM queue WHERE run_id = $1 AND state <> '{DONE}') \
             RETURNING status"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(run_id.as_str())
            .bind(now.as_i64())
            .bind(RunStatus::Cancelled.as_str())
            .bind(RunStatus::Failed.as_str())
            .bind(RunStatus::Success.as_str())
            .fetch_all(self.pool())
            .await
            .map_err(self.query_error("closing a run"))?;
        let Some(row) = row.first() else {
            return Ok(None);
        };
        let status: String = row.try_get(0).map_err(self.query_error("closing a run"))?;
        Ok(RunStatus::parse(&status))
    }

    /// Unfinished runs that have jobs in the queue: what a starting server moves on, in case
    /// the last one stopped between recording a job's end and releasing its dependents.
    pub async fn unfinished_queued_runs(&self) -> Result<Vec<RunId>, StoreError> {
        let err = self.query_error("listing unfinished runs");
        let rows = sqlx::query(
            "SELECT DISTINCT q.run_id FROM queue q JOIN runs r ON r.id = q.run_id \
             WHERE r.finished_at IS NULL ORDER BY q.run_id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map(RunId::from).map_err(&err))
            .collect()
    }
}

mod approve;
mod rerun;
mod supersede;

pub use approve::Approval;
pub use rerun::Rerun;
#[cfg(test)]
mod tests;
