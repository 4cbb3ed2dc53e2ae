//! Dependency caches' trust scopes. A run writes only its own scope; runs of protected refs
//! (the project's `protected_refs`, by default its `main` branch) write the `shared` scope,
//! which every run of the project reads. Other runs read the shared scope (as a copy) and
//! write `branch:NAME`, `tag:NAME`, `pr:N` or `commit`, so a pull request can never change
//! what `main`'s runs restore. The server decides the scope from the run it stored, never
//! from what an agent says.

use crate::context::{RunContext, RunEvent};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The refs protected when a project names none: its `main` branch.
pub const DEFAULT_PROTECTED_REFS: &[&str] = &["main"];

/// Where a run's caches are written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(into = "String", try_from = "String")]
pub enum CacheScope {
    /// Runs of protected refs (and local runs, on a machine of one person).
    Shared,
    /// Pushes to (or triggers of) a branch that is not protected.
    Branch(String),
    /// A tag that is not protected.
    Tag(String),
    /// A pull request's runs, whatever its branch is called.
    PullRequest(u64),
    /// A run of a commit without a ref.
    Commit,
}

impl CacheScope {
    /// The scope of a run of `git_ref` (with `context`, when the server knows it) for a
    /// project protecting `protected` (ref patterns as `ref_allowed` reads them; empty:
    /// [`DEFAULT_PROTECTED_REFS`]). A pull request's run is never shared: its code is whoever
    /// opened it, whatever its branch is named.
    pub fn of_run(
        protected: &[String],
        git_ref: Option<&str>,
        context: Option<&RunContext>,
    ) -> CacheScope {
        if let Some(pr) = context.and_then(|c| {
            (c.event == RunEvent::PullRequest).then_some(c.pull_request.as_ref().map(|p| p.number))
        }) {
            return CacheScope::PullRequest(pr.unwrap_or(0));
        }
        let defaults: Vec<String>;
        let patterns = if protected.is_empty() {
            defaults = DEFAULT_PROTECTED_REFS
                .iter()
                .map(|s| s.to_string())
                .collect();
            &defaults
        } else {
            protected
        };
        let Some(full) = git_ref else {
            return CacheScope::Commit;
        };
        if crate::secrets::ref_allowed(patterns, Some(full)) {
            return CacheScope::Shared;
        }
        if let Some(branch) = full.strip_prefix("refs/heads/") {
            CacheScope::Branch(branch.to_owned())
        } else if let Some(tag) = full.strip_prefix("refs/tags/") {
            CacheScope::Tag(tag.to_owned())
        } else {
            CacheScope::Branch(full.to_owned())
        }
    }

    /// Whether this is the shared scope.
    pub fn is_shared(&self) -> bool {
        matches!(self, CacheScope::Shared)
    }

    /// Reads the text [`fmt::Display`] writes.
    pub fn parse(text: &str) -> Option<CacheScope> {
        Some(match text.split_once(':') {
            None if text == "shared" => CacheScope::Shared,
            None if text == "commit" => CacheScope::Commit,
            Some(("branch", b)) if !b.is_empty() => CacheScope::Branch(b.to_owned()),
            Some(("tag", t)) if !t.is_empty() => CacheScope::Tag(t.to_owned()),
            Some(("pr", n)) => CacheScope::PullRequest(n.parse().ok()?),
            _ => return None,
        })
    }
}

impl fmt::Display for CacheScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheScope::Shared => f.write_str("shared"),
            CacheScope::Branch(b) => write!(f, "branch:{b}"),
            CacheScope::Tag(t) => write!(f, "tag:{t}"),
            CacheScope::PullRequest(n) => write!(f, "pr:{n}"),
            CacheScope::Commit => f.write_str("commit"),
        }
    }
}

impl From<CacheScope> for String {
    fn from(scope: CacheScope) -> String {
        scope.to_string()
    }
}

impl TryFrom<String> for CacheScope {
    type Error = String;
    fn try_from(text: String) -> Result<CacheScope, String> {
        CacheScope::parse(&text).ok_or_else(|| format!("`{text}` is not a cache scope"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::PullRequest;

    fn pr(number: u64, source: &str) -> RunContext {
        let mut c = RunContext::for_ref("abc", Some(format!("refs/heads/{source}")));
        c.event = RunEvent::PullRequest;
        c.pull_request = Some(PullRequest {
            number,
            source_branch: source.into(),
            target_branch: "main".into(),
            from_fork: true,
        });
        c
    }

    #[test]
    fn protected_refs_write_the_shared_scope_and_others_their_own() {
        let none: Vec<String> = vec![];
        let main = Some("refs/heads/main");
        assert_eq!(CacheScope::of_run(&none, main, None), CacheScope::Shared);
        assert_eq!(
            CacheScope::of_run(&none, Some("refs/heads/topic"), None),
            CacheScope::Branch("topic".into())
        );
        let release = vec!["release/*".to_string()];
        assert_eq!(
            CacheScope::of_run(&release, main, None),
            CacheScope::Branch("main".into())
        );
        assert_eq!(
            CacheScope::of_run(&release, Some("refs/heads/release/1"), None),
            CacheScope::Shared
        );
        assert_eq!(CacheScope::of_run(&none, None, None), CacheScope::Commit);
    }

    #[test]
    fn a_pull_request_is_never_shared_even_from_a_branch_named_main() {
        let none: Vec<String> = vec![];
        let context = pr(7, "main");
        let scope = CacheScope::of_run(&none, Some("refs/heads/main"), Some(&context));
        assert_eq!(scope, CacheScope::PullRequest(7));
    }

    #[test]
    fn scopes_read_back_as_written() {
        for scope in [
            CacheScope::Shared,
            CacheScope::Branch("a/b".into()),
            CacheScope::Tag("v1".into()),
            CacheScope::PullRequest(12),
            CacheScope::Commit,
        ] {
            assert_eq!(CacheScope::parse(&scope.to_string()), Some(scope));
        }
        assert_eq!(CacheScope::parse("branch:"), None);
        assert_eq!(CacheScope::parse("pr:x"), None);
    }
}
