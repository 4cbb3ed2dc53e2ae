//! Cron schedules as the API carries them, and the checks of their names and refs that need
//! no cron parser (the server parses the cron expression itself).

use serde::{Deserialize, Serialize};

use crate::{Millis, ProjectName};

/// The most bytes a schedule's name may hold.
pub const MAX_NAME_BYTES: usize = 64;

/// `POST /api/v1/projects/{name}/schedules`: a new schedule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewSchedule {
    /// Its name within the project (letters, digits, `.`, `_`, `-`); default: the ref's
    /// last part (`main`, `v2`).
    #[serde(default)]
    pub name: Option<String>,
    /// A cron expression in UTC: `MIN HOUR DOM MONTH DOW` (`0 3 * * *`), or `@daily` and
    /// friends; a leading seconds field only on a server whose minimum interval is under a
    /// minute.
    pub cron: String,
    /// The branch, tag or ref whose head each fire runs (`main`, `refs/heads/main`).
    #[serde(rename = "ref")]
    pub git_ref: String,
}

/// A schedule as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleInfo {
    /// The store's id of it.
    pub id: String,
    /// Its project.
    pub project: ProjectName,
    /// Its name within the project.
    pub name: String,
    /// The cron expression (UTC).
    pub cron: String,
    /// The ref each fire runs.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// When it fires next (ms since the epoch, UTC).
    pub next_at: Millis,
    /// When it last fired, if ever.
    pub last_fired_at: Option<Millis>,
    /// The run its last fire started, if that start succeeded.
    pub last_run_id: Option<String>,
    /// Why its last fire started no run (the ref gone, the pipeline invalid); `None` when
    /// the last fire started one.
    pub last_error: Option<String>,
    /// Who added it (an audit actor: `user:ann`, `admin`).
    pub created_by: String,
    /// When it was added.
    pub created_at: Millis,
}

/// `GET /api/v1/schedules?project=`: the schedules of one project, or of every project the
/// caller may see.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SchedulesQuery {
    /// Only this project's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<ProjectName>,
}

/// Why `name` cannot name a schedule, if it cannot.
pub fn name_problem(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    (!ok).then(|| {
        format!(
            "name: `{}` is not a schedule name: 1 to {MAX_NAME_BYTES} letters, digits, `.`, `_` \
             or `-`, starting with a letter or digit (e.g. `nightly`)",
            name.escape_debug()
        )
    })
}

/// Why `git_ref` is not a ref name (git's `check-ref-format` rules, a bare name like `main`
/// allowed), if it is not.
pub fn ref_problem(git_ref: &str) -> Option<String> {
    let bad = git_ref.is_empty()
        || git_ref.len() > 255
        || git_ref.starts_with(['-', '/'])
        || git_ref.ends_with(['/', '.'])
        || git_ref.ends_with(".lock")
        || git_ref == "@"
        || git_ref.contains("..")
        || git_ref.contains("//")
        || git_ref.contains("@{")
        || git_ref.split('/').any(|part| part.starts_with('.'))
        || git_ref.chars().any(|c| {
            c.is_control()
                || c.is_whitespace()
                || matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\')
        });
    bad.then(|| {
        format!(
            "ref: `{}` is not a ref name: give a branch or tag (`main`, `release/2.0`, \
             `refs/tags/v1`)",
            git_ref.escape_debug()
        )
    })
}

/// The name a schedule gets when none is given: the ref's last part (`refs/heads/main` →
/// `main`), made a valid name.
pub fn default_name(git_ref: &str) -> String {
    let last = git_ref.rsplit('/').next().unwrap_or(git_ref);
    let name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(MAX_NAME_BYTES)
        .collect();
    if name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name
    } else {
        format!("s{}", &name[..name.len().min(MAX_NAME_BYTES - 1)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_refs() {
        assert!(name_problem("nightly").is_none());
        assert!(name_problem("nightly-2.x_a").is_none());
        for bad in ["", "-x", "a b", "a/b", "ä", &"x".repeat(65)] {
            assert!(name_problem(bad).unwrap().starts_with("name: "), "{bad}");
        }
        for good in [
            "main",
            "refs/heads/main",
            "release/2.0",
            "v1",
            "feature/a-b_c",
        ] {
            assert!(ref_problem(good).is_none(), "{good}");
        }
        for bad in [
            "", "-x", "a..b", "a b", "a:b", "a~1", "x^", "a*", "a/", "/a", "a.lock", "a//b", "@",
            "a@{1}", ".hidden", "a/.b", "a\nb", "x?", "[x",
        ] {
            assert!(ref_problem(bad).unwrap().starts_with("ref: "), "{bad:?}");
        }
        assert_eq!(default_name("refs/heads/main"), "main");
        assert_eq!(default_name("release/2.0"), "2.0");
        assert_eq!(default_name("_x"), "s_x");
        assert!(name_problem(&default_name(&"y".repeat(300))).is_none());
    }
}
