//! What can stop a run or a job before or outside its steps.

use railyard_docker::DockerError;
use std::path::PathBuf;

/// Why an [`crate::EnvCheck`] lets no job of the run start.
#[derive(Debug, thiserror::Error)]
pub enum EnvCheckError {
    /// The image was checked and may not be used (known vulnerabilities at or above the
    /// pipeline's limit, say): the message says which and what to do.
    #[error("{0}")]
    Refused(String),
    /// A setting of the check is invalid.
    #[error("{setting}")]
    Invalid {
        /// The setting as written, e.g. "`env.scan.fail_on: severe`".
        setting: String,
        /// What is wrong with it.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The check could not be made.
    #[error("{doing} failed")]
    Failed {
        /// What failed, e.g. "scanning the env image".
        doing: &'static str,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Errors of the runner. A failing step is not an error: it is a job status.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The Docker engine refused or failed a call.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// A job's network could not be made (its address pool is full of other networks).
    #[error("{0}")]
    Network(String),
    /// `env.dockerfile` does not exist.
    #[error("Dockerfile {path} not found: check `env.dockerfile` in the pipeline file")]
    MissingDockerfile {
        /// Where it was looked for.
        path: PathBuf,
        /// The file system's word.
        source: std::io::Error,
    },
    /// A job asks for more than the machine's operator allows.
    #[error(
        "job `{job}` asks for {what} {asked} in `resources`, more than this machine allows ({max}, set by its operator): ask for at most {max}"
    )]
    OverAllowance {
        /// The job.
        job: String,
        /// `memory` or `cpus`.
        what: String,
        /// What it asks.
        asked: String,
        /// The most allowed.
        max: String,
    },
    /// `env.dockerfile` or `env.context` leads out of the repository through a link.
    #[error(
        "`{key}: {}` resolves to {}, outside the repository: a build may only read the repository's own files (a link to elsewhere is not followed); point `{key}` inside it",
        path.display(),
        resolved.display()
    )]
    OutsideRepository {
        /// `env.dockerfile` or `env.context`.
        key: &'static str,
        /// As the pipeline gives it.
        path: PathBuf,
        /// Where it leads.
        resolved: PathBuf,
    },
    /// `env.context` is not a folder.
    #[error("build context {path} is not a folder: check `env.context` in the pipeline file")]
    MissingContext {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The env image failed to build.
    #[error("building {}{} failed", dockerfile.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Build {
        /// The Dockerfile, relative to the repository.
        dockerfile: PathBuf,
        /// The line of the failing instruction, when found.
        line: Option<usize>,
        /// The builder's error, with the failing step and its output.
        source: DockerError,
    },
    /// A job names no env and the pipeline has none.
    #[error("job `{job}` has no `env`: set `env` at the top of the pipeline file or in the job")]
    NoEnv {
        /// The job.
        job: String,
    },
    /// A service's `ready` command never succeeded.
    #[error(
        "service `{service}` of job `{job}` was not ready after {seconds}s (`ready: {probe}` never exited 0); its last log lines:\n{logs}"
    )]
    ServiceNotReady {
        /// The job.
        job: String,
        /// The service.
        service: String,
        /// The probe command.
        probe: String,
        /// How long we waited.
        seconds: u64,
        /// The tail of the service's log, indented.
        logs: String,
    },
    /// A service container exited before it became ready.
    #[error(
        "service `{service}` of job `{job}` exited before it was ready; its last log lines:\n{logs}"
    )]
    ServiceExited {
        /// The job.
        job: String,
        /// The service.
        service: String,
        /// The tail of the service's log, indented.
        logs: String,
    },
    /// A job's tests could not be listed: nothing was split, no shard started.
    #[error("listing the tests of job `{job}` failed, so no shard was started: {reason}")]
    TestList {
        /// The job.
        job: String,
        /// What went wrong, with the command's output when it ran.
        reason: String,
    },
    /// A job's `image_build` was refused or failed.
    #[error(transparent)]
    ImageBuild(#[from] Box<crate::image_build::ImageBuildError>),
    /// A file that makes a cache's key cannot be read.
    #[error(
        "cache `{cache}` of job `{job}`: its key file `{file}` cannot be read ({reason}); commit it, or change `key: {{ files }}`"
    )]
    CacheKeyFile {
        /// The job.
        job: String,
        /// The cache.
        cache: String,
        /// The file, relative to the repository root.
        file: String,
        /// Why.
        reason: String,
    },
    /// Reading or writing local files failed.
    #[error("{doing}")]
    Io {
        /// What we were doing.
        doing: String,
        /// The file system's word.
        source: std::io::Error,
    },
    /// A job's artifacts pass a bound of the operator's allowance: nothing of that path is
    /// kept.
    #[error(
        "artifact `{path}` of job `{job}` is too large: its entry {entry} passes the bound of {limit} a job's artifacts may hold on this machine (set by its operator); keep fewer or smaller files, or compress them"
    )]
    ArtifactTooLarge {
        /// The job.
        job: String,
        /// The artifact path.
        path: String,
        /// The first entry past the bound.
        entry: String,
        /// The bound, e.g. "1.0 GiB in all".
        limit: String,
    },
    /// The artifacts a job's needs hand over pass a bound of the operator's allowance.
    #[error(
        "the artifacts handed to job `{job}` pass the bound of {limit} on this machine (set by its operator), at {path} of `{need}`: keep fewer or smaller artifacts, or opt out with `needs: [{{ job: …, artifacts: false }}]`"
    )]
    HandOverTooLarge {
        /// The job.
        job: String,
        /// The need (or shard) whose file passed the bound.
        need: String,
        /// The file's path.
        path: String,
        /// The bound, e.g. "1.0 GiB in all".
        limit: String,
    },
    /// Two shards of a need hold the same path: which one to hand over is not known.
    #[error(
        "artifacts of `{first}` and `{second}` both hold {path}: write each shard's files under a name of its own, e.g. {}$RAILYARD_SHARD/",
        path.rsplit_once('/').map(|(dir, _)| format!("{dir}/")).unwrap_or_default()
    )]
    ArtifactCollision {
        /// The shard found first.
        first: String,
        /// The other shard.
        second: String,
        /// The path both hold.
        path: String,
    },
    /// Two needs hold the same path, one as a folder and the other as a file: the later
    /// cannot take the earlier's place.
    #[error(
        "artifacts of `{first}` and `{second}` both hold {path}, one as a folder and the other as a file: rename one, or take only one with `needs: [{{ job: …, artifacts: false }}]`"
    )]
    ArtifactKinds {
        /// The need found first.
        first: String,
        /// The other need.
        second: String,
        /// The path both hold.
        path: String,
    },
    /// A need's artifacts folder holds a path that is not plain and relative.
    #[error("the artifacts of `{need}` hold `{path}`, which cannot be handed over: {why}")]
    UnsafeHandOver {
        /// The need.
        need: String,
        /// The path as read.
        path: String,
        /// Why it is refused.
        why: String,
    },
    /// An artifact archive tried to write outside the artifacts folder.
    #[error("artifact `{path}` of job `{job}` holds an entry that escapes its folder: {entry}")]
    UnsafeArtifact {
        /// The job.
        job: String,
        /// The artifact path.
        path: String,
        /// The offending tar entry.
        entry: String,
    },
}
