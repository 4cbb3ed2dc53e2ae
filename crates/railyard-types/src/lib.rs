//! Types shared by every Railyard crate: the statuses of runs, jobs and steps, the labels put
//! on every Docker object, the CLI's exit codes, run records and the API's bodies
//! ([`protocol`]). Nothing here does IO, so the store, the
//! runner and (later) the server and agents agree on these without depending on each other.
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};
use std::fmt;

pub use ids::{AgentId, JobId, Millis, ProjectName, Role, RunId, TokenName, UserName};

pub mod api;
pub mod cache;
pub mod context;
pub mod env_images;
pub mod error;
pub mod ids;
pub mod inventory;
pub mod path;
pub mod people;
pub mod protocol;
pub mod records;
pub mod schedules;
pub mod secrets;
pub mod statuses;
pub mod template;
pub mod terminal;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Recorded, not started.
    Queued,
    /// At least one job is running or about to.
    Running,
    /// Every job succeeded (or failed with `allow_failure`).
    Success,
    /// A job failed.
    Failed,
    /// Stopped by Ctrl-C, SIGTERM or a user's cancel.
    Cancelled,
    /// Its process died before it finished (found on a later start).
    Abandoned,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for its `needs`.
    Pending,
    /// Preparing its environment or running steps.
    Running,
    /// Every step exited 0.
    Success,
    /// A step failed (or the environment could not be set up).
    Failed,
    /// A step failed but the job has `allow_failure: true`.
    FailedAllowed,
    /// Ran longer than its `timeout`.
    TimedOut,
    /// A job it needs did not succeed.
    Skipped,
    /// Stopped by a cancel.
    Cancelled,
}

impl JobStatus {
    /// True once the job will not change any more.
    pub fn is_final(self) -> bool {
        !matches!(self, JobStatus::Pending | JobStatus::Running)
    }

    /// True when jobs that need this one may run.
    pub fn lets_dependents_run(self) -> bool {
        matches!(self, JobStatus::Success | JobStatus::FailedAllowed)
    }
}

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Executing.
    Running,
    /// Exited 0.
    Success,
    /// Exited non-zero (or could not start).
    Failed,
    /// Stopped by a cancel or the job's timeout.
    Cancelled,
    /// Not run because an earlier step failed.
    Skipped,
}

macro_rules! display_as_serde {
    ($($ty:ty),*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

impl RunStatus {
    /// The snake_case name used in the store, JSON and the terminal.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Abandoned => "abandoned",
        }
    }
    /// Parses [`RunStatus::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        [
            RunStatus::Queued,
            RunStatus::Running,
            RunStatus::Success,
            RunStatus::Failed,
            RunStatus::Cancelled,
            RunStatus::Abandoned,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

impl JobStatus {
    /// The snake_case name used in the store, JSON and the terminal.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Success => "success",
            JobStatus::Failed => "failed",
            JobStatus::FailedAllowed => "failed_allowed",
            JobStatus::TimedOut => "timed_out",
            JobStatus::Skipped => "skipped",
            JobStatus::Cancelled => "cancelled",
        }
    }
    /// Parses [`JobStatus::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        [
            JobStatus::Pending,
            JobStatus::Running,
            JobStatus::Success,
            JobStatus::Failed,
            JobStatus::FailedAllowed,
            JobStatus::TimedOut,
            JobStatus::Skipped,
            JobStatus::Cancelled,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

impl StepStatus {
    /// The snake_case name used in the store, JSON and the terminal.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Running => "running",
            StepStatus::Success => "success",
            StepStatus::Failed => "failed",
            StepStatus::Cancelled => "cancelled",
            StepStatus::Skipped => "skipped",
        }
    }
    /// Parses [`StepStatus::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        [
            StepStatus::Running,
            StepStatus::Success,
            StepStatus::Failed,
            StepStatus::Cancelled,
            StepStatus::Skipped,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

display_as_serde!(RunStatus, JobStatus, StepStatus);

/// The name a shard of a `parallel: N` job is shown and stored under: `test [2/4]`, on
/// local runs and on the server alike.
pub fn shard_name(job: &str, shard: u32, shards: u32) -> String {
    format!("{job} [{shard}/{shards}]")
}

/// Labels put on every container, network, volume and image Railyard creates, so that
/// `railyard clean` and the next run can find and reap what a crash left.
pub mod labels {
    /// Present on everything Railyard creates; the value is the run id.
    pub const RUN: &str = "io.railyard.run";
    /// The job name (with shard suffix once sharding exists).
    pub const JOB: &str = "io.railyard.job";
    /// `job`, `service` or `network`/`volume`: what the object is for.
    pub const ROLE: &str = "io.railyard.role";
    /// The service name, on service containers.
    pub const SERVICE: &str = "io.railyard.service";
    /// `host:pid` of the process that created the object; a dead owner means a leftover.
    pub const OWNER: &str = "io.railyard.owner";
    /// One call of the runner (one `railyard run`, or one job an agent runs): what a run's
    /// final sweep removes, so two agents running jobs of the same run on one engine never
    /// remove each other's objects.
    pub const INVOCATION: &str = "io.railyard.invocation";
    /// On env images: the cache key the image was built for.
    pub const ENV_KEY: &str = "io.railyard.env-key";
    /// On env images: the project (repository root) the image was built for; on cache
    /// volumes, the project whose cache it is.
    pub const PROJECT: &str = "io.railyard.project";
    /// On cache volumes (never on a run's objects, so no job's cleanup removes them): the
    /// cache's name in the job.
    pub const CACHE: &str = "io.railyard.cache";
    /// On cache volumes: the key the volume holds.
    pub const CACHE_KEY: &str = "io.railyard.cache.key";
    /// On cache volumes: the key's prefix (what a new key falls back to), empty for none.
    pub const CACHE_PREFIX: &str = "io.railyard.cache.prefix";
    /// On cache volumes: the trust scope that writes it (`shared`, `branch:x`, `pr:7`).
    pub const CACHE_SCOPE: &str = "io.railyard.cache.scope";
    /// On cache volumes: when it was made, in milliseconds since the epoch (the newest of
    /// a prefix is what a new key starts from).
    pub const CACHE_CREATED: &str = "io.railyard.cache.created";
}

/// Exit codes of the `railyard` binary, documented in the README.
pub mod exit_codes {
    /// Every job succeeded.
    pub const OK: i32 = 0;
    /// At least one job failed or timed out.
    pub const JOBS_FAILED: i32 = 1;
    /// The pipeline file or the command line is invalid.
    pub const INVALID_INPUT: i32 = 2;
    /// The Docker engine (or another thing Railyard needs) could not be reached or failed.
    pub const SETUP_FAILED: i32 = 3;
    /// The run was cancelled (Ctrl-C, SIGTERM).
    pub const CANCELLED: i32 = 130;
}
