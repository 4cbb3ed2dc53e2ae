//! The bodies of the REST API under `/api/v1`, shared by the server and its clients (the
//! agent and the CLI). Plain data, no IO: the agent depends on this crate, never on the
//! server or the store.

use serde::{Deserialize, Serialize};

use crate::{AgentId, Millis, ProjectName, TokenName};

pub use crate::records::{RunDetail, RunRecord};

/// A repository known to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Project {
    /// Its name, unique.
    pub name: ProjectName,
    /// Any URL `git clone` takes.
    pub repo_url: String,
    /// When it was added.
    pub created_at: Millis,
    /// Its share of the fleet: a free slot goes to the project with the fewest running jobs
    /// per unit of weight (1 and up).
    #[serde(default = "one")]
    pub weight: i64,
    /// The most jobs it may run at once; 0 for no cap.
    #[serde(default)]
    pub max_running: i64,
    /// Its runs' logs and artifacts are pruned once a run finished this many days ago and is
    /// not among the newest `keep_runs`; 0 keeps them for ever.
    #[serde(default = "ninety")]
    pub keep_days: i64,
    /// The newest runs whose logs and artifacts are kept however old.
    #[serde(default = "twenty")]
    pub keep_runs: i64,
    /// The most bytes of artifacts its runs may hold; 0 for no quota.
    #[serde(default)]
    pub quota_bytes: i64,
    /// The agent pools that may run its jobs: a claim by an agent of another pool never sees
    /// them, whatever labels it declares.
    #[serde(default = "default_pools")]
    pub pools: Vec<String>,
    /// Whether a new run of a branch (push) or of a pull request cancels the older
    /// unfinished runs of the same (off by default).
    #[serde(default)]
    pub cancel_superseded: bool,
    /// The refs whose runs write its shared dependency caches (`refs/heads/main`, `main`,
    /// `release/*`); empty: the default, its `main` branch. Pull requests never do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protected_refs: Vec<String>,
}

fn one() -> i64 {
    1
}

fn default_pools() -> Vec<String> {
    vec!["default".into()]
}

fn ninety() -> i64 {
    90
}

fn twenty() -> i64 {
    20
}

/// What an agent gets when it claims a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Claim {
    /// The queue row's id: the job's handle in the agent protocol.
    pub job_id: crate::JobId,
    /// The run it belongs to.
    pub run_id: crate::RunId,
    /// The job's name in the pipeline.
    pub job: String,
    /// The project.
    pub project: ProjectName,
    /// Where to clone from.
    pub repo_url: String,
    /// The commit to check out.
    pub commit: String,
    /// The ref the run was triggered for, in full (`refs/heads/main`), which the job sees as
    /// `RAILYARD_REF`; none for a commit given as such (and from servers before it).
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// 1 for the first try; every lease check names it.
    pub attempt: i64,
    /// When the lease ends; renew before.
    pub lease_until: Millis,
    /// Set when the job is one shard of a `parallel: N` job: `job` is then the shard's name
    /// (`test [2/4]`), and the agent runs only that shard of the pipeline's job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardOf>,
    /// The project's secrets the job's pipeline names in `secrets` (name, value), decrypted
    /// by the server for this claim alone: the agent keeps them in memory, sets them in the
    /// job's containers and masks them in its log.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<(String, crate::secrets::SecretValue)>,
    /// The project's repository credential (`user:password`), for the checkout's `git` only
    /// (see [`crate::secrets::git_auth_env`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_credential: Option<crate::secrets::SecretValue>,
    /// What started the run and for what (event, ref, pull request), which the job sees as
    /// the `RAILYARD_*` variables; none from servers before it (the agent then sets
    /// `RAILYARD_COMMIT` and `RAILYARD_REF` alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<crate::context::RunContext>,
    /// The run's address on the server (`RAILYARD_RUN_URL`), when it has a public URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    /// Which attempt of its run this is (1, then one more per re-run), which the job sees
    /// as `RAILYARD_RUN_ATTEMPT`; none from servers before re-runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_attempt: Option<i64>,
    /// The trust scope the job's caches are written in, decided by the server from the
    /// run's ref and event and the project's protected refs; none from servers before
    /// caches (the agent then never writes the shared scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_scope: Option<crate::cache::CacheScope>,
}

