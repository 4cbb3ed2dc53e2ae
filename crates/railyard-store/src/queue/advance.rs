//! Moving a run on after its jobs end: dependents queued or skipped, the run closed.

use std::collections::HashMap;

use railyard_types::{JobStatus, RunStatus, StepStatus};
use sqlx::Row;

use crate::runs::{JOB_END, JOB_END_CONFLICT, batches, list, param};
use crate::{Backend, Store, StoreError};

impl Store {
    /// Ends a leased job with the agent's result and records it on the job (as
    /// [`Store::job_finished`]), in one statement on either backend (one round trip, one
    /// commit). False when the agent no longer holds the lease (nothing changes). Call
    /// [`Store::advance_run`] after: its check must see this end committed.
    pub async fn finish_leased_job(
        &self,
        job_id: &str,
        agent_id: &str,
        attempt: i64,
        status: JobStatus,
        at: i64,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let doing = "completing a job";
        let err = self.query_error(doing);
        let end = "UPDATE queue SET state = 'done', result = $4, lease_until = NULL, \
             ended_at = $5, error = $6 \
             WHERE id = $1 AND agent_id = $2 AND attempt = $3 AND state = 'leased' \
             RETURNING run_id, job_name";
        let pg = self.backend() == Backend::Postgres;
        let sql = if pg {
            // One statement, so one round trip: data-modifying CTEs record what ended.
            format!(
                "WITH d AS ({end}), \
                 j AS ({JOB_END} SELECT d.run_id, d.job_name, (SELECT COUNT(*) FROM jobs x \
                 WHERE x.run_id = d.run_id), $4, $5, $6 FROM d {JOB_END_CONFLICT}), \
                 s AS (UPDATE steps SET status = $7, finished_at = $5 FROM d \
                 WHERE steps.run_id = d.run_id AND steps.job_name = d.job_name \
                 AND steps.status = $8) SELECT run_id FROM d"
            )
        } else {
            // SQLite: the `queue_ended` trigger (migration 0015) records the job's end and
            // cancels its running steps in this one statement.
            end.to_owned()
        };
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job_id)
            .bind(agent_id)
            .bind(attempt)
            .bind(status.as_str())
            .bind(at)
            .bind(error);
        if pg {
            query = query
                .bind(StepStatus::Cancelled.as_str())
                .bind(StepStatus::Running.as_str());
        }
        // `fetch_all` steps the statement to its end, so that SQLite's implicit transaction
        // commits before this returns.
        let rows = query.fetch_all(self.pool()).await.map_err(&err)?;
        Ok(!rows.is_empty())
    }

    /// Moves a run on after a job ended: queues the waiting jobs whose needs all let
    /// dependents run, skips those with a need that failed, and when every job is done
    /// sets the run's final status (returned).
    pub async fn advance_run(
        &self,
        run_id: &str,
        now: i64,
    ) -> Result<Option<RunStatus>, StoreError> {
        let err = self.query_error("moving a run on");
        // Most job ends change nothing else: no job of the run waits and some are not done.
        // A read sees that without the write lock and a commit. It is safe because the job's
        // own end was committed before: of two jobs ending together, the later sees both.
        let open = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN state = 'waiting' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN state <> 'done' THEN 1 ELSE 0 END), 0) \
             FROM queue WHERE run_id = $1",
        )
        .bind(run_id)
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
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        let rows =
            sqlx::query("SELECT job_name, needs, state, result FROM queue WHERE run_id = $1")
                .bind(run_id)
                .fetch_all(&mut *tx)
                .await
                .map_err(&err)?;
        // Each distinct `needs` is read once: every shard of a job, and every job needing the
        // same ones, share theirs (a thousand shards needing sixty each were a thousand lists).
        let mut lists: Vec<Vec<String>> = Vec::new();
        let mut list_of: HashMap<String, usize> = HashMap::new();
        let mut jobs: Vec<Waiting> = Vec::with_capacity(rows.len());
        for r in &rows {
            let needs: String = r.try_get("needs").map_err(&err)?;
            let list = match list_of.get(&needs) {
                Some(&k) => k,
                None => {
                    lists.push(serde_json::from_str(&needs).unwrap_or_default());
                    list_of.insert(needs, lists.len() - 1);
                    lists.len() - 1
                }
            };
            jobs.push(Waiting {
                name: r.try_get("job_name").map_err(&err)?,
                needs: list,
                state: r.try_get("state").map_err(&err)?,
                result: r.try_get("result").map_err(&err)?,
            });
        }
        let index: HashMap<String, usize> = jobs
            .iter()
            .enumerate()
            .map(|(i, j)| (j.name.clone(), i))
            .collect();
        // What changes, written after the loop by a few statements: jobs to queue, and jobs
        // to skip grouped by why.
        let mut queued: Vec<String> = Vec::new();
        let mut skipped: Vec<(String, Vec<String>)> = Vec::new();
        let mut changed = true;
        while changed {
            changed = false;
            // Within a pass, jobs with the same needs get the same verdict: a change made in
            // the pass only skips waiting jobs, which moves no verdict but `wait`, and the next
            // pass looks again.
            let mut verdicts: Vec<Option<Verdict>> = vec![None; lists.len()];
            for i in 0..jobs.len() {
                if jobs[i].state != "waiting" {
                    continue;
                }
                let k = jobs[i].needs;
                let verdict = verdicts[k]
                    .get_or_insert_with(|| verdict(&lists[k], &jobs, &index))
                    .clone();
                match verdict {
                    Verdict::Skip(why) => {
                        match skipped.iter_mut().find(|(w, _)| *w == why) {
                            Some((_, names)) => names.push(jobs[i].name.clone()),
                            None => skipped.push((why, vec![jobs[i].name.clone()])),
                        }
                        jobs[i].state = "done".into();
                        jobs[i].result = Some("skipped".into());
                        changed = true;
                    }
                    Verdict::Ready => {
                        queued.push(jobs[i].name.clone());
                        jobs[i].state = "queued".into();
                        changed = true;
                    }
                    Verdict::Wait => {}
                }
            }
        }
        let backend = self.backend();
        for (_, names) in batches(&queued) {
            let sql = format!(
                "UPDATE queue SET state = 'queued', queued_at = {} WHERE run_id = {} \
                 AND job_name IN {}",
                param(backend, 1),
                param(backend, 2),
                list(backend, 3, names.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(run_id);
            for name in names {
                query = query.bind(name);
            }
            query.execute(&mut *tx).await.map_err(&err)?;
        }
        for (why, names) in &skipped {
            for (_, names) in batches(names) {
                let sql = format!(
                    "UPDATE queue SET state = 'done', result = 'skipped' WHERE run_id = {} \
                     AND job_name IN {}",
                    param(backend, 1),
                    list(backend, 2, names.len())
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(run_id);
                for name in names {
                    query = query.bind(name);
                }
                query.execute(&mut *tx).await.map_err(&err)?;
                let sql = format!(
                    "UPDATE jobs SET status = 'skipped', finished_at = {}, error = {} \
                     WHERE run_id = {} AND name IN {}",
                    param(backend, 1),
                    param(backend, 2),
                    param(backend, 3),
                    list(backend, 4, names.len())
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(now)
                    .bind(why)
                    .bind(run_id);
                for name in names {
                    query = query.bind(name);
                }
                query.execute(&mut *tx).await.map_err(&err)?;
            }
        }
        let mut finished = None;
        if !jobs.is_empty() && jobs.iter().all(|j| j.state == "done") {
            let ok = jobs.iter().all(|j| {
                j.result
                    .as_deref()
                    .and_then(JobStatus::parse)
                    .is_some_and(|s| s.lets_dependents_run())
            });
            let cancelled = jobs
                .iter()
                .any(|j| j.result.as_deref() == Some("cancelled"));
            let status = if cancelled {
                RunStatus::Cancelled
            } else if ok {
                RunStatus::Success
            } else {
                RunStatus::Failed
            };
            sqlx::query(
                "UPDATE runs SET status = $2, finished_at = $3 WHERE id = $1 AND finished_at IS NULL",
            )
            .bind(run_id)
            .bind(status.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
            finished = Some(status);
        }
        tx.commit().await.map_err(&err)?;
        Ok(finished)
    }
}

/// A job of a run being moved on.
struct Waiting {
    name: String,
    /// Its `needs`, as an index into the run's distinct lists.
    needs: usize,
    state: String,
    result: Option<String>,
}

/// What a waiting job's needs say.
#[derive(Clone)]
enum Verdict {
    /// One did not succeed: the job is skipped, with this reason.
    Skip(String),
    /// All let dependents run: the job is queued.
    Ready,
    /// Some are not done.
    Wait,
}

/// The verdict of `needs` on the jobs as they stand.
fn verdict(needs: &[String], jobs: &[Waiting], index: &HashMap<String, usize>) -> Verdict {
    let mut failed = Vec::new();
    let mut all_done = true;
    for need in needs {
        let result = index
            .get(need)
            .map(|&i| &jobs[i])
            .filter(|j| j.state == "done")
            .and_then(|j| j.result.as_deref().and_then(JobStatus::parse));
        match result {
            Some(s) if !s.lets_dependents_run() => failed.push(format!("`{need}`")),
            Some(_) => {}
            None => all_done = false,
        }
    }
    if !failed.is_empty() {
        Verdict::Skip(format!("skipped: {} did not succeed", failed.join(", ")))
    } else if all_done {
        Verdict::Ready
    } else {
        Verdict::Wait
    }
}

impl Store {
    /// Sets the final status of a run whose jobs are all done, in one statement: the jobs of a
    /// run often end together, and each of the last ones sees the run complete. Taking the
    /// run's lock for a read-then-write transaction made them queue on it (3 ms a completion on
    /// PostgreSQL at 800 claims/s); a single conditional UPDATE holds it only while it writes,
    /// and only the first one changes the row. None when another already closed the run.
    async fn close_run(&self, run_id: &str, now: i64) -> Result<Option<RunStatus>, StoreError> {
        // The statuses for which `JobStatus::lets_dependents_run` holds.
        let ok = [JobStatus::Success, JobStatus::FailedAllowed]
            .map(|s| format!("'{}'", s.as_str()))
            .join(", ");
        let sql = format!(
            "UPDATE runs SET finished_at = $2, status = CASE \
             WHEN EXISTS (SELECT 1 FROM queue WHERE run_id = $1 AND result = $3) THEN $3 \
             WHEN EXISTS (SELECT 1 FROM queue WHERE run_id = $1 \
             AND (result IS NULL OR result NOT IN ({ok}))) THEN $4 ELSE $5 END \
             WHERE id = $1 AND finished_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM queue WHERE run_id = $1 AND state <> 'done') \
             RETURNING status"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(run_id)
            .bind(now)
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
}

impl Store {
    /// Unfinished runs that have jobs in the queue: what a starting server moves on, in case
    /// the last one stopped between recording a job's end and releasing its dependents.
    pub async fn unfinished_queued_runs(&self) -> Result<Vec<String>, StoreError> {
        let err = self.query_error("listing unfinished runs");
        let rows = sqlx::query(
            "SELECT DISTINCT q.run_id FROM queue q JOIN runs r ON r.id = q.run_id \
             WHERE r.finished_at IS NULL ORDER BY q.run_id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        rows.iter().map(|r| r.try_get(0).map_err(&err)).collect()
    }
}
