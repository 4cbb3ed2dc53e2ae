//! GitLab's `Merge Request Hook`: `object_attributes` holds the merge request (`iid`,
//! `action`, `last_commit.id`, `source_branch`, `target_branch`, the source and target
//! projects' ids); its head is kept under `refs/merge-requests/N/head`. An `update` starts a
//! run only when it brings new commits (GitLab then sends `oldrev`): a new title or label
//! is an update too.

use railyard_types::context::PullRequest;

use super::fields::Fields;
use super::{Asked, Opened};
use crate::error::ApiError;

/// Reads a `Merge Request Hook` body.
pub(super) fn merge_request(body: &[u8]) -> Result<Asked, ApiError> {
    let fields = Fields::parse(body, "merge request")?;
    let action = fields.str("object_attributes.action")?;
    match action {
        "open" | "reopen" => {}
        "update" if fields.get("object_attributes.oldrev").is_some() => {}
        "update" => {
            return Ok(Asked::Nothing(
                "merge request update without new commits (no `oldrev`) starts no run".into(),
            ));
        }
        other => {
            return Ok(Asked::Nothing(format!(
                "merge request action `{}` starts no run (only open, reopen and an update \
                 with new commits do)",
                other.chars().take(40).collect::<String>()
            )));
        }
    }
    let number = fields.number("object_attributes.iid")?;
    let head = fields.commit("object_attributes.last_commit.id")?;
    let source_branch = fields.branch("object_attributes.source_branch")?;
    let target_branch = fields.branch("object_attributes.target_branch")?;
    let source = fields.present("object_attributes.source_project_id")?;
    let target = fields.present("object_attributes.target_project_id")?;
    Ok(Asked::PullRequest(Opened {
        head,
        pr_ref: format!("refs/merge-requests/{number}/head"),
        pull_request: PullRequest {
            number,
            source_branch,
            target_branch,
            from_fork: source != target,
        },
    }))
}