/// Which shard of which pipeline job a claimed job is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShardOf {
    /// The job's name in the pipeline (`test`).
    pub job: String,
    /// 1-based shard number.
    pub shard: u32,
    /// How many shards the job has (its `parallel`).
    pub shards: u32,
}

/// `POST /api/v1/jobs/{id}/tests`: a shard posts the ids it listed. The first shard of the
/// job to post them opens the job's test queue (first wins); every later shard must have
/// listed the same ids (in any order), else 409.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestsOpen {
    /// The agent holding the shard's lease.
    pub agent_id: AgentId,
    /// The attempt.
    pub attempt: i64,
    /// The ids the shard listed.
    pub tests: Vec<String>,
}

/// The answer to [`TestsOpen`]: the timings every shard of the job splits by, taken from the
/// project's stored timings when the queue was opened (so every shard, whenever it comes,
/// computes the same static plan).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestsOpened {
    /// Seconds per test id, for the listed ids that have stored timings.
    pub timings: Vec<(String, f64)>,
}

/// `POST /api/v1/jobs/{id}/tests/next`: completes the shard's last batch (if any) and asks
/// for its next one (queue mode).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NextBatch {
    /// The agent holding the shard's lease.
    pub agent_id: AgentId,
    /// The attempt.
    pub attempt: i64,
    /// The shard asking, 1…N.
    pub shard: u32,
    /// Its last batch, done; none on the shard's first request, which also gives back any
    /// batch an earlier attempt of this shard held.
    #[serde(default)]
    pub done: Option<Done>,
}

/// The answer to [`NextBatch`]: a batch, or `wait_ms` (other shards hold batches that may
/// come back: ask again after that long), or neither once every test ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NextAnswer {
    /// The shard's next batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<Batch>,
    /// Ask again after this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
}

/// `POST /api/v1/jobs/{id}/tests/give-back`: the shard stops (its batch failed to run, or
/// it was cancelled): its unfinished batches go back to the queue for the other shards.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GiveBack {
    /// The agent holding the shard's lease.
    pub agent_id: AgentId,
    /// The attempt.
    pub attempt: i64,
    /// The shard giving its batches back, 1…N.
    pub shard: u32,
}

/// A share of a job's tests handed to one shard (queue mode), run as one `exec` of the
/// job's `run` command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Batch {
    /// Unique within its queue.
    pub id: u64,
    /// The ids, longest first.
    pub tests: Vec<String>,
    /// The sum of their estimates.
    pub predicted_secs: f64,
}

/// What a shard reports about a batch it finished, with its request for the next one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Done {
    /// The batch's id.
    pub batch: u64,
    /// Wall seconds the shard spent on it: the `exec`, its output and reading its reports.
    pub elapsed_secs: f64,
    /// The seconds its reports give for its tests (`None` without a report): `elapsed_secs`
    /// minus this is the batch's overhead, which sets the smallest batch worth handing out.
    pub tests_secs: Option<f64>,
}

/// `POST /api/v1/projects`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewProject {
    /// Its name.
    pub name: ProjectName,
    /// Any URL `git clone` takes.
    pub repo: String,
    /// The secret push webhooks are signed with (GitHub, Gitea) or carry (GitLab).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    /// Its weight and cap.
    #[serde(flatten)]
    pub share: ProjectShare,
}

/// `POST /api/v1/projects/{name}/remove`: removes the project with its runs, logs,
/// artifacts and timings. A project with unfinished runs is refused (409) unless `force`,
/// which removes those too (their agents stop the jobs at their next call).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoveProjectRequest {
    /// Remove it even while runs of it have not finished.
    #[serde(default)]
    pub force: bool,
}

/// The answer to [`RemoveProjectRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemovedProject {
    /// The project removed.
    pub name: ProjectName,
    /// How many of its runs were deleted with it.
    pub runs: u64,
    /// How many of those had not finished (only with `force`).
    pub unfinished: u64,
}

