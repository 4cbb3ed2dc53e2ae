//! The bodies of the REST API under `/api/v1`, shared by the server and its clients (the
//! agent and the CLI). Plain data, no IO.

use serde::{Deserialize, Serialize};

pub use railyard_store::{Claim, Project, RunDetail, RunRecord};

/// `POST /api/v1/projects`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewProject {
    /// Its name.
    pub name: String,
    /// Any URL `git clone` takes.
    pub repo: String,
    /// The secret push webhooks are signed with (GitHub, Gitea) or carry (GitLab).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// The answer to a webhook delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookAnswer {
    /// The run started, if the event asked for one (a branch deletion or a ping does not).
    pub run: Option<RunRecord>,
    /// Why no run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
}

/// `POST /api/v1/projects/{name}/trigger`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TriggerRequest {
    /// A branch, tag or commit [default: the repository's HEAD].
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
}

/// The answer to a trigger.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Triggered {
    /// The new run.
    pub run: RunRecord,
    /// Its jobs in pipeline order.
    pub jobs: Vec<String>,
}

/// `POST /api/v1/agents/register`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// A name for people (host name, say).
    pub name: String,
    /// How many jobs it runs at once.
    pub slots: u32,
}

/// The answer to a registration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registered {
    /// The agent's id, named in every later call.
    pub agent_id: String,
    /// How long a lease lasts without a heartbeat, in milliseconds.
    pub lease_ms: u64,
}

/// `POST /api/v1/agents/claim`: answered with a [`Claim`], or 204 when nothing came
/// within the long-poll window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClaimRequest {
    /// The agent asking.
    pub agent_id: String,
    /// How long to wait for work, in milliseconds (capped by the server).
    #[serde(default)]
    pub wait_ms: Option<u64>,
}

/// Names the lease a call is made under: `POST /api/v1/jobs/{id}/heartbeat`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseRef {
    /// The agent holding it.
    pub agent_id: String,
    /// The attempt it was claimed as.
    pub attempt: i64,
}

/// The answer to a heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Renewed {
    /// Milliseconds since the epoch.
    pub lease_until: i64,
    /// The run was cancelled: stop the job and report it `cancelled`.
    #[serde(default)]
    pub cancel: bool,
}

/// `POST /api/v1/jobs/{id}/logs`: one chunk of log text. Chunks of an attempt are numbered
/// 1, 2, … and sent in order; a chunk already stored is acknowledged again without being
/// written twice, so an agent resends until acknowledged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogChunk {
    /// The agent holding the lease.
    pub agent_id: String,
    /// The attempt.
    pub attempt: i64,
    /// 1-based chunk number within the attempt.
    pub seq: i64,
    /// Whole lines, each ending in a newline.
    pub text: String,
}

/// The answer to a log chunk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogAck {
    /// The last chunk stored.
    pub acked: i64,
}

/// `POST /api/v1/jobs/{id}/complete`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Completion {
    /// The agent holding the lease.
    pub agent_id: String,
    /// The attempt.
    pub attempt: i64,
    /// The job's final status.
    pub status: railyard_types::JobStatus,
    /// Why it failed outside its steps.
    #[serde(default)]
    pub error: Option<String>,
}

/// Every error body: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// One error.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable code: `unauthorized`, `not_found`, `conflict`, `lease_lost`, `bad_request`,
    /// `git`, `pipeline`, `internal`.
    pub code: String,
    /// What went wrong and what to do.
    pub message: String,
}
