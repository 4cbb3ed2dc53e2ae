//! `cancel_pending`: a job of a `concurrency` group that becomes queued drops the rows of the
//! group, in other runs of its project, that were queued before it and still wait (not
//! leased). Only its own project's: the lock is shared across projects, but a pipeline (not
//! trusted) must never cancel another project's jobs. Each is
//! cancelled through the run model ([`Event::JobCancelled`]), so its dependents are skipped
//! and its run ends as a cancel does; a row claimed meanwhile is left running.

use railyard_run_model::{Event, JobState, QUEUED};
use railyard_types::{Millis, RunId};
use sqlx::Row;

use super::{read_run, write_changes};
use crate::{Backend, Store, StoreError};

impl Store {
    /// Cancels the rows superseded by run `run_id`'s queued `cancel_pending` rows: those of
    /// the same group in other runs of the same project queued before them and still queued. Called after the
    /// rows were queued (committed). Returns the (run, job) cancelled.
    pub async fn supersede_waiting(
        &self,
        run_id: &RunId,
        now: Millis,
    ) -> Result<Vec<(RunId, String)>, StoreError> {
        let err = self.query_error("cancelling the jobs a newer deploy supersedes");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT o.run_id, o.job_name FROM queue q JOIN queue o \
             ON o.concurrency_group = q.concurrency_group AND o.state = '{QUEUED}' \
             AND o.run_id <> q.run_id AND o.project = q.project \
             AND (o.queued_at < q.queued_at OR (o.queued_at = q.queued_at AND o.id < q.id)) \
             WHERE q.run_id = $1 AND q.state = '{QUEUED}' AND q.cancel_pending = 1 \
             AND q.concurrency_group IS NOT NULL ORDER BY o.queued_at, o.id"
        )))
        .bind(run_id.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        let mut out = Vec::new();
        for row in rows {
            let other = RunId::from(row.try_get::<String, _>("run_id").map_err(&err)?);
            let job: String = row.try_get("job_name").map_err(&err)?;
            let why = format!("superseded by run {run_id}");
            if self.cancel_waiting_job(&other, &job, &why, now).await? {
                // Its dependents were skipped with it: the run ends if nothing else is open.
                self.close_run(&other, now).await?;
                out.push((other, job));
            }
        }
        Ok(out)
    }

    /// Cancels job `job` of run `run_id` if it is still queued (not claimed), telling it
    /// `why`. False when it was claimed or ended meanwhile, or the run ended.
    async fn cancel_waiting_job(
        &self,
        run_id: &RunId,
        job: &str,
        why: &str,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let err = self.query_error("cancelling a superseded job");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        // The run's lock first (SQLite's write lock), as cancel_run does.
        let open =
            sqlx::query("UPDATE runs SET status = status WHERE id = $1 AND finished_at IS NULL")
                .bind(run_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(&err)?;
        if open.rows_affected() == 0 {
            return Ok(false);
        }
        if self.backend() == Backend::Postgres {
            // The row's lock: a claim racing for it skips it (SKIP LOCKED), or holds it and
            // this waits for its commit and then sees it leased.
            let queued = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM queue WHERE run_id = $1 AND job_name = $2 \
                 AND state = '{QUEUED}' FOR UPDATE"
            )))
            .bind(run_id.as_str())
            .bind(job)
            .fetch_optional(&mut *tx)
            .await
            .map_err(&err)?;
            if queued.is_none() {
                return Ok(false);
            }
        }
        let (mut run, _) = read_run(&mut tx, run_id).await.map_err(&err)?;
        let still_queued = run
            .position(job)
            .is_some_and(|i| run.job(i).state == JobState::Queued);
        if !still_queued {
            return Ok(false);
        }
        let mut decided = run.apply(Event::JobCancelled(job));
        // Closing is advance_run's (one place writes a run's end).
        decided.closed = None;
        write_changes(&mut tx, self.backend(), run_id, &run, &decided, now, why)
            .await
            .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        Ok(true)
    }
}
