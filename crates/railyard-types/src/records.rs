//! What the store hands out about runs, jobs and steps: plain data, serializable for `--json`
//! and the API (so the CLI and the agent read them without depending on the store).

use serde::{Deserialize, Serialize};

use crate::context::{PullRequest, RunContext, RunEvent};
use crate::{JobStatus, Millis, ProjectName, RunId, RunStatus, StepStatus};

/// One run as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunRecord {
    /// A ULID (26 characters, sortable by creation time).
    pub id: RunId,
    /// 1, 2, … within its project.
    pub number: i64,
    /// The project it belongs to.
    pub project: ProjectName,
    /// The pipeline file.
    pub pipeline_path: String,
    /// The commit, if known.
    pub commit: Option<String>,
    /// The ref a server run was triggered for, in full (`refs/heads/main`,
    /// `refs/tags/v1`); none for a commit given as such, and for local runs.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// `host:pid` of the process that ran it.
    pub owner: String,
    /// Where it stands.
    pub status: RunStatus,
    /// When it started.
    pub started_at: Millis,
    /// When it finished, once finished.
    pub finished_at: Option<Millis>,
    /// What started it (`push`, `tag`, `pull_request`, `schedule`, `trigger`); none for
    /// local runs and server runs from before events were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<RunEvent>,
    /// The pull request it tests, for a `pull_request` run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequest>,
    /// Who started it: `user:ann`, `webhook:github`, an admin token's actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    /// Which attempt of the run this is: 1, then one more per re-run (`railyard rerun`);
    /// its jobs see it as `RAILYARD_RUN_ATTEMPT`.
    #[serde(default = "first_attempt", skip_serializing_if = "is_first_attempt")]
    pub attempt: i64,
}

fn is_first_attempt(attempt: &i64) -> bool {
    *attempt == 1
}

impl RunRecord {
    /// The run's context as its jobs see it, for a server run whose event was recorded
    /// (`None` for a local run or one from before).
    pub fn context(&self) -> Option<RunContext> {
        Some(RunContext {
            event: self.event?,
            git_ref: self.git_ref.clone(),
            commit: self.commit.clone()?,
            pull_request: self.pull_request.clone(),
            started_by: self.started_by.clone(),
        })
    }
}

/// A run with its jobs and their steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunDetail {
    /// The run.
    pub run: RunRecord,
    /// Its jobs in pipeline order (jobs first mentioned later, e.g. shards, after them).
    pub jobs: Vec<JobRecord>,
    /// The job results of the earlier attempts, oldest first (empty until a re-run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_attempts: Vec<JobAttempt>,
}

fn first_attempt() -> i64 {
    1
}

/// How a job ended in an earlier attempt of its run (see [`RunDetail::earlier_attempts`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobAttempt {
    /// The run's attempt (1 for the first run).
    pub attempt: i64,
    /// The job's name (with a shard suffix for shards).
    pub job: String,
    /// How it ended then.
    pub status: JobStatus,
    /// When it started then.
    pub started_at: Option<Millis>,
    /// When it finished then.
    pub finished_at: Option<Millis>,
    /// Why it failed then, when not a step's exit code.
    pub error: Option<String>,
}

/// One job of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobRecord {
    /// The job's name (with a shard suffix for shards).
    pub name: String,
    /// Where it stands.
    pub status: JobStatus,
    /// When it started.
    pub started_at: Option<Millis>,
    /// When it finished.
    pub finished_at: Option<Millis>,
    /// The env image's cache key (none for a ready `image`).
    pub env_key: Option<String>,
    /// The Docker image ID the job ran in.
    pub env_image_id: Option<String>,
    /// The registry's manifest digest of that image (`sha256:…`), when it came from or went
    /// to a registry (`--registry`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_image_digest: Option<String>,
    /// Why it failed, when not a step's exit code (setup error, timeout, …).
    pub error: Option<String>,
    /// Its steps by index.
    pub steps: Vec<StepRecord>,
    /// Why a queued job is not running: no live agent has every label of its `runs_on`
    /// (filled in by the server's run detail, not stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    /// The image the job built (`image_build`), when it built one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<BuiltImageReport>,
    /// A `manual` job whose needs let it run: it waits for a person's approval (`railyard
    /// approve`). Its status stays `pending` (filled in by the server's run detail).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_approval: bool,
}

/// An image a job built (`image_build`): the reference it is known by and, when it was
/// pushed, the manifest digest the registry stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BuiltImageReport {
    /// `host:port/prefix/project/app:tag` when pushed; the local tag otherwise.
    pub reference: String,
    /// `sha256:…`, when pushed.
    #[serde(default)]
    pub digest: Option<String>,
}

/// One step (one `script` line) of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepRecord {
    /// Position in the job's script, from 0 as the runner counts.
    pub index: u32,
    /// The command.
    pub command: String,
    /// Where it stands.
    pub status: StepStatus,
    /// The exit code, once exited.
    pub exit_code: Option<i64>,
    /// When it started.
    pub started_at: Millis,
    /// When it finished.
    pub finished_at: Option<Millis>,
}

/// One deployment: a job with an `environment` that started, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deployment {
    /// The environment (`production`).
    pub environment: String,
    /// The project whose run deployed.
    pub project: ProjectName,
    /// The run.
    pub run_id: RunId,
    /// The run's number within its project.
    pub run_number: i64,
    /// The deploy job.
    pub job: String,
    /// `running`, then how the job ended.
    pub status: JobStatus,
    /// When the job started.
    pub started_at: Millis,
    /// When it ended, once ended.
    pub ended_at: Option<Millis>,
    /// The image it shipped (built by the jobs it needs), when known.
    pub image: Option<String>,
    /// That image's digest, when known.
    pub image_digest: Option<String>,
}
