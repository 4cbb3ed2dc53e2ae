//! Approving a `manual` job: its rows (one, or one per shard) wait in state `approval` until
//! a person approves them; the run model ([`Event::Approved`]) then queues them.

use railyard_run_model::{APPROVAL, Event, JobState};
use railyard_types::{Millis, RunId};
use sqlx::Row;

use super::{CANCELLED, read_run, write_changes};
use crate::{Store, StoreError};

/// What [`Store::approve_job`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// The job (every shard of it) is queued now.
    Approved,
    /// The run has no job (nor sharded job) of that name.
    NoSuchJob,
    /// The job is not waiting for approval; why, for the person (`it is not a manual job`,
    /// `it is running`, …).
    Refused(String),
}

/// How a job in `state` is described in a refusal.
fn describe(state: JobState) -> String {
    match state {
        JobState::Waiting => "it is waiting for its needs to finish".into(),
        JobState::AwaitingApproval => "it is awaiting approval".into(),
        JobState::Queued => "it is queued already (approved, or not manual)".into(),
        JobState::Running => "it is running".into(),
        JobState::Ended(status) => format!("it has ended ({})", status.as_str()),
    }
}

impl Store {
    /// Approves `job` of run `run_id` (a sharded job's name approves all its shards): in
    /// one transaction, the run model applies [`Event::Approved`] and its queued rows are
    /// written. Refused, naming the job's state, when it is not manual or not awaiting
    /// approval (approved twice, not yet ready, ended).
    pub async fn approve_job(
        &self,
        run_id: &RunId,
        job: &str,
        now: Millis,
    ) -> Result<Approval, StoreError> {
        let err = self.query_error("approving a job");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        // A write first: the run's lock, so an approval and a job's end are seen in order.
        sqlx::query("UPDATE runs SET status = status WHERE id = $1")
            .bind(run_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        let (mut run, _) = read_run(&mut tx, run_id).await.map_err(&err)?;
        let names: Vec<String> = run
            .jobs()
            .iter()
            .filter(|j| j.name == job || j.shard_of.as_deref() == Some(job))
            .map(|j| j.name.clone())
            .collect();
        let Some(first) = names.first().and_then(|n| run.position(n)) else {
            return Ok(Approval::NoSuchJob);
        };
        let first = run.job(first);
        if !first.manual {
            return Ok(Approval::Refused(format!(
                "job `{job}` is not a manual job: it runs without approval"
            )));
        }
        if let Some(other) = names
            .iter()
            .filter_map(|n| run.position(n))
            .map(|i| run.job(i).state)
            .find(|s| *s != JobState::AwaitingApproval)
        {
            return Ok(Approval::Refused(format!(
                "job `{job}` is not awaiting approval: {}",
                describe(other)
            )));
        }
        let mut decided = railyard_run_model::Transitions::default();
        for name in &names {
            let t = run.apply(Event::Approved(name));
            decided.changes.extend(t.changes);
        }
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
        Ok(Approval::Approved)
    }

    /// The rows (jobs or shards) of run `run_id` awaiting a person's approval, by name, each
    /// with the name that approves it (a shard's job).
    pub async fn jobs_awaiting_approval(
        &self,
        run_id: &RunId,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let err = self.query_error("finding jobs awaiting approval");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT job_name, COALESCE(sharded_job, job_name) FROM queue WHERE run_id = $1 AND state = '{APPROVAL}' \
             ORDER BY job_name"
        )))
        .bind(run_id.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        rows.iter()
            .map(|r| Ok((r.try_get(0).map_err(&err)?, r.try_get(1).map_err(&err)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
