//! Project secrets, sealed: the store keeps what the server's key sealed (`sealed`, hex) and
//! which key that was (`key_id`); it never sees a value. Also the secret names the pipeline at each
//! commit takes, and the stripping of credentials from repository URLs once they moved into a secret.

use railyard_types::secrets::SecretInfo;
use railyard_types::{Millis, ProjectName};
use sqlx::Row;

use crate::{Store, StoreError};

/// One sealed secret as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecret {
    /// The project.
    pub project: ProjectName,
    /// Its name.
    pub name: String,
    /// Which key sealed it.
    pub key_id: String,
    /// Hex of nonce, ciphertext and tag.
    pub sealed: String,
    /// Patterns of the refs whose runs get it; empty: every run.
    pub protected_refs: Vec<String>,
}

fn refs_from(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

fn sealed_from(r: &sqlx::any::AnyRow) -> Result<SealedSecret, sqlx::Error> {
    Ok(SealedSecret {
        project: ProjectName::from(r.try_get::<String, _>("project")?),
        name: r.try_get("name")?,
        key_id: r.try_get("key_id")?,
        sealed: r.try_get("sealed")?,
        protected_refs: refs_from(&r.try_get::<String, _>("protected_refs")?),
    })
}

const SEALED_COLUMNS: &str = "project, name, key_id, sealed, protected_refs";

impl Store {
    /// Sets (or replaces) a sealed secret; its first `created_at` is kept.
    pub async fn set_secret(&self, secret: &SealedSecret, at: Millis) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO project_secrets (project, name, key_id, sealed, protected_refs, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (project, name) DO UPDATE SET key_id = excluded.key_id, \
             sealed = excluded.sealed, protected_refs = excluded.protected_refs, \
             updated_at = excluded.updated_at",
        )
        .bind(secret.project.as_str())
        .bind(&secret.name)
        .bind(&secret.key_id)
        .bind(&secret.sealed)
        .bind(secret.protected_refs.join(","))
        .bind(at.as_i64())
        .execute(self.pool())
        .await
        .map_err(self.query_error("storing a secret"))?;
        Ok(())
    }

    /// The project's secrets by name: never their values.
    pub async fn secret_infos(&self, project: &ProjectName) -> Result<Vec<SecretInfo>, StoreError> {
        let err = self.query_error("listing secrets");
        let rows = sqlx::query(
            "SELECT name, created_at, updated_at, protected_refs FROM project_secrets \
             WHERE project = $1 ORDER BY name",
        )
        .bind(project.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        rows.iter()
            .map(|r| {
                Ok(SecretInfo {
                    name: r.try_get("name")?,
                    created_at: Millis(r.try_get("created_at")?),
                    updated_at: Millis(r.try_get("updated_at")?),
                    protected_refs: refs_from(&r.try_get::<String, _>("protected_refs")?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(&err)
    }

    /// Removes a secret; false when there was none.
    pub async fn remove_secret(
        &self,
        project: &ProjectName,
        name: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM project_secrets WHERE project = $1 AND name = $2")
            .bind(project.as_str())
            .bind(name)
            .execute(self.pool())
            .await
            .map_err(self.query_error("removing a secret"))?;
        Ok(done.rows_affected() == 1)
    }

    /// One sealed secret of a project.
    pub async fn sealed_secret(
        &self,
        project: &ProjectName,
        name: &str,
    ) -> Result<Option<SealedSecret>, StoreError> {
        let err = self.query_error("reading a secret");
        let sql = format!(
            "SELECT {SEALED_COLUMNS} FROM project_secrets WHERE project = $1 AND name = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project.as_str())
            .bind(name)
            .fetch_optional(self.pool())
            .await
            .map_err(&err)?;
        row.as_ref().map(sealed_from).transpose().map_err(&err)
    }

    /// Every sealed secret, for a key check or a rotation at start.
    pub async fn all_sealed_secrets(&self) -> Result<Vec<SealedSecret>, StoreError> {
        let err = self.query_error("reading the secrets");
        let sql = format!("SELECT {SEALED_COLUMNS} FROM project_secrets ORDER BY project, name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await
            .map_err(&err)?;
        rows.iter()
            .map(sealed_from)
            .collect::<Result<_, _>>()
            .map_err(&err)
    }

    /// Replaces a secret's sealing (a rotation) if it still holds `was`: a value set in the
    /// meantime is left as it is.
    pub async fn reseal_secret(&self, new: &SealedSecret, was: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE project_secrets SET key_id = $1, sealed = $2 \
             WHERE project = $3 AND name = $4 AND sealed = $5",
        )
        .bind(&new.key_id)
        .bind(&new.sealed)
        .bind(new.project.as_str())
        .bind(&new.name)
        .bind(was)
        .execute(self.pool())
        .await
        .map_err(self.query_error("sealing a secret again"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Records the secret names the pipeline at `commit` takes (before its run is queued).
    pub async fn set_commit_secrets(
        &self,
        project: &ProjectName,
        commit: &str,
        names: &[String],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO commit_secrets (project, git_commit, names) VALUES ($1, $2, $3) \
             ON CONFLICT (project, git_commit) DO UPDATE SET names = excluded.names",
        )
        .bind(project.as_str())
        .bind(commit)
        .bind(names.join(","))
        .execute(self.pool())
        .await
        .map_err(self.query_error("recording a pipeline's secret names"))?;
        Ok(())
    }

    /// The secret names the pipeline at `commit` takes (see [`Store::set_commit_secrets`]).
    pub async fn commit_secrets(
        &self,
        project: &ProjectName,
        commit: &str,
    ) -> Result<Vec<String>, StoreError> {
        let row =
            sqlx::query("SELECT names FROM commit_secrets WHERE project = $1 AND git_commit = $2")
                .bind(project.as_str())
                .bind(commit)
                .fetch_optional(self.pool())
                .await
                .map_err(self.query_error("reading a pipeline's secret names"))?;
        let names: Option<String> = row
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(self.query_error("reading a pipeline's secret names"))?;
        Ok(names.as_deref().map(refs_from).unwrap_or_default())
    }

    /// Sets a project's repository URL to `url` (its credential moved into a secret), with
    /// every queue row of the project that carried `old`.
    pub async fn replace_repo_url(
        &self,
        project: &ProjectName,
        old: &str,
        url: &str,
    ) -> Result<(), StoreError> {
        let err = self.query_error("changing a repository URL");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        for sql in [
            "UPDATE projects SET repo_url = $1 WHERE name = $2 AND repo_url = $3",
            "UPDATE queue SET repo_url = $1 WHERE project = $2 AND repo_url = $3",
        ] {
            sqlx::query(sql)
                .bind(url)
                .bind(project.as_str())
                .bind(old)
                .execute(&mut *tx)
                .await
                .map_err(&err)?;
        }
        tx.commit().await.map_err(&err)?;
        Ok(())
    }

    /// Queue rows whose repository URL differs from their project's (rows queued before
    /// the project's credential moved out), as (project, url).
    pub async fn queue_repo_urls(&self) -> Result<Vec<(ProjectName, String)>, StoreError> {
        let err = self.query_error("reading the queue's repository URLs");
        let rows = sqlx::query("SELECT DISTINCT project, repo_url FROM queue")
            .fetch_all(self.pool())
            .await
            .map_err(&err)?;
        rows.iter()
            .map(|r| {
                Ok((
                    ProjectName::from(r.try_get::<String, _>(0)?),
                    r.try_get::<String, _>(1)?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(&err)
    }
}
