//! The validated pipeline: what the runner consumes. Parsing and validation produce these;
//! nothing here refers back to YAML. The types are serde-serializable so that a server can
//! hand a job to an agent, and `--json` output can show them.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// A parsed and validated `.railyard.yml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    /// The file it came from, as given to the parser (used in messages).
    pub path: PathBuf,
    /// The default environment of every job.
    pub env: Option<EnvSpec>,
    /// Variables set in every job (a job's own `variables` override them).
    pub variables: IndexMap<String, String>,
    /// Names of secrets: environment variables of Railyard's own process, read when the run
    /// starts, given to every job and masked in every log line; never given to image builds.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// The jobs in file order, keyed by [`Job::name`]. A job with a `matrix` is here once
    /// per combination (its expansions, in matrix order, where the job is in the file).
    pub jobs: IndexMap<String, Job>,
}

/// A job's environment: where its image comes from, and what its scan must satisfy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvSpec {
    /// Build a Dockerfile or use a ready image.
    pub source: EnvSource,
    /// `env.scan`: checks on the image's inventory before any job starts.
    pub scan: Option<ScanPolicy>,
}

/// `env.scan` of the pipeline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanPolicy {
    /// Fail the run before any job starts when a vulnerability of this severity or worse
    /// (`low`, `medium`, `high`, `critical`) affects the image.
    pub fail_on: Option<String>,
}

/// Where a job's environment image comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EnvSource {
    /// Build the project's Dockerfile.
    Build(BuildSpec),
    /// Use a ready image, pulled when missing locally.
    Image(String),
}

/// How to build the env image. Paths are relative to the repository root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildSpec {
    /// The Dockerfile, e.g. `ci/Dockerfile`.
    pub dockerfile: PathBuf,
    /// The build context; defaults to the Dockerfile's folder.
    pub context: PathBuf,
    /// Build args (`--build-arg`), sorted so the cache key is stable.
    pub args: BTreeMap<String, String>,
    /// The stage to build (`--target`).
    pub target: Option<String>,
}

/// One job of the pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Its key under `jobs:`; for an expansion of a `matrix`, that key and the combination:
    /// `test (python=3.11, os=bookworm)`.
    pub name: String,
    /// The steps, each one shell command (possibly several lines) run with `sh -ec` in the
    /// workspace, before the tests when [`Job::tests`] is set. No step empty; empty only
    /// when [`Job::tests`] is set.
    pub script: Vec<String>,
    /// Jobs that must succeed before this one starts, by [`Job::name`]: a `needs` naming a
    /// matrix job is already replaced here by all its expansions.
    pub needs: Vec<String>,
    /// Overrides the pipeline's `env`.
    pub env: Option<EnvSpec>,
    /// The job's own variables (merged over the pipeline's by [`Pipeline::job_variables`]).
    pub variables: IndexMap<String, String>,
    /// Sidecar containers reachable by their name.
    pub services: IndexMap<String, Service>,
    /// The longest the job may run; `None` means the runner's default.
    pub timeout: Option<Duration>,
    /// A failure of this job does not fail the run, and its dependents still run.
    pub allow_failure: bool,
    /// The runs the job runs on (`when:`); `None` runs it on every run. A job whose rule
    /// does not match ends skipped, with [`crate::When::check`]'s reason, and so do the jobs
    /// that need it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<crate::When>,
    /// The job waits for a person's approval once its needs let it run (`manual: true`):
    /// `railyard approve` on a server, `railyard run --approve JOB` locally. Jobs that need
    /// it wait with it.
    #[serde(default)]
    pub manual: bool,
    /// Paths (relative to the workspace) copied out after the steps, and handed to the
    /// jobs that need this one at the same paths of their workspace.
    pub artifacts: Vec<String>,
    /// When [`Job::artifacts`] are kept: after success (default), failure, or always.
    #[serde(default)]
    pub artifacts_when: ArtifactsWhen,
    /// Jobs of [`Job::needs`] whose artifacts this job does not take (`needs: [{ job: build,
    /// artifacts: false }]`); every other need hands over its artifacts.
    #[serde(default)]
    pub needs_without_artifacts: Vec<String>,
    /// Named dependency caches mounted at paths of the workspace and kept between runs
    /// (`cache`), in file order, names unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caches: Vec<Cache>,
    /// An image the job builds from its workspace after its steps (`image_build`).
    #[serde(default)]
    pub image_build: Option<ImageBuild>,
    /// A named lock: jobs with the same group never run at once, across runs and projects
    /// of one server (`concurrency`).
    #[serde(default)]
    pub concurrency: Option<Concurrency>,
    /// The environment the job deploys to (`environment: production`): its runs are
    /// recorded as deployments of that environment.
    #[serde(default)]
    pub environment: Option<String>,
    /// CPU and memory limits of the job and its services.
    pub resources: Resources,
    /// The key under `jobs:` this job comes from; equals [`Job::name`] unless the job is
    /// an expansion of a `matrix`.
    pub base_name: String,
    /// The matrix combination of this expansion, in the file's key order, values as
    /// written (also added to [`Job::variables`]); empty for a job without `matrix`.
    #[serde(default)]
    pub matrix: IndexMap<String, String>,
    /// How many shards of the job run, each in its own job container with its own
    /// services: 1 to [`crate::MAX_PARALLEL`], default 1.
    #[serde(default = "one")]
    pub parallel: u32,
    /// The tests split across the shards, when the job has a `tests` block.
    #[serde(default)]
    pub tests: Option<TestsSpec>,
    /// How many times failing test ids are rerun (0 to [`crate::MAX_RETRY_FAILED`]); only
    /// with [`Job::tests`]. A test that passes on a rerun is flaky: the job passes with a
    /// warning.
    #[serde(default)]
    pub retry_failed: u32,
    /// Labels an agent must all have to take this job (`runs_on`); empty: any agent. A
    /// local `railyard run` ignores them.
    #[serde(default)]
    pub runs_on: Vec<String>,
}

