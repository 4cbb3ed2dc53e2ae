//! What a run's context (its event, ref and pull request) asks of the store beyond storing
//! it: the run alone, for a claim to carry its context; and a project's `cancel_superseded`
//! (off by default), where a new run of a branch (a push) or of a pull request makes the
//! older unfinished runs of the same obsolete. The store finds them; the server cancels each
//! as its cancel endpoint does, and audits why.

use railyard_types::context::RunEvent;
use railyard_types::{ProjectName, RunId};

use crate::records::{RunRecord, run_columns};
use crate::{Store, StoreError};

impl Store {
    /// One run's record, without its jobs (a claim reads it for the run's context).
    pub async fn run_record(&self, id: &RunId) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(self.query_error("reading a run"))?;
        row.map(|r| self.run_from_row(&r)).transpose()
    }

    /// Turns a project's `cancel_superseded` on or off; false when no such project.
    pub async fn set_cancel_superseded(
        &self,
        name: &ProjectName,
        on: bool,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE projects SET cancel_superseded = $2 WHERE name = $1")
            .bind(name.as_str())
            .bind(i64::from(on))
            .execute(self.pool())
            .await
            .map_err(self.query_error("setting cancel_superseded"))?;
        Ok(done.rows_affected() == 1)
    }

    /// The unfinished runs `run` supersedes: older runs (a lower number) of its project with
    /// the same event and ref, for a push to a branch or a pull request (whose ref,
    /// `refs/pull/N/head`, names the pull request). Nothing for any other run: a tag, a
    /// schedule or a trigger supersedes nothing, and nothing supersedes them.
    pub async fn superseded_runs(&self, run: &RunRecord) -> Result<Vec<RunRecord>, StoreError> {
        let (Some(event), Some(git_ref)) = (run.event, run.git_ref.as_deref()) else {
            return Ok(Vec::new());
        };
        let branch = event == RunEvent::Push && git_ref.starts_with("refs/heads/");
        if !(branch || event == RunEvent::PullRequest) {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE project = $1 AND git_ref = $2 AND finished_at IS NULL \
             AND event = $3 AND number < $4 ORDER BY number"
        ))
        .bind(run.project.as_str())
        .bind(git_ref)
        .bind(event.as_str())
        .bind(run.number)
        .fetch_all(self.pool())
        .await
        .map_err(self.query_error("reading superseded runs"))?;
        rows.iter().map(|r| self.run_from_row(r)).collect()
    }
}