/// `GET /healthz` (the process answers) and `GET /readyz` (its database answers and holds
/// every migration): `{"status": "ok"}`; a server that is not ready answers 503 with an
/// [`ErrorBody`] saying why.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// A project's share of the fleet: `PATCH /api/v1/projects/{name}`, and part of
/// [`NewProject`]. A field left out keeps its value (or the default: weight 1, no cap).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectShare {
    /// Its weight, 1 and up: a free slot goes to the project with the fewest running jobs
    /// per unit of weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    /// The most jobs it may run at once; 0 for no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_running: Option<i64>,
    /// Days a finished run's logs and artifacts are kept (0: for ever; default 90).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_days: Option<i64>,
    /// The newest runs whose logs and artifacts are kept however old (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_runs: Option<i64>,
    /// The most bytes of artifacts its runs may hold (0, the default: no quota).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_bytes: Option<i64>,
    /// The agent pools that may run its jobs, replacing its list (default `["default"]`;
    /// never empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pools: Option<Vec<String>>,
    /// Whether a new run of a branch or pull request cancels its older unfinished runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_superseded: Option<bool>,
    /// The refs whose runs write its shared caches, replacing its list (empty: its `main`
    /// branch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_refs: Option<Vec<String>>,
    /// Where its commit statuses go (kind `none` stops them); the token is its `@forge`
    /// secret. Maintainers only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forge: Option<crate::statuses::ForgeSettings>,
}

/// The answer to a webhook delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookAnswer {
    /// The run started, if the event asked for one (a branch deletion or a ping does not).
    pub run: Option<RunRecord>,
    /// Why no run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
}

/// `POST /api/v1/projects/{name}/trigger`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TriggerRequest {
    /// A branch, tag or commit [default: the repository's HEAD].
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
}

/// `POST /api/v1/runs/{id}/rerun`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RerunRequest {
    /// Only the jobs that failed, timed out or were cancelled, and those they skipped (for a
    /// sharded job, only its failed shards) [default: every job].
    #[serde(default)]
    pub failed_only: bool,
}

/// The answer to a trigger.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Triggered {
    /// The new run.
    pub run: RunRecord,
    /// Its jobs in pipeline order.
    pub jobs: Vec<String>,
}

/// `POST /api/v1/agents/register`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    /// A name for people (host name, say).
    pub name: String,
    /// How many jobs it runs at once.
    pub slots: u32,
    /// Its labels: it takes only jobs whose `runs_on` labels it all has.
    #[serde(default)]
    pub labels: Vec<String>,
}

/// The answer to a registration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Registered {
    /// The agent's id, named in every later call.
    pub agent_id: AgentId,
    /// How long a lease lasts without a heartbeat, in milliseconds.
    pub lease_ms: u64,
}

/// `POST /api/v1/agents/claim`: answered with a [`Claim`], or 204 when nothing came
/// within the long-poll window.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimRequest {
    /// The agent asking.
    pub agent_id: AgentId,
    /// How long to wait for work, in milliseconds (capped by the server).
    #[serde(default)]
    pub wait_ms: Option<u64>,
}

/// Names the lease a call is made under: `POST /api/v1/jobs/{id}/heartbeat`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeaseRef {
    /// The agent holding it.
    pub agent_id: AgentId,
    /// The attempt it was claimed as.
    pub attempt: i64,
}

/// The answer to a heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Renewed {
    /// When the lease now ends.
    pub lease_until: Millis,
    /// The run was cancelled: stop the job and report it `cancelled`.
    #[serde(default)]
    pub cancel: bool,
}

/// `POST /api/v1/jobs/{id}/logs`: one chunk of log text. Chunks of an attempt are numbered
/// 1, 2, … and sent in order; a chunk already stored is acknowledged again without being
/// written twice, so an agent resends until acknowledged.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogChunk {
    /// The agent holding the lease.
    pub agent_id: AgentId,
    /// The attempt.
    pub attempt: i64,
    /// 1-based chunk number within the attempt.
    pub seq: i64,
    /// Whole lines, each ending in a newline.
    pub text: String,
}

/// The answer to a log chunk.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogAck {
    /// The last chunk stored.
    pub acked: i64,
}

