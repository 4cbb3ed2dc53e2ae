//! People and their rights: users, their role per project, personal tokens, signing in, and
//! the audit trail of who changed what. The bodies of the API's people endpoints.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Millis, ProjectName, TokenName, UserName};

/// What a person may do in one project. Each role holds the ones before it: a `developer`
/// may do all a `viewer` may, a `maintainer` all a `developer` may. A server-wide admin may
/// do everything everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "&'static str")]
pub enum ProjectRole {
    /// Reads runs, logs, artifacts and inventory.
    Viewer,
    /// Also triggers, cancels and re-runs.
    Developer,
    /// Also changes the project's settings, secrets, webhooks and people.
    Maintainer,
}

impl ProjectRole {
    /// `viewer`, `developer` or `maintainer`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectRole::Viewer => "viewer",
            ProjectRole::Developer => "developer",
            ProjectRole::Maintainer => "maintainer",
        }
    }
}

impl fmt::Display for ProjectRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProjectRole {
    type Err = String;
    fn from_str(s: &str) -> Result<ProjectRole, String> {
        match s {
            "viewer" => Ok(ProjectRole::Viewer),
            "developer" => Ok(ProjectRole::Developer),
            "maintainer" => Ok(ProjectRole::Maintainer),
            _ => Err(format!(
                "role `{s}`: a project role is `viewer`, `developer` or `maintainer`"
            )),
        }
    }
}

impl TryFrom<String> for ProjectRole {
    type Error = String;
    fn try_from(s: String) -> Result<ProjectRole, String> {
        s.parse()
    }
}

impl From<ProjectRole> for &'static str {
    fn from(r: ProjectRole) -> &'static str {
        r.as_str()
    }
}

/// `POST /api/v1/users`: a new person.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewUser {
    /// A unique name: letters, digits, `.`, `_`, `-`.
    pub name: UserName,
    /// A server-wide admin.
    #[serde(default)]
    pub admin: bool,
    /// A password to sign in with (`POST /api/v1/login`); kept only as an argon2 hash.
    /// Without one, the user signs in only through tokens an admin makes for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// A person as `GET /api/v1/users` shows them (never the password or its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserInfo {
    /// Their name.
    pub name: UserName,
    /// A server-wide admin.
    pub admin: bool,
    /// Whether they can sign in with a password.
    pub has_password: bool,
    /// When they were added.
    pub created_at: Millis,
    /// When they were removed (their tokens stopped working then).
    pub disabled_at: Option<Millis>,
    /// Their role in each project.
    pub roles: Vec<ProjectMembership>,
}

/// One person's role in one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectMembership {
    /// The project.
    pub project: ProjectName,
    /// The person.
    pub user: UserName,
    /// Their role there.
    pub role: ProjectRole,
    /// Since when.
    pub granted_at: Millis,
}

/// `PUT /api/v1/projects/{name}/members/{user}`: the role to give.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleGrant {
    /// `viewer`, `developer` or `maintainer`.
    pub role: ProjectRole,
}

/// `POST /api/v1/login`: a person's name and password, for a personal token.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    /// Their name.
    pub user: UserName,
    /// Their password.
    pub password: String,
    /// What the token is narrowed to.
    #[serde(flatten)]
    pub scope: TokenScope,
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("user", &self.user)
            .field("password", &"***")
            .field("scope", &self.scope)
            .finish()
    }
}

/// What a personal token is narrowed to, beyond its owner's rights.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenScope {
    /// Only this project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<ProjectName>,
    /// Only reading (a `viewer`'s rights at most).
    #[serde(default)]
    pub read_only: bool,
}

/// `POST /api/v1/me/tokens`: a personal token of the caller.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewPersonalToken {
    /// A unique name: letters, digits, `.`, `_`, `-`.
    pub name: TokenName,
    /// What it is narrowed to.
    #[serde(flatten)]
    pub scope: TokenScope,
    /// Days until it stops working [default: never].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<u32>,
}

/// A personal token, shown once: the answer of signing in and of making one.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonalToken {
    /// Its name.
    pub name: TokenName,
    /// Its owner.
    pub user: UserName,
    /// What it is narrowed to.
    #[serde(flatten)]
    pub scope: TokenScope,
    /// When it stops working, if it does.
    pub expires_at: Option<Millis>,
    /// The token itself.
    pub token: String,
}

/// `GET /api/v1/me`: who the caller's token speaks for and what it may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    /// As the audit names the caller: `user:NAME`, `token:NAME` or `admin`.
    pub actor: String,
    /// The person, for a personal token.
    pub user: Option<UserName>,
    /// Server-wide admin rights.
    pub admin: bool,
    /// What the token is narrowed to.
    #[serde(flatten)]
    pub scope: TokenScope,
    /// The person's roles (an admin's are implied everywhere).
    pub roles: Vec<ProjectMembership>,
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// When.
    pub at: Millis,
    /// Who: `user:NAME`, `token:NAME`, `admin` (the bootstrap token) or `webhook:FORGE`.
    pub actor: String,
    /// What: `run.trigger`, `run.cancel`, `role.set`, `token.create`, …
    pub action: String,
    /// In which project, if one.
    pub project: Option<ProjectName>,
    /// On what: a run, a user, a token's or secret's name.
    pub target: Option<String>,
    /// More, in words.
    pub detail: Option<String>,
}

/// The query of `GET /api/v1/audit`: newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditQuery {
    /// Only this project's entries (needed unless the caller is an admin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<ProjectName>,
    /// At most this many [default: 100].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_order_by_what_they_allow_and_read_as_words() {
        assert!(ProjectRole::Viewer < ProjectRole::Developer);
        assert!(ProjectRole::Developer < ProjectRole::Maintainer);
        let r: ProjectRole = serde_json::from_str(r#""developer""#).unwrap();
        assert_eq!(r, ProjectRole::Developer);
        let bad = serde_json::from_str::<ProjectRole>(r#""owner""#).unwrap_err();
        assert!(bad.to_string().contains("role `owner`"), "{bad}");
    }

    #[test]
    fn a_login_request_never_prints_its_password() {
        let login = LoginRequest {
            user: "alice".into(),
            password: "hunter2".into(),
            scope: TokenScope::default(),
        };
        assert!(!format!("{login:?}").contains("hunter2"));
    }
}
