//! Commit statuses back to the forge: where a project's go (its forge settings, checked here
//! so the API and the CLI refuse the same things) and what the operator sees of the outbox.

use serde::{Deserialize, Serialize};

use crate::{Millis, RunId};

/// The forges the server sends commit statuses to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ForgeKind {
    /// GitHub (and GitHub Enterprise): `POST {api}/repos/{owner}/{repo}/statuses/{sha}`.
    Github,
    /// GitLab: `POST {api}/projects/{id}/statuses/{sha}`.
    Gitlab,
    /// Gitea (and Forgejo): `POST {api}/repos/{owner}/{repo}/statuses/{sha}`.
    Gitea,
}

impl ForgeKind {
    /// Its name in settings and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ForgeKind::Github => "github",
            ForgeKind::Gitlab => "gitlab",
            ForgeKind::Gitea => "gitea",
        }
    }

    /// The kind named `name`, if any.
    pub fn parse(name: &str) -> Option<ForgeKind> {
        [ForgeKind::Github, ForgeKind::Gitlab, ForgeKind::Gitea]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// A project's forge settings as the API takes them (`forge` of `PATCH
/// /api/v1/projects/{name}`); its token is the project's `@forge` secret. Plain strings, so
/// that a bad value is refused naming its field rather than by the JSON reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ForgeSettings {
    /// `github`, `gitlab` or `gitea`; `none` removes the project's forge (no statuses sent).
    pub kind: String,
    /// The forge's API base (`https://api.github.com`, `https://gitlab.example.com/api/v4`,
    /// `https://gitea.example.com/api/v1`).
    #[serde(default)]
    pub api_url: String,
    /// The repository: `owner/name` (GitHub, Gitea); on GitLab the numeric project id or the
    /// path (`group/sub/name`, or url-encoded).
    #[serde(default)]
    pub repo: String,
}

/// A forge settings field that is refused: the field (`forge.kind`, ...) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgeProblem {
    /// The field, as named in the API body.
    pub field: &'static str,
    /// What is wrong and what to give instead.
    pub why: String,
}

impl std::fmt::Display for ForgeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.field, self.why)
    }
}

/// Checked forge settings: what the store keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forge {
    /// Which forge.
    pub kind: ForgeKind,
    /// Its API base, without a trailing `/`.
    pub api_url: String,
    /// The repository as given (checked).
    pub repo: String,
}

impl ForgeSettings {
    /// The settings checked: `Ok(None)` for `none` (remove the forge).
    pub fn check(&self) -> Result<Option<Forge>, ForgeProblem> {
        if self.kind == "none" {
            return Ok(None);
        }
        let kind = ForgeKind::parse(&self.kind).ok_or_else(|| ForgeProblem {
            field: "forge.kind",
            why: format!(
                "`{}` is no forge: give `github`, `gitlab` or `gitea` (or `none` to stop sending statuses)",
                self.kind.chars().take(40).collect::<String>()
            ),
        })?;
        let api_url = self.api_url.trim_end_matches('/');
        if let Some(why) = url_problem(api_url) {
            return Err(ForgeProblem {
                field: "forge.api_url",
                why,
            });
        }
        if let Some(why) = repo_problem(kind, &self.repo) {
            return Err(ForgeProblem {
                field: "forge.repo",
                why,
            });
        }
        Ok(Some(Forge {
            kind,
            api_url: api_url.to_owned(),
            repo: self.repo.clone(),
        }))
    }
}

/// Why `url` is no API base URL, if it is not: `http(s)://host[:port][/path]`, without a
/// credential, query, fragment, spaces or `..`.
fn url_problem(url: &str) -> Option<String> {
    let example = "give the forge's API base, e.g. https://api.github.com, \
                   https://gitlab.example.com/api/v4 or https://gitea.example.com/api/v1";
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else {
        return Some(format!("not an http(s) URL: {example}"));
    };
    let host = rest.split('/').next().unwrap_or("");
    if url.len() > 500
        || host.is_empty()
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
        || url.contains(['?', '#', '\\'])
        || rest.split('/').any(|s| s == "..")
    {
        return Some(format!(
            "not a plain URL (no spaces, `?`, `#`, `..`): {example}"
        ));
    }
    if host.contains('@') {
        return Some(
            "the URL carries a credential: give the token as the project's `@forge` secret \
             (`railyard secret set PROJECT @forge`), never in the URL"
                .into(),
        );
    }
    None
}

