//! The server's view of repositories: a bare mirror per project under the data folder,
//! fetched on each trigger, from which the commit is resolved and the pipeline read with
//! `git show`. The server never checks out a work tree.

use std::path::{Path, PathBuf};

use crate::error::ApiError;

/// Fetches (or first clones) the project's mirror and resolves `git_ref` to a commit.
pub async fn resolve(
    mirrors: &Path,
    project: &str,
    url: &str,
    git_ref: &str,
) -> Result<(PathBuf, String), ApiError> {
    let mirror = mirrors.join(format!("{project}.git"));
    if mirror.join("HEAD").exists() {
        git(
            &mirror,
            &[
                "fetch",
                "--quiet",
                "--prune",
                "--force",
                "origin",
                "+refs/*:refs/*",
            ],
        )
        .await?;
    } else {
        tokio::fs::create_dir_all(mirrors)
            .await
            .map_err(|e| ApiError::Git(format!("creating {}: {e}", mirrors.display())))?;
        let out = tokio::process::Command::new("git")
            .args(["clone", "--quiet", "--mirror", "--", url])
            .arg(&mirror)
            .output()
            .await
            .map_err(|e| ApiError::Git(format!("running git: {e} (is git installed?)")))?;
        if !out.status.success() {
            return Err(ApiError::Git(format!(
                "cannot clone {url}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    let spec = format!("{git_ref}^{{commit}}");
    let commit = git(&mirror, &["rev-parse", "--verify", "--quiet", &spec])
        .await
        .map_err(|_| {
            ApiError::BadRequest(format!("no branch, tag or commit `{git_ref}` in {url}"))
        })?;
    Ok((mirror, String::from_utf8_lossy(&commit).trim().to_string()))
}

/// The pipeline file's text at a commit.
pub async fn pipeline_at(mirror: &Path, commit: &str) -> Result<String, ApiError> {
    let spec = format!("{commit}:{}", railyard_pipeline::FILE_NAME);
    let out = git(mirror, &["show", &spec])
        .await
        .map_err(|_| ApiError::Pipeline {
            commit: commit.into(),
            message: format!("no {} at the repository root", railyard_pipeline::FILE_NAME),
        })?;
    String::from_utf8(out).map_err(|_| ApiError::Pipeline {
        commit: commit.into(),
        message: "the file is not UTF-8".into(),
    })
}

async fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, ApiError> {
    let out = tokio::process::Command::new("git")
        .arg("--git-dir")
        .arg(dir)
        .args(args)
        .output()
        .await
        .map_err(|e| ApiError::Git(format!("running git: {e} (is git installed?)")))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(ApiError::Git(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}
