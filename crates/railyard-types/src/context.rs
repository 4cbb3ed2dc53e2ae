//! What started a run, and what its jobs are told about it: the event, the ref, the commit,
//! the pull request. The server fills it from a webhook, a trigger or a schedule; a local
//! `railyard run` from the work tree's git state. The pipeline's `when:` rules are judged
//! against it and every job sees it as the `RAILYARD_*` variables ([`RunContext::variables`]).

use serde::{Deserialize, Serialize};
use std::fmt;

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunEvent {
    /// A push to a branch.
    Push,
    /// A tag pushed.
    Tag,
    /// A pull (merge) request opened, updated or reopened.
    PullRequest,
    /// A schedule's time came.
    Schedule,
    /// A person or a script asked for it (`railyard trigger`, the API).
    Trigger,
}

impl RunEvent {
    /// Every event, in the order documented.
    pub const ALL: [RunEvent; 5] = [
        RunEvent::Push,
        RunEvent::Tag,
        RunEvent::PullRequest,
        RunEvent::Schedule,
        RunEvent::Trigger,
    ];

    /// The name used in pipelines, variables and the API (`pull_request`).
    pub fn as_str(self) -> &'static str {
        match self {
            RunEvent::Push => "push",
            RunEvent::Tag => "tag",
            RunEvent::PullRequest => "pull_request",
            RunEvent::Schedule => "schedule",
            RunEvent::Trigger => "trigger",
        }
    }

    /// The event of that name.
    pub fn parse(name: &str) -> Option<RunEvent> {
        RunEvent::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// The event of a run of `git_ref` when nothing more is known: a tag's ref is a tag
    /// event, anything else a push.
    pub fn of_ref(git_ref: Option<&str>) -> RunEvent {
        match git_ref {
            Some(r) if r.starts_with("refs/tags/") => RunEvent::Tag,
            _ => RunEvent::Push,
        }
    }
}

impl fmt::Display for RunEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The pull request a run tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullRequest {
    /// Its number on the forge (GitLab's `iid`).
    pub number: u64,
    /// The branch it merges from.
    pub source_branch: String,
    /// The branch it merges into.
    pub target_branch: String,
    /// Whether its commits come from another repository (a fork): such a run is never given
    /// secrets limited to protected refs, whatever its branch names say.
    #[serde(default)]
    pub from_fork: bool,
}

/// What started a run and for what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunContext {
    /// The event.
    pub event: RunEvent,
    /// The full ref (`refs/heads/main`, `refs/tags/v1`, `refs/pull/7/head`), when known.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// The commit the run checks out.
    pub commit: String,
    /// The pull request, for a `pull_request` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequest>,
    /// Who started it: a user, `webhook:github`, `schedule:NAME`, an admin token's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
}

impl RunContext {
    /// A run of `commit` for `git_ref`, its event read from the ref.
    pub fn for_ref(commit: impl Into<String>, git_ref: Option<String>) -> Self {
        RunContext {
            event: RunEvent::of_ref(git_ref.as_deref()),
            git_ref,
            commit: commit.into(),
            pull_request: None,
            started_by: None,
        }
    }

    /// The branch the run is for: a pull request's target branch (what `when: branch`
    /// matches, as Woodpecker does), else the pushed branch.
    pub fn branch(&self) -> Option<&str> {
        if let Some(pr) = &self.pull_request {
            return Some(&pr.target_branch);
        }
        self.git_ref.as_deref()?.strip_prefix("refs/heads/")
    }

    /// The tag, for a run of a tag.
    pub fn tag(&self) -> Option<&str> {
        self.git_ref.as_deref()?.strip_prefix("refs/tags/")
    }

    /// The `RAILYARD_*` variables every job of the run sees. `run` and `run_url` are the
    /// run's id and its address (on the server; none for a local run). Names with no value
    /// (no tag on a branch's run) are left out, so `${RAILYARD_TAG:-}` tells them apart.
    pub fn variables(&self, run: &str, run_url: Option<&str>) -> Vec<(String, String)> {
        let mut vars = vec![
            ("RAILYARD_EVENT", self.event.as_str().to_owned()),
            ("RAILYARD_COMMIT", self.commit.clone()),
            ("RAILYARD_RUN", run.to_owned()),
        ];
        let mut add = |name, value: Option<&str>| {
            if let Some(v) = value {
                vars.push((name, v.to_owned()));
            }
        };
        add("RAILYARD_REF", self.git_ref.as_deref());
        add("RAILYARD_BRANCH", self.branch());
        add("RAILYARD_TAG", self.tag());
        add("RAILYARD_RUN_URL", run_url);
        if let Some(pr) = &self.pull_request {
            vars.push(("RAILYARD_PR", pr.number.to_string()));
            vars.push(("RAILYARD_PR_SOURCE_BRANCH", pr.source_branch.clone()));
            vars.push(("RAILYARD_PR_TARGET_BRANCH", pr.target_branch.clone()));
            vars.push(("RAILYARD_PR_FROM_FORK", pr.from_fork.to_string()));
        }
        vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(vars: &[(String, String)]) -> Vec<&str> {
        vars.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn a_branch_push_has_no_tag_and_a_tag_no_branch() {
        let push = RunContext::for_ref("abc1234", Some("refs/heads/release/2".into()));
        assert_eq!(push.event, RunEvent::Push);
        assert_eq!(push.branch(), Some("release/2"));
        assert_eq!(push.tag(), None);
        let vars = push.variables("r1", None);
        assert!(names(&vars).contains(&"RAILYARD_BRANCH"));
        assert!(!names(&vars).contains(&"RAILYARD_TAG"));
        assert!(!names(&vars).contains(&"RAILYARD_RUN_URL"));

        let tag = RunContext::for_ref("abc1234", Some("refs/tags/v1.2".into()));
        assert_eq!(tag.event, RunEvent::Tag);
        assert_eq!((tag.branch(), tag.tag()), (None, Some("v1.2")));
    }

    #[test]
    fn a_pull_request_matches_its_target_branch_and_says_so() {
        let mut ctx = RunContext::for_ref("abc1234", Some("refs/pull/7/head".into()));
        ctx.event = RunEvent::PullRequest;
        ctx.pull_request = Some(PullRequest {
            number: 7,
            source_branch: "feature".into(),
            target_branch: "main".into(),
            from_fork: true,
        });
        assert_eq!(ctx.branch(), Some("main"));
        let vars = ctx.variables("r1", Some("https://ci.example/runs/r1"));
        let get = |n: &str| vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("RAILYARD_EVENT"), Some("pull_request"));
        assert_eq!(get("RAILYARD_PR"), Some("7"));
        assert_eq!(get("RAILYARD_PR_SOURCE_BRANCH"), Some("feature"));
        assert_eq!(get("RAILYARD_PR_TARGET_BRANCH"), Some("main"));
        assert_eq!(get("RAILYARD_PR_FROM_FORK"), Some("true"));
        assert_eq!(get("RAILYARD_RUN_URL"), Some("https://ci.example/runs/r1"));
    }

    #[test]
    fn event_names_round_trip() {
        for e in RunEvent::ALL {
            assert_eq!(RunEvent::parse(e.as_str()), Some(e));
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{}\"", e.as_str()));
        }
        assert_eq!(RunEvent::parse("merge_request"), None);
    }
}
