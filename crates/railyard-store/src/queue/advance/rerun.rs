//! Running a finished run again, as a new attempt of the same run (same commit, same
//! context): every job, or only those that ended without letting their dependents run (for a
//! sharded job, only its failed shards). The run model decides which jobs go back to waiting
//! ([`Event::RetryFailed`], [`Event::RetryAll`]); the earlier attempt's job results are kept
//! in `job_attempts`, and its logs stay in the job's log, before the next attempt's note.

use railyard_run_model::{Change, Event, WAITING};
use railyard_types::{JobStatus, Millis, RunId, RunStatus};
use sqlx::{AnyConnection, Row};

use super::{CANCELLED, read_run, write_changes};
use crate::runs::{batches, list, param};
use crate::{Backend, Store, StoreError};

/// What [`Store::rerun`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rerun {
    /// The run is open again.
    Started {
        /// Its new attempt (2 for the first re-run).
        attempt: i64,
        /// The jobs (or shards) that will run again, in the run's order.
        jobs: Vec<String>,
    },
    /// No run has that id.
    NoSuchRun,
    /// The run has not finished: wait for it, or cancel it first.
    Unfinished,
    /// Only failed jobs were asked for, and none failed.
    NothingFailed,
}

impl Store {
    /// Opens finished run `run_id` again as its next attempt: every job when `failed_only`
    /// is false, else the jobs that failed, timed out, were cancelled or were skipped because
    /// of those. Jobs left out by their `when:` rule stay out. In one transaction: the
    /// attempt's job results are copied to `job_attempts`, the rows run again go back to
    /// waiting (their steps cleared, their lease budget renewed), and the model queues those
    /// whose needs let them run.
    pub async fn rerun(
        &self,
        run_id: &RunId,
        failed_only: bool,
        now: Millis,
    ) -> Result<Rerun, StoreError> {
        let err = self.query_error("running a run again");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        // A write first: the run's lock, so two re-runs at once are one after the other.
        sqlx::query("UPDATE runs SET status = status WHERE id = $1")
            .bind(run_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        let row = sqlx::query("SELECT finished_at, attempt FROM runs WHERE id = $1")
            .bind(run_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(&err)?;
        let Some(row) = row else {
            return Ok(Rerun::NoSuchRun);
        };
        let finished: Option<i64> = row.try_get(0).map_err(&err)?;
        let attempt: i64 = row.try_get(1).map_err(&err)?;
        if finished.is_none() {
            return Ok(Rerun::Unfinished);
        }
        // The attempt as it ended, before any row changes.
        sqlx::query(
            "INSERT INTO job_attempts (run_id, run_attempt, job_name, status, started_at, \
             finished_at, error, log_attempt) \
             SELECT j.run_id, $2, j.name, j.status, j.started_at, j.finished_at, j.error, \
             COALESCE(q.attempt, 0) FROM jobs j \
             LEFT JOIN queue q ON q.run_id = j.run_id AND q.job_name = j.name \
             WHERE j.run_id = $1",
        )
        .bind(run_id.as_str())
        .bind(attempt)
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        // A cancel belonged to the attempt that ended.
        sqlx::query("UPDATE queue SET cancel_requested = 0 WHERE run_id = $1")
            .bind(run_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        let (mut run, _) = read_run(&mut tx, run_id).await.map_err(&err)?;
        let decided = run.apply(if failed_only {
            Event::RetryFailed
        } else {
            Event::RetryAll
        });
        // What will run: queued now, or waiting (for needs or a person) once reset.
        let jobs: Vec<String> = (decided.changes.iter())
            .filter_map(|c| match c {
                Change::Retry(i) => Some(*i),
                _ => None,
            })
            .filter(|i| run.job(*i).state.ended() != Some(JobStatus::Skipped))
            .map(|i| run.job(i).name.clone())
            .collect();
        if jobs.is_empty() {
            // Nothing would run: leave the attempt as it was.
            return Ok(Rerun::NothingFailed);
        }
        sqlx::query(
            "UPDATE runs SET attempt = attempt + 1, finished_at = NULL, status = $2 WHERE id = $1",
        )
        .bind(run_id.as_str())
        .bind(RunStatus::Queued.as_str())
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
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
        Ok(Rerun::Started {
            attempt: attempt + 1,
            jobs,
        })
    }
}

/// Puts the named rows of a run back to waiting for a re-run: no result, no lease, a fresh
/// lease budget (the claim counts `attempt` on from where it is, so the log's chunks of each
/// attempt stay apart), the job records pending with no times, their steps gone, and the
/// test queues of their sharded jobs emptied (the next shard to post its tests refills it;
/// its timings stay, so a static split gives each shard the same share as before).
pub(super) async fn reset_rows(
    conn: &mut AnyConnection,
    backend: Backend,
    run_id: &str,
    names: &[&str],
) -> Result<(), sqlx::Error> {
    let p = |k| param(backend, k);
    for (_, names) in batches(names) {
        let named = list(backend, 2, names.len());
        let statements = [
            format!(
                "UPDATE test_queues SET state = '' WHERE run_id = {} AND job_name IN \
                 (SELECT sharded_job FROM queue WHERE run_id = {} AND job_name IN {named} \
                 AND sharded_job IS NOT NULL)",
                p(1),
                p(1)
            ),
            format!(
                "UPDATE queue SET state = '{WAITING}', result = NULL, error = NULL, \
                 ended_at = NULL, lease_until = NULL, cancel_requested = 0, \
                 max_attempts = max_attempts + attempt WHERE run_id = {} AND job_name IN {named}",
                p(1)
            ),
            format!(
                "UPDATE jobs SET status = '{}', started_at = NULL, finished_at = NULL, \
                 error = NULL WHERE run_id = {} AND name IN {named}",
                JobStatus::Pending.as_str(),
                p(1)
            ),
            format!(
                "DELETE FROM steps WHERE run_id = {} AND job_name IN {named}",
                p(1)
            ),
        ];
        for sql in statements {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(run_id);
            for name in names {
                query = query.bind(*name);
            }
            query.execute(&mut *conn).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
