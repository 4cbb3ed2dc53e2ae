//! A project's repository credential for the server's own `git` (the mirror's fetch and the
//! check of a new project): given as an `Authorization` header through `GIT_CONFIG_*`
//! variables of that one process, never in the URL (which logs, errors and the API show),
//! never as an argument (which `ps` shows), never in a file. The credential is set for the
//! task that reaches the repository ([`with`]), and every `git` that task starts carries it
//! (`git::command`), so the mirror's code passes no credential around.

use railyard_types::ProjectName;
use railyard_types::secrets::{REPO_CREDENTIAL, SecretValue, git_auth_env};

use crate::AppState;
use crate::error::ApiError;

/// The environment `git` needs to reach a repository: empty without a credential.
#[derive(Clone, Default)]
pub(crate) struct RepoAuth(Vec<(String, String)>);

impl std::fmt::Debug for RepoAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RepoAuth(***)")
    }
}

impl RepoAuth {
    /// For a credential (`user:password`, or a bare token).
    pub(crate) fn of(credential: &SecretValue) -> RepoAuth {
        RepoAuth(git_auth_env(credential))
    }

    /// The project's `@repo` secret, opened; none when it has none.
    pub(crate) async fn for_project(
        state: &AppState,
        project: &ProjectName,
    ) -> Result<RepoAuth, ApiError> {
        let Some(sealed) = state
            .store()
            .sealed_secret(project, REPO_CREDENTIAL)
            .await?
        else {
            return Ok(RepoAuth::default());
        };
        let keys = state.secret_keys().ok_or_else(|| {
            ApiError::Git(format!(
                "project `{project}` has a repository credential and this server has no \
                 secrets key to open it: start it with --secrets-key-file"
            ))
        })?;
        let value = keys
            .open(&sealed)
            .map_err(|e| ApiError::Git(e.to_string()))?;
        Ok(RepoAuth::of(&value))
    }

    /// Sets the credential's variables on a `git` command.
    pub(crate) fn apply(&self, command: &mut tokio::process::Command) {
        command.envs(self.0.iter().map(|(k, v)| (k, v)));
    }
}

tokio::task_local! {
    static CURRENT: RepoAuth;
}

/// Runs `work` with `auth` given to every `git` it starts.
pub(crate) async fn with<F: std::future::Future>(auth: RepoAuth, work: F) -> F::Output {
    CURRENT.scope(auth, work).await
}

/// Sets the credential of the task's [`with`], if any, on a `git` command.
pub(crate) fn apply_current(command: &mut tokio::process::Command) {
    let _ = CURRENT.try_with(|auth| auth.apply(command));
}
