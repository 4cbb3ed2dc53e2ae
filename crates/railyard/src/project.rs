//! Where things are: the project's root and pipeline file, and the data folder.

use anyhow::{Context, Result};
use railyard_types::ProjectName;
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

    /// What a local run tells its jobs about the work tree: the commit checked out
    /// (`RAILYARD_COMMIT`) and the branch (`RAILYARD_REF`, `refs/heads/…`), each when there is one.
    pub fn run_variables(&self) -> Vec<(String, String)> {
        let mut vars = Vec::new();
        if let Some(commit) = self.git(&["rev-parse", "HEAD"]) {
            vars.push(("RAILYARD_COMMIT".to_string(), commit));
        }
        if let Some(branch) = self.git(&["symbolic-ref", "-q", "HEAD"]) {
            vars.push(("RAILYARD_REF".to_string(), branch));
        }
        vars
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
