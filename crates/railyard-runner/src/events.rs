//! What the runner reports while it works. The runner never prints: reporters (terminal,
//! JSON, store) consume these events from a channel, as nextest's dispatcher does.

use railyard_types::{JobStatus, RunStatus, StepStatus};
use serde::Serialize;

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
    /// A message from Railyard itself about the job (warnings, phases).
    Railyard,
}

/// One thing that happened during a run. Serialised as `{"event": "...", ...}` for `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An env image is being looked up (and built or pulled when missing).
    EnvPreparing {
        /// A short description: `ci/Dockerfile` or the image reference.
        env: String,
        /// The jobs that use it.
        jobs: Vec<String>,
    },
    /// A line of `docker build` or pull output.
    EnvOutput {
        /// As in [`Event::EnvPreparing`].
        env: String,
        /// The line, without its newline.
        line: String,
    },
    /// The env image is ready.
    EnvReady {
        /// As in [`Event::EnvPreparing`].
        env: String,
        /// The jobs that use it.
        jobs: Vec<String>,
        /// The image ID (`sha256:…`).
        image_id: String,
        /// The cache key, for built images.
        cache_key: Option<String>,
        /// True when nothing had to be built or pulled.
        cached: bool,
        /// How it came to the engine: present locally, built (and pushed), or pulled.
        origin: railyard_types::env_images::EnvOrigin,
        /// Its reference in the registry (`--registry`), when the registry holds it.
        reference: Option<String>,
        /// The registry's manifest digest of it, when pulled from or pushed to the registry.
        digest: Option<String>,
        /// Time spent, cache lookup included.
        duration_ms: u64,
    },
    /// A job started preparing its containers.
    JobStarted {
        /// The job.
        job: String,
    },
    /// A job moved to a new phase (services, workspace, artifacts, cleanup).
    JobPhase {
        /// The job.
        job: String,
        /// What it is doing now.
        phase: String,
    },
    /// A step started.
    StepStarted {
        /// The job.
        job: String,
        /// 0-based index in the job's script.
        index: u32,
        /// The command.
        command: String,
    },
    /// A job's artifact was copied out of its container. Each reporter says where it is
    /// kept: locally the file itself, on an agent the server it is sent to.
    ArtifactSaved {
        /// The job (the shard, for a sharded job).
        job: String,
        /// The artifact as the pipeline names it.
        path: String,
        /// Where the runner put it on this machine.
        saved_to: std::path::PathBuf,
    },
    /// A job built its image (`image_build`), scanned it and pushed it when asked.
    ImageBuilt {
        /// The job.
        job: String,
        /// The image ID (`sha256:…`).
        image_id: String,
        /// Its local references (under the registry when one is configured).
        tags: Vec<String>,
        /// Each reference pushed, with the manifest digest the registry stored.
        pushed: Vec<(String, String)>,
    },
    /// A line of output.
    Output {
        /// The job.
        job: String,
        /// The step it came from, if any.
        step: Option<u32>,
        /// Its stream.
        stream: Stream,
        /// The line without its newline (lossy UTF-8).
        line: String,
    },
    /// A step ended.
    StepFinished {
        /// The job.
        job: String,
        /// 0-based index in the job's script.
        index: u32,
        /// Success, failed or cancelled.
        status: StepStatus,
        /// The exit code, when the command ran to its end.
        exit_code: Option<i64>,
        /// How long it took.
        duration_ms: u64,
    },
    /// A job ended (or was skipped).
    JobFinished {
        /// The job.
        job: String,
        /// Its final status.
        status: JobStatus,
        /// Wall time from start to teardown end (0 for skipped jobs).
        duration_ms: u64,
        /// Why it failed, when it did not fail in a step.
        error: Option<String>,
        /// The env image it ran in.
        image_id: Option<String>,
    },
    /// A job's tests were listed and split among its shards.
    TestsPlanned {
        /// The job (not a shard).
        job: String,
        /// How many test ids were listed.
        tests: usize,
        /// `static` or `queue`.
        mode: String,
        /// Per shard (static mode): how many tests and the predicted seconds.
        shards: Vec<ShardForecast>,
    },
    /// Results read from the JUnit reports of one batch of tests.
    TestResults {
        /// The job (not the shard), whose timings these are.
        job: String,
        /// The shard that ran them.
        shard: String,
        /// Seconds per test id that ran.
        timings: Vec<(String, f64)>,
        /// Ids that failed.
        failed: Vec<String>,
    },
    /// A shard finished its tests.
    ShardFinished {
        /// The job (not the shard).
        job: String,
        /// 1-based shard number.
        shard: u32,
        /// How many tests it ran.
        tests: usize,
        /// What the plan predicted (static mode).
        predicted_secs: Option<f64>,
        /// How long its tests took, from the start of its first batch to the end of its last
        /// one (retries included; not the wait for other shards' batches at the end).
        actual_secs: f64,
        /// Tests that failed first and passed on a retry.
        flaky: Vec<String>,
    },
    /// The run ended.
    RunFinished {
        /// Its final status.
        status: RunStatus,
        /// Wall time of the whole run.
        duration_ms: u64,
    },
}

/// One shard's share of a static split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShardForecast {
    /// 1-based shard number.
    pub shard: u32,
    /// How many tests it gets.
    pub tests: usize,
    /// Their predicted seconds.
    pub predicted_secs: f64,
}
