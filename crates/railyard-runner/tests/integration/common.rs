//! Shared helpers: a scratch repository, a run, and the leftovers check.

use railyard_docker::Docker;
use railyard_runner::{Event, RunOptions, RunOutcome, run_pipeline};
use railyard_types::labels;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A scratch git repository with a pipeline file.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn new(pipeline: &str) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo { dir };
        repo.write(".railyard.yml", pipeline);
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .arg("-C")
                .arg(repo.root())
                .args(args)
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "git {args:?} failed");
        };
        git(&["init", "-q"]);
        repo
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn pipeline(&self) -> railyard_pipeline::Pipeline {
        let text = std::fs::read_to_string(self.root().join(".railyard.yml")).unwrap();
        railyard_pipeline::parse(Path::new(".railyard.yml"), &text).expect("test pipeline is valid")
    }
}

/// A finished run and everything it reported.
pub struct Ran {
    pub outcome: RunOutcome,
    pub events: Vec<Event>,
    pub artifacts: PathBuf,
    _artifacts_dir: tempfile::TempDir,
}

impl Ran {
    /// Lines of output a job printed.
    pub fn output(&self, job: &str) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Output { job: j, line, .. } if j == job => Some(line.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn status(&self, job: &str) -> railyard_types::JobStatus {
        self.outcome.jobs[job].status
    }
}

pub async fn docker() -> Docker {
    Docker::connect()
        .await
        .expect("the Docker engine is reachable")
}

pub fn run_id() -> String {
    format!("test{}", ulid::Ulid::new().to_string().to_ascii_lowercase())
}

/// Runs `jobs` (all when empty) of the repository's pipeline; `cancel_after` cancels the run
/// once that event is seen.
pub async fn run_with(repo: &Repo, jobs: &[&str], cancel_when: Option<fn(&Event) -> bool>) -> Ran {
    run_with_secrets(repo, jobs, cancel_when, vec![]).await
}

/// [`run_with`], with secrets given to the run.
pub async fn run_with_secrets(
    repo: &Repo,
    jobs: &[&str],
    cancel_when: Option<fn(&Event) -> bool>,
    secrets: Vec<(String, String)>,
) -> Ran {
    run_configured(repo, jobs, cancel_when, |opts| opts.secrets = secrets).await
}

/// [`run_with`], with the run's options changed by `configure` first.
pub async fn run_configured(
    repo: &Repo,
    jobs: &[&str],
    cancel_when: Option<fn(&Event) -> bool>,
    configure: impl FnOnce(&mut RunOptions),
) -> Ran {
    let docker = docker().await;
    let pipeline = Arc::new(repo.pipeline());
    let names: Vec<String> = jobs.iter().map(|s| s.to_string()).collect();
    let selected = pipeline.select(&names).unwrap();
    let run_id = run_id();
    let artifacts_dir = tempfile::tempdir().unwrap();
    let mut opts = RunOptions {
        run_id: run_id.clone(),
        owner: railyard_runner::names::owner(),
        project: repo.root().display().to_string(),
        repo_root: repo.root().to_path_buf(),
        jobs: selected,
        rule_skipped: Default::default(),
        max_parallel: 4,
        artifacts_dir: artifacts_dir.path().to_path_buf(),
        timings: Default::default(),
        env_check: None,
        secrets: vec![],
        networks: Default::default(),
        run_variables: vec![],
        allowance: Default::default(),
        registry: None,
        env_lease: None,
        caches: Default::default(),
    };
    configure(&mut opts);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let collector = tokio::spawn({
        let cancel = cancel.clone();
        async move {
            let mut events = Vec::new();
            while let Some(e) = rx.recv().await {
                if cancel_when.is_some_and(|f| f(&e)) {
                    cancel.cancel();
                }
                events.push(e);
            }
            events
        }
    });
    let outcome = run_pipeline(&docker, pipeline, opts, tx, cancel).await;
    let events = collector.await.unwrap();
    assert_nothing_left(&docker, &run_id).await;
    Ran {
        outcome,
        events,

        artifacts: artifacts_dir.path().to_path_buf(),
        _artifacts_dir: artifacts_dir,
    }
}

pub async fn run(repo: &Repo) -> Ran {
    run_with(repo, &[], None).await
}

/// Fails when any container, network or volume of the run is still there.
pub async fn assert_nothing_left(docker: &Docker, run_id: &str) {
    let left = docker
        .list_labelled(&[format!("{}={run_id}", labels::RUN)])
        .await
        .unwrap();
    assert!(
        left.containers.is_empty() && left.networks.is_empty() && left.volumes.is_empty(),
        "run {run_id} left objects behind: {left:?}"
    );
}