/// Why `repo` names no repository on `kind`, if it does not.
fn repo_problem(kind: ForgeKind, repo: &str) -> Option<String> {
    let part_ok = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && p.len() <= 100
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match kind {
        ForgeKind::Github | ForgeKind::Gitea => {
            let parts: Vec<&str> = repo.split('/').collect();
            (parts.len() != 2 || !parts.iter().all(|p| part_ok(p))).then(|| {
                "give the repository as `owner/name` (letters, digits, `-`, `_`, `.`; no `..`)"
                    .into()
            })
        }
        ForgeKind::Gitlab => {
            let path = repo.replace("%2F", "/").replace("%2f", "/");
            let numeric = !repo.is_empty() && repo.chars().all(|c| c.is_ascii_digit());
            let parts: Vec<&str> = path.split('/').collect();
            (!numeric && (parts.len() < 2 || !parts.iter().all(|p| part_ok(p)))).then(|| {
                "give the project's numeric id or its path `group/name` (url-encoded or not; \
                 letters, digits, `-`, `_`, `.`; no `..`)"
                    .into()
            })
        }
    }
}

/// One row of a project's commit-status outbox, as the operator sees it (`GET
/// /api/v1/projects/{name}/statuses`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommitStatusRecord {
    /// Its place in the outbox (per context, rows are sent in this order).
    pub id: i64,
    /// The run.
    pub run_id: RunId,
    /// `railyard` or `railyard/<job>`.
    pub context: String,
    /// The commit.
    pub commit: String,
    /// Railyard's status it reports (a job's or the run's).
    pub status: String,
    /// Why (a skip's reason, a job's error), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it was written.
    pub created_at: Millis,
    /// Sends tried.
    pub attempts: i64,
    /// When it was delivered or given up; none while it is still to be sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<Millis>,
    /// `delivered`, `refused` (a 4xx the forge will keep giving) or `expired` (past the
    /// retry horizon); none while still to be sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// The forge's last refusal or the network error, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(kind: &str, api_url: &str, repo: &str) -> ForgeSettings {
        ForgeSettings {
            kind: kind.into(),
            api_url: api_url.into(),
            repo: repo.into(),
        }
    }

    #[test]
    fn good_settings_pass_and_lose_a_trailing_slash() {
        let f = settings("github", "https://api.github.com/", "acme/app")
            .check()
            .unwrap()
            .unwrap();
        assert_eq!(f.api_url, "https://api.github.com");
        for (kind, repo) in [
            ("gitlab", "42"),
            ("gitlab", "g/sub/app"),
            ("gitlab", "g%2Fapp"),
        ] {
            assert!(
                settings(kind, "http://127.0.0.1:9/api/v4", repo)
                    .check()
                    .is_ok(),
                "{repo}"
            );
        }
        assert_eq!(settings("none", "", "").check(), Ok(None));
    }

    #[test]
    fn hostile_settings_name_their_field() {
        for (s, field) in [
            (settings("bitbucket", "https://x", "a/b"), "forge.kind"),
            (settings("github", "ftp://x", "a/b"), "forge.api_url"),
            (
                settings("github", "https://x/a/../b", "a/b"),
                "forge.api_url",
            ),
            (settings("github", "https://u:t@x", "a/b"), "forge.api_url"),
            (settings("github", "https://x y", "a/b"), "forge.api_url"),
            (settings("github", "https://x", "a/../b"), "forge.repo"),
            (settings("github", "https://x", ".."), "forge.repo"),
            (settings("gitea", "https://x", "a b/c"), "forge.repo"),
            (settings("gitlab", "https://x", "g/../x"), "forge.repo"),
            (settings("gitlab", "https://x", "g%2F..%2Fx"), "forge.repo"),
        ] {
            assert_eq!(s.check().unwrap_err().field, field, "{s:?}");
        }
    }
}
