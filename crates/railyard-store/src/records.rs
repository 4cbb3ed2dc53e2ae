//! What the store hands in and out: plain data, serializable for `--json` and the API.

use railyard_types::context::{PullRequest, RunContext, RunEvent};
use railyard_types::{JobStatus, Millis, ProjectName, RunId, RunStatus, StepStatus};
use serde::{Deserialize, Serialize};

// Moved to railyard-types: the API carries them, and its clients (agent, CLI) need no store.
pub use railyard_types::records::{JobRecord, RunDetail, RunRecord, StepRecord};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError};

/// A run about to start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRun {
    /// The project (repository) it belongs to; run numbers count per project.
    pub project: ProjectName,
    /// The pipeline file, as the user would name it.
    pub pipeline_path: String,
    /// The commit checked out, if the repository is a git repository.
    pub commit: Option<String>,
    /// `host:pid` of the process running it, so that a later start can tell it died.
    pub owner: String,
    /// Its jobs in pipeline order; each starts `pending`.
    pub jobs: Vec<String>,
    /// When it started.
    pub started_at: Millis,
    /// What started a server's run (its event, pull request and who started it are stored
    /// with it); `None` for a local run.
    pub context: Option<RunContext>,
}

/// The columns [`Store::run_from_row`] reads, for `concat!` into a `SELECT`.
macro_rules! run_columns {
    () => {
        "id, number, project, pipeline_path, git_commit, git_ref, owner, status, started_at, \
         finished_at, event, pr_number, pr_source, pr_target, pr_from_fork, started_by, attempt"
    };
}
pub(crate) use run_columns;

impl Store {
    pub(crate) fn run_from_row(&self, row: &AnyRow) -> Result<RunRecord, StoreError> {
        let status: String = self.get(row, "status")?;
        Ok(RunRecord {
            id: RunId::from(self.get::<String>(row, "id")?),
            number: self.get(row, "number")?,
            project: ProjectName::from(self.get::<String>(row, "project")?),
            pipeline_path: self.get(row, "pipeline_path")?,
            commit: self.get(row, "git_commit")?,
            git_ref: self.get(row, "git_ref")?,
            owner: self.get(row, "owner")?,
            status: RunStatus::parse(&status).ok_or_else(|| self.corrupt("run status", status))?,
            started_at: Millis(self.get(row, "started_at")?),
            finished_at: self.millis(row, "finished_at")?,
            event: match self.get::<Option<String>>(row, "event")? {
                Some(e) => Some(RunEvent::parse(&e).ok_or_else(|| self.corrupt("run event", e))?),
                None => None,
            },
            pull_request: self.pull_request_from_row(row)?,
            started_by: self.get(row, "started_by")?,
            attempt: self.get(row, "attempt")?,
        })
    }

    /// The run's pull request, when it has a number.
    fn pull_request_from_row(&self, row: &AnyRow) -> Result<Option<PullRequest>, StoreError> {
        let Some(number) = self.get::<Option<i64>>(row, "pr_number")? else {
            return Ok(None);
        };
        Ok(Some(PullRequest {
            number: u64::try_from(number)
                .map_err(|_| self.corrupt("pull request number", number.to_string()))?,
            source_branch: self
                .get::<Option<String>>(row, "pr_source")?
                .unwrap_or_default(),
            target_branch: self
                .get::<Option<String>>(row, "pr_target")?
                .unwrap_or_default(),
            from_fork: self.get::<Option<i64>>(row, "pr_from_fork")? == Some(1),
        }))
    }

    pub(crate) fn job_from_row(&self, row: &AnyRow) -> Result<JobRecord, StoreError> {
        let status: String = self.get(row, "status")?;
        Ok(JobRecord {
            name: self.get(row, "name")?,
            status: JobStatus::parse(&status).ok_or_else(|| self.corrupt("job status", status))?,
            started_at: self.millis(row, "started_at")?,
            finished_at: self.millis(row, "finished_at")?,
            env_key: self.get(row, "env_key")?,
            env_image_id: self.get(row, "env_image_id")?,
            env_image_digest: self.get(row, "env_image_digest")?,
            error: self.get(row, "error")?,
            steps: Vec::new(),
            waiting: None,
            awaiting_approval: false,
            image: self
                .get::<Option<String>>(row, "built_image_ref")?
                .map(|reference| {
                    Ok::<_, StoreError>(railyard_types::records::BuiltImageReport {
                        reference,
                        digest: self.get(row, "built_image_digest")?,
                    })
                })
                .transpose()?,
        })
    }

    /// Reads a step row; also returns its job's name.
    pub(crate) fn step_from_row(&self, row: &AnyRow) -> Result<(String, StepRecord), StoreError> {
        let status: String = self.get(row, "status")?;
        let index: i64 = self.get(row, "step_index")?;
        let step = StepRecord {
            index: u32::try_from(index)
                .map_err(|_| self.corrupt("step index", index.to_string()))?,
            command: self.get(row, "command")?,
            status: StepStatus::parse(&status)
                .ok_or_else(|| self.corrupt("step status", status))?,
            exit_code: self.get(row, "exit_code")?,
            started_at: Millis(self.get(row, "started_at")?),
            finished_at: self.millis(row, "finished_at")?,
        };
        Ok((self.get(row, "job_name")?, step))
    }

    /// A time column that may be NULL.
    fn millis(&self, row: &AnyRow, column: &'static str) -> Result<Option<Millis>, StoreError> {
        Ok(self.get::<Option<i64>>(row, column)?.map(Millis))
    }

    fn get<'r, T>(&self, row: &'r AnyRow, column: &'static str) -> Result<T, StoreError>
    where
        T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        row.try_get(column)
            .map_err(self.query_error("reading a row"))
    }

    pub(crate) fn corrupt(&self, what: &'static str, value: String) -> StoreError {
        StoreError::Corrupt {
            location: self.location().to_owned(),
            what,
            value,
        }
    }
}