/// `POST /api/v1/jobs/{id}/complete`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Completion {
    /// The agent holding the lease.
    pub agent_id: AgentId,
    /// The attempt.
    pub attempt: i64,
    /// The job's final status.
    pub status: crate::JobStatus,
    /// Why it failed outside its steps.
    #[serde(default)]
    pub error: Option<String>,
    /// How each step went, recorded like a local run's steps.
    #[serde(default)]
    pub steps: Vec<StepReport>,
    /// Seconds per test id from the job's JUnit reports (a test job), fed into the project's
    /// timings so that its next split uses them.
    #[serde(default)]
    pub timings: Vec<(String, f64)>,
    /// The env image the job ran in, as on a local run's job record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_image: Option<EnvImageReport>,
    /// The image the job built (`image_build`), pushed or not. Absent from older agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<crate::records::BuiltImageReport>,
}

/// The env image a job ran in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnvImageReport {
    /// The cache key of a built image (none for a ready `image`).
    pub key: Option<String>,
    /// The Docker image ID.
    pub id: String,
    /// True when the agent's engine had it already: nothing was built or pulled.
    pub cached: bool,
    /// How it came to the engine (absent from older agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<crate::env_images::EnvOrigin>,
    /// Its reference in the registry (`host:port/prefix/env/project:key`), with a registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The registry's manifest digest of it (`sha256:…`), when it was pulled from or pushed
    /// to the registry: what the job records it ran on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// One step of a finished job, as the agent saw it run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepReport {
    /// Its position in the script, from 0.
    pub index: u32,
    /// The command.
    pub command: String,
    /// How it ended (`running` if the job stopped before it did).
    pub status: crate::StepStatus,
    /// Its exit code, once exited.
    pub exit_code: Option<i64>,
    /// When it started.
    pub started_at: Millis,
    /// When it finished.
    pub finished_at: Option<Millis>,
}

/// One file of a job's artifacts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArtifactEntry {
    /// Its path under the job's artifacts, `/`-separated.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of its bytes, lowercase hex (to check a download against); none for a file
    /// stored before the server kept digests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// One artifact file of the run of a leased job (`GET /api/v1/jobs/{id}/inputs`): what the
/// agent fetches the artifacts of the job's `needs` from, checked against `size` and `sha256`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InputArtifact {
    /// The job that stored it, as queued (`test [2/4]` for a shard): the `{job}` of its
    /// download.
    pub job: String,
    /// The pipeline's job it is of (`test`).
    pub pipeline_job: String,
    /// The shard (1-based) of a `parallel` job that stored it; none for an unsharded job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u32>,
    /// How many shards `pipeline_job` has (1 unsharded).
    pub shards: u32,
    /// Its path under the job's artifacts, `/`-separated.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of its bytes, lowercase hex; none for a file stored before the server kept
    /// digests (check its size alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// `POST /api/v1/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewToken {
    /// A unique name: letters, digits, `.`, `_`, `-`.
    pub name: TokenName,
    /// `admin` or `agent`.
    pub role: crate::Role,
    /// An agent token's pool (default `default`): agents registered with it run only the
    /// jobs of projects that allow it. Refused for other roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
}

/// The answer to `POST /api/v1/tokens`: the only time the token is shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    /// Its name.
    pub name: TokenName,
    /// Its role.
    pub role: crate::Role,
    /// The token itself.
    pub token: String,
}

/// A stored token as people see it (no hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    /// Its unique name (`ci-runner-3`).
    pub name: TokenName,
    /// What it may do.
    pub role: crate::Role,
    /// When it was created.
    pub created_at: Millis,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Millis>,
}

/// An agent as `railyard agents` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentInfo {
    /// Its id (a ULID, given at registration).
    pub id: AgentId,
    /// The name it gave.
    pub name: String,
    /// How many jobs it runs at once.
    pub slots: i64,
    /// Jobs it holds a lease on now.
    pub running: i64,
    /// Its last claim or heartbeat.
    pub last_seen: Millis,
}

/// The query of `GET /api/v1/runs`: newest first, of one project or all.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunsQuery {
    /// Only this project's runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<ProjectName>,
    /// At most this many [default: 20].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// The query of `GET /api/v1/deployments/{env}`: newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeploymentsQuery {
    /// At most this many [default: 20].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// The query of a call under a job's lease that has no JSON body (an artifact upload, the
