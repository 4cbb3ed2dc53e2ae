//! Where things are: the project's root and pipeline file, and the data folder.

use anyhow::{Context, Result};
use railyard_types::ProjectName;
use railyard_types::context::{PullRequest, RunContext, RunEvent};
use std::path::{Path, PathBuf};

/// The pipeline file's name at a repository's root.
pub const PIPELINE_FILE: &str = ".railyard.yml";

/// A repository with a pipeline file.
#[derive(Debug, Clone)]
pub struct Project {
    /// The folder holding the pipeline file (the repository root).
    pub root: PathBuf,
    /// The pipeline file.
    pub pipeline_file: PathBuf,
}

impl Project {
    /// The project's name in the store: its root's canonical path.
    pub fn key(&self) -> ProjectName {
        ProjectName::from(self.root.display().to_string())
    }

    /// What `git ARGS` prints in the project's root (trimmed), if it is a git work tree and
    /// the command succeeds.
    pub fn git(&self, args: &[&str]) -> Option<String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(&self.root)
            .args(args)
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !text.is_empty()).then_some(text)
    }

    /// What started a local run, from the work tree's git state and what `asked` pretends:
    /// a `push` of the branch checked out, a `tag` when `HEAD` is a tag with no branch
    /// checked out; `--event`, `--branch` and `--pr` override (a pull request merges the
    /// branch checked out into `--branch`, `main` by default). Jobs see it as the
    /// `RAILYARD_*` variables, and `when:` rules are judged against it, as on a fleet.
    pub fn run_context(&self, asked: &crate::cli::ContextArgs) -> RunContext {
        let commit = self.git(&["rev-parse", "HEAD"]).unwrap_or_default();
        let branch_ref = self.git(&["symbolic-ref", "-q", "HEAD"]);
        let tag_ref = match &branch_ref {
            Some(_) => None,
            None => (self.git(&["describe", "--exact-match", "--tags", "HEAD"]))
                .map(|t| format!("refs/tags/{t}")),
        };
        let mut context = RunContext::for_ref(commit, branch_ref.clone().or(tag_ref));
        let event = match (asked.event, asked.pr) {
            (Some(e), _) => e,
            (None, Some(_)) => RunEvent::PullRequest,
            (None, None) => context.event,
        };
        context.event = event;
        if event == RunEvent::PullRequest {
            let source = (branch_ref.as_deref())
                .and_then(|r| r.strip_prefix("refs/heads/"))
                .unwrap_or("HEAD");
            context.pull_request = Some(PullRequest {
                number: asked.pr.unwrap_or(1),
                source_branch: source.to_owned(),
                target_branch: asked.branch.clone().unwrap_or_else(|| "main".into()),
                from_fork: false,
            });
        } else if let Some(branch) = &asked.branch {
            context.git_ref = Some(format!("refs/heads/{branch}"));
        }
        context.started_by = std::env::var("USER").ok().map(|u| format!("local:{u}"));
        context
    }

    /// The `RAILYARD_*` variables of a local run `run` of `context`: no run URL (nothing
    /// serves it), no `RAILYARD_COMMIT` outside a git work tree.
    pub fn run_variables(context: &RunContext, run: &str) -> Vec<(String, String)> {
        (context.variables(run, None).into_iter())
            .filter(|(name, value)| !(name == "RAILYARD_COMMIT" && value.is_empty()))
            .collect()
    }

    /// The pipeline file as users wrote it: relative to the root when inside.
    pub fn display_file(&self) -> PathBuf {
        self.pipeline_file
            .strip_prefix(&self.root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| self.pipeline_file.clone())
    }
}

/// Finds the project: `--file` when given, else the nearest `.railyard.yml` from `dir` up.
pub fn find(dir: Option<&Path>, file: Option<&Path>) -> Result<Project> {
    let start = match dir {
        Some(d) => d.to_path_buf(),
        None => std::env::current_dir().context("reading the current folder")?,
    };
    let start = start
        .canonicalize()
        .with_context(|| format!("folder {} not found", start.display()))?;
    if let Some(file) = file {
        let file = start.join(file);
        let file = file.canonicalize().map_err(|_| {
            crate::cmd::Expected::Input(format!("pipeline file {} not found", file.display()))
        })?;
        let root = file.parent().unwrap_or(Path::new("/")).to_path_buf();
        return Ok(Project {
            root,
            pipeline_file: file,
        });
    }
    let mut here = Some(start.as_path());
    while let Some(dir) = here {
        let candidate = dir.join(PIPELINE_FILE);
        if candidate.is_file() {
            return Ok(Project {
                root: dir.to_path_buf(),
                pipeline_file: candidate,
            });
        }
        here = dir.parent();
    }
    Err(crate::cmd::Expected::Input(format!(
        "no {PIPELINE_FILE} in {} or any parent folder: create one (see docs/pipeline.md) or pass --file",
        start.display()
    ))
    .into())
}

/// The data folder: `--data-dir`/`RAILYARD_HOME`, else `$XDG_DATA_HOME/railyard`, else
/// `~/.local/share/railyard`.
pub fn data_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(d) = explicit {
        return d.to_path_buf();
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("railyard");
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/railyard"),
        None => PathBuf::from(".railyard"),
    }
}

impl Project {
    /// Reads and validates the pipeline file; errors name it as users wrote it.
    pub fn load_pipeline(&self) -> Result<railyard_pipeline::Pipeline> {
        self.load_pipeline_with(&railyard_pipeline::Limits::default())
    }

    /// Like [`Project::load_pipeline`], under `limits` (`railyard run --max-jobs`).
    pub fn load_pipeline_with(
        &self,
        limits: &railyard_pipeline::Limits,
    ) -> Result<railyard_pipeline::Pipeline> {
        let source = std::fs::read_to_string(&self.pipeline_file)
            .with_context(|| format!("reading {}", self.pipeline_file.display()))?;
        Ok(railyard_pipeline::parse_with(
            &self.display_file(),
            &source,
            limits,
        )?)
    }
}
