//! How `railyard runs` shows what started a server's run: its event, ref (a branch, a tag,
//! a pull request with its branches) and who started it.

use railyard_store::RunRecord;
use railyard_types::context::RunEvent;

/// The event, the ref and who started it, for the runs table (empty for a run from before
/// events were recorded).
pub(crate) fn cells(r: &RunRecord) -> [String; 3] {
    let event = r.event.map(RunEvent::as_str).unwrap_or_default().to_owned();
    let by = r.started_by.clone().unwrap_or_default();
    [event, what(r), by]
}

/// A branch or tag by its short name, a pull request as `#7 feature → main (fork)`, else the
/// full ref.
pub(crate) fn what(r: &RunRecord) -> String {
    if let Some(pr) = &r.pull_request {
        let fork = if pr.from_fork { " (fork)" } else { "" };
        return format!(
            "#{} {} → {}{fork}",
            pr.number, pr.source_branch, pr.target_branch
        );
    }
    let Some(git_ref) = r.git_ref.as_deref() else {
        return String::new();
    };
    (git_ref.strip_prefix("refs/heads/"))
        .or_else(|| git_ref.strip_prefix("refs/tags/"))
        .unwrap_or(git_ref)
        .to_owned()
}

/// The detail's line about the run's start: `pull_request #7 feature → main (fork),
/// refs/pull/7/head, started by webhook:github`; `None` when nothing was recorded.
pub(crate) fn line(r: &RunRecord) -> Option<String> {
    let event = r.event?;
    let mut parts = vec![format!("{event} {}", what(r)).trim_end().to_owned()];
    if let Some(git_ref) = &r.git_ref {
        parts.push(git_ref.clone());
    }
    if let Some(by) = &r.started_by {
        parts.push(format!("started by {by}"));
    }
    Some(parts.join(", "))
}