/// inputs' list and downloads): the lease it is made under.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadQuery {
    /// The agent holding the lease.
    pub agent_id: AgentId,
    /// The attempt.
    pub attempt: i64,
}

/// `GET /api/v1/jobs/{id}/caches/{name}`: which stored cache a job restores for its key
/// (or, with a prefix, the newest of the prefix), under its lease.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CacheLookup {
    /// The agent holding the lease.
    pub agent_id: AgentId,
    /// The attempt.
    pub attempt: i64,
    /// The key the job computed.
    pub key: String,
    /// The prefix a new key falls back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// What [`CacheLookup`] found: download it by its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CacheFound {
    /// The key it holds (the one asked, or the newest of the prefix).
    pub key: String,
    /// The scope it is filed under: the run's own, or `shared`.
    pub scope: crate::cache::CacheScope,
    /// Bytes of its archive.
    pub size: u64,
    /// SHA-256 of the archive, lowercase hex: the agent checks the bytes against it.
    pub sha256: String,
}

/// The answer of [`CacheLookup`]: `found` is none on a miss.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CacheAnswer {
    /// The cache to download, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<CacheFound>,
}

/// One stored cache of a project: `GET /api/v1/projects/{name}/caches`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CacheInfo {
    /// The scope it is filed under.
    pub scope: String,
    /// The cache's name in the job.
    pub name: String,
    /// Its key.
    pub key: String,
    /// Bytes of its archive.
    pub size: u64,
    /// SHA-256 of the archive, lowercase hex.
    pub sha256: String,
    /// When it was stored.
    pub created_at: Millis,
    /// When a job last restored it (or it was stored).
    pub last_used_at: Millis,
}

/// `PUT /api/v1/jobs/{id}/caches/{name}/{key}`: the lease, and the prefix a later key may
/// fall back to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CacheUploadQuery {
    /// The agent holding the lease.
    pub agent_id: AgentId,
    /// The attempt.
    pub attempt: i64,
    /// The key's prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// Every error body: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// One error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// A stable code: `unauthorized`, `not_found`, `method_not_allowed`, `conflict`,
    /// `lease_lost`, `bad_request`, `too_large`, `unsupported_media_type`, `git`, `pipeline`,
    /// `internal`, `unavailable`.
    pub code: String,
    /// What went wrong and what to do.
    pub message: String,
}

/// `name` (a job, a project, a run as the user typed it) as one segment of an API path or a
/// query value, percent-encoded: a shard's name holds spaces, brackets and a `/` (`unit [2/4]`), and sent
/// raw its `/` split the segment and the server answered 404. The server decodes it back.
pub fn path_segment(name: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::path_segment;

    #[test]
    fn a_path_segment_keeps_only_unreserved_characters() {
        assert_eq!(path_segment("unit [2/4]"), "unit%20%5B2%2F4%5D");
        assert_eq!(path_segment("build-1.x_y~"), "build-1.x_y~");
        assert_eq!(path_segment("tëst?a=1#b"), "t%C3%ABst%3Fa%3D1%23b");
    }

    /// An agent from before `image_build` sends no `image`; a new one sends it only when
    /// its job built one: both read as before.
    #[test]
    fn a_completion_without_an_image_reads_as_before_and_one_with_it_keeps_it() {
        let old = r#"{"agent_id":"a1","attempt":1,"status":"success"}"#;
        let read: super::Completion = serde_json::from_str(old).unwrap();
        assert_eq!(read.image, None);
        let written = serde_json::to_value(&read).unwrap();
        assert!(written.get("image").is_none(), "{written}");
        let new = r#"{"agent_id":"a1","attempt":1,"status":"success",
            "image":{"reference":"127.0.0.1:5000/ci/p/app:v1","digest":"sha256:ab"}}"#;
        let read: super::Completion = serde_json::from_str(new).unwrap();
        let image = read.image.unwrap();
        assert_eq!(image.reference, "127.0.0.1:5000/ci/p/app:v1");
        assert_eq!(image.digest.as_deref(), Some("sha256:ab"));
    }
}
