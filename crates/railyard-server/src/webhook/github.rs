//! GitHub's and Gitea's `pull_request` event: the two forges send the same fields (`action`,
//! `number`, `pull_request.head.{sha,ref,repo}`, `pull_request.base.{ref,repo}`) and keep a
//! pull request's head under `refs/pull/N/head`; they differ in how they name a push to it
//! (GitHub `synchronize`, Gitea `synchronized`).

use railyard_types::context::PullRequest;

use super::fields::Fields;
use super::{Asked, Opened};
use crate::error::ApiError;

/// The actions that start a run on GitHub.
pub(super) const GITHUB_ACTIONS: [&str; 3] = ["opened", "synchronize", "reopened"];
/// The actions that start a run on Gitea.
pub(super) const GITEA_ACTIONS: [&str; 3] = ["opened", "synchronized", "reopened"];

/// Reads a `pull_request` body: a run of its head commit for the `actions` that bring new
/// code, else why it starts nothing (closed, labeled, edited, …).
pub(super) fn pull_request(body: &[u8], actions: &[&str]) -> Result<Asked, ApiError> {
    let fields = Fields::parse(body, "pull_request")?;
    let action = fields.str("action")?;
    if !actions.contains(&action) {
        return Ok(Asked::Nothing(format!(
            "pull request action `{}` starts no run (only {} do)",
            action.chars().take(40).collect::<String>(),
            actions.join(", ")
        )));
    }
    let number = fields.number("number")?;
    let head = fields.commit("pull_request.head.sha")?;
    let source_branch = fields.branch("pull_request.head.ref")?;
    let target_branch = fields.branch("pull_request.base.ref")?;
    let base_repo = fields.str("pull_request.base.repo.full_name")?;
    // A fork's repository that was deleted comes as `null`: from a fork all the same.
    let from_fork = match fields.get("pull_request.head.repo") {
        None => true,
        Some(_) => fields.str("pull_request.head.repo.full_name")? != base_repo,
    };
    Ok(Asked::PullRequest(Opened {
        head,
        pr_ref: format!("refs/pull/{number}/head"),
        pull_request: PullRequest {
            number,
            source_branch,
            target_branch,
            from_fork,
        },
    }))
}