/// When a job's artifacts are kept (`artifacts: { when: … }`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactsWhen {
    /// Only when the job succeeds (default).
    #[default]
    OnSuccess,
    /// Only when it fails (a failing test job's reports).
    OnFailure,
    /// Whatever its result.
    Always,
}

impl ArtifactsWhen {
    /// Whether artifacts are kept for a job that `passed` (or not).
    pub fn keeps(self, passed: bool) -> bool {
        match self {
            ArtifactsWhen::OnSuccess => passed,
            ArtifactsWhen::OnFailure => !passed,
            ArtifactsWhen::Always => true,
        }
    }
}

/// `image_build` of a job: an image built on the engine from the job's workspace after its
/// steps (never by the job itself: it has no Docker socket), then scanned and pushed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageBuild {
    /// Dockerfile, context, args and target, relative to the workspace, with the same
    /// context and symlink rules as env images.
    pub build: BuildSpec,
    /// Tags given to the image, `{commit}`, `{short_commit}`, `{run}` and `{ref}` expanded
    /// (a tag without a repository part is under the project's name in the registry).
    pub tags: Vec<String>,
    /// Push the tags to the configured registry after the scan passes.
    pub push: bool,
    /// Checks on the image's inventory before it is pushed.
    pub scan: Option<ScanPolicy>,
}

/// One cache of a job's `cache` list: folders of the workspace kept between runs by key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cache {
    /// Its name, unique in the job (`pip`): lower-case letters, digits, `.`, `_`, `-`.
    pub name: String,
    /// What the cache is kept by.
    pub key: CacheKey,
    /// The folders it holds, relative to the workspace, plain (no `.` or `..` parts), none
    /// inside another: each is mounted on its own.
    pub paths: Vec<String>,
}

/// What a cache is kept by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheKey {
    /// `key: pip-v1`: the same cache on every run, until the text changes.
    Literal(String),
    /// `key: { files, prefix }`: the prefix, then a hash of these repository files'
    /// contents, read when the job runs. A new key starts from the newest cache with the
    /// same prefix.
    Files {
        /// Paths relative to the repository root.
        files: Vec<String>,
        /// Put before the hash; may be empty.
        prefix: String,
    },
}

/// `concurrency` of a job: the named lock it takes while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Concurrency {
    /// The lock's name (`production`); one server-wide namespace.
    pub group: String,
    /// A newer job waiting for the lock drops an older one that still waits, instead of
    /// queueing behind it.
    pub cancel_pending: bool,
}

impl Job {
    /// Whether the job keeps anything for the jobs that need it: its `artifacts`, or (a job
    /// with `tests`) the merged JUnit report of its tests.
    pub fn hands_over(&self) -> bool {
        !self.artifacts.is_empty() || self.tests.is_some()
    }

    /// Whether this job takes the artifacts of `need` (one of its [`Job::needs`]).
    pub fn takes_artifacts_from(&self, need: &str) -> bool {
        self.needs.iter().any(|n| n == need)
            && !self.needs_without_artifacts.iter().any(|n| n == need)
    }
}

/// A job serialized before sharding existed runs once.
fn one() -> u32 {
    1
}

/// A job's `tests` block: how to list the tests, run a batch of them, and read their
/// results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestsSpec {
    /// Where the test ids come from.
    pub list: TestList,
    /// The command that runs one batch, with `sh -ec`. `{tests}` in it stands for the
    /// batch's ids, each shell-quoted, separated by spaces; the same ids are in the file
    /// `$RAILYARD_TESTS_FILE`, one a line. It uses at least one of the two.
    pub run: String,
    /// The JUnit XML reports `run` writes: paths or globs relative to the workspace.
    /// Never empty.
    pub junit: Vec<String>,
    /// Split before the shards start, or through a shared queue.
    #[serde(default)]
    pub mode: SplitMode,
    /// How a listed id maps to a JUnit test case: a tool name (`nextest`, `pytest`,
    /// `jest`, `surefire`, `go`, as written) or a template of `{name}`, `{classname}`,
    /// `{file}`, `{suite}` such as `{classname}::{name}`. `None`: detected from the
    /// reports (`format: auto`).
    #[serde(default)]
    pub id_format: Option<String>,
}

/// Where a job's test ids come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TestList {
    /// `list: CMD`: a command run once in the env, printing one test id a line.
    Command(String),
    /// `files: GLOB`: the files of the repository matching a glob (relative to its root,
    /// `**` across folders); each path is one test id.
    Files(String),
}

/// How the tests of a job are shared among its shards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SplitMode {
    /// `static` (default): split once, longest tests first by their measured times.
    #[default]
    Static,
    /// `queue`: shards pull batches from one shared queue until it is empty.
    Queue,
}

/// A service (sidecar) container of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// Its name: the network alias the job reaches it by.
    pub name: String,
    /// The image to run.
    pub image: String,
    /// Environment of the service container.
    pub variables: IndexMap<String, String>,
    /// Overrides the image's command. Written as one string in the file, it is stored here
    /// as `["sh", "-c", string]`; written as a list, as that list.
    pub command: Option<Vec<String>>,
    /// A command run inside the service until it exits 0.
    pub ready: Option<String>,
    /// How long to wait for `ready`; default 60 s ([`crate::DEFAULT_READY_TIMEOUT`]).
    pub ready_timeout: Duration,
}

/// Resource limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// CPUs, fractional allowed (`1.5`).
    pub cpus: Option<f64>,
    /// Memory in bytes (written `512m`, `4g`); at least [`crate::MIN_MEMORY`].
    pub memory: Option<u64>,
}

impl Pipeline {
    /// The variables a job sees: the pipeline's, overridden by the job's.
    pub fn job_variables(&self, job: &Job) -> IndexMap<String, String> {
        let mut vars = self.variables.clone();
        for (k, v) in &job.variables {
            vars.insert(k.clone(), v.clone());
        }
        vars
    }

    /// The key path of `key` in the `env` a job uses, for [`crate::problem_at`]:
    /// `["jobs", job, "env", key]` when the job has its own `env`, else `["env", key]`.
    pub fn env_key_path(&self, job: &Job, key: &str) -> Vec<String> {
        match job.env {
            Some(_) => vec![
                "jobs".into(),
                job.base_name.clone(),
                "env".into(),
                key.into(),
            ],
            None => vec!["env".into(), key.into()],
        }
    }

    /// The environment a job runs in: its own, else the pipeline's.
    pub fn job_env<'a>(&'a self, job: &'a Job) -> Option<&'a EnvSpec> {
        job.env.as_ref().or(self.env.as_ref())
    }
}
