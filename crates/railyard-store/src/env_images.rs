//! Env images through a registry (migration 0031): per (project, env key) the build lease an
//! agent holds while it builds and pushes, the digest it reported, and when a job last ran on
//! it. The lease is a compare-and-set in one statement with the caller's `now` (the database's
//! clock, [`Store::now`]): whoever finds the row free (no lease, its own, or a lapsed one) and
//! the key not yet built takes it, so of several agents and several servers on one database
//! one builds each key.

use railyard_types::env_images::{EnvImageInfo, EnvLeaseAnswer};
use railyard_types::{Millis, ProjectName};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError};

const COLUMNS: &str = "project, env_key, reference, digest, built_by, built_at, last_used_at, \
                       lease_holder, lease_until";

impl Store {
    /// Gives `holder` the build lease of `key` of `project` until `now + lease_ms` when the
    /// key is not built and no one else holds a live lease (renewing its own); answers what
    /// the caller should do.
    pub async fn env_build_lease(
        &self,
        project: &ProjectName,
        key: &str,
        holder: &str,
        now: Millis,
        lease_ms: i64,
    ) -> Result<EnvLeaseAnswer, StoreError> {
        let err = self.query_error("taking an env image's build lease");
        sqlx::query(
            "INSERT INTO env_images (project, env_key, lease_holder, lease_until) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (project, env_key) DO UPDATE \
             SET lease_holder = excluded.lease_holder, lease_until = excluded.lease_until \
             WHERE env_images.digest IS NULL AND (env_images.lease_holder IS NULL \
             OR env_images.lease_holder = excluded.lease_holder \
             OR env_images.lease_until < $5)",
        )
        .bind(project.as_str())
        .bind(key)
        .bind(holder)
        .bind(now.as_i64() + lease_ms)
        .bind(now.as_i64())
        .execute(self.pool())
        .await
        .map_err(&err)?;
        let row = self
            .env_image(project, key)
            .await?
            .ok_or_else(|| self.not_found(format!("env image {key} of {project}")))?;
        Ok(match (row.digest, row.lease_holder) {
            (Some(digest), _) => EnvLeaseAnswer::Ready { digest },
            (None, Some(h)) if h == holder => EnvLeaseAnswer::Build {
                lease_ms: lease_ms.max(0) as u64,
            },
            (None, h) => EnvLeaseAnswer::Wait {
                holder: h.unwrap_or_default(),
            },
        })
    }

    /// Records that `holder` pushed `key` of `project` as `reference` with `digest`, ending its
    /// lease. Taken only from the lease's holder, or from anyone once the lease lapsed with
    /// nothing recorded; false otherwise (another builder took the lease over: its digest
    /// will be the key's).
    pub async fn env_image_built(
        &self,
        project: &ProjectName,
        key: &str,
        holder: &str,
        (reference, digest): (&str, &str),
        now: Millis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE env_images SET reference = $4, digest = $5, built_by = $3, built_at = $6, \
             last_used_at = $6, lease_holder = NULL, lease_until = NULL \
             WHERE project = $1 AND env_key = $2 AND digest IS NULL \
             AND (lease_holder = $3 OR lease_until IS NULL OR lease_until < $6)",
        )
        .bind(project.as_str())
        .bind(key)
        .bind(holder)
        .bind(reference)
        .bind(digest)
        .bind(now.as_i64())
        .execute(self.pool())
        .await
        .map_err(self.query_error("recording a pushed env image"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Notes that a job ran on `key`'s image of `project` (with `digest`): its `last_used_at`
    /// moves on, and a key built where no lease was asked for (a local run's push, an agent
    /// whose server was away) is known from now on.
    pub async fn env_image_used(
        &self,
        project: &ProjectName,
        key: &str,
        digest: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO env_images (project, env_key, digest, last_used_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (project, env_key) DO UPDATE SET last_used_at = excluded.last_used_at, \
             digest = COALESCE(env_images.digest, excluded.digest)",
        )
        .bind(project.as_str())
        .bind(key)
        .bind(digest)
        .bind(now.as_i64())
        .execute(self.pool())
        .await
        .map_err(self.query_error("noting an env image's use"))?;
        Ok(())
    }

    /// Forgets `key` of `project` if its digest is still `digest` (its manifest was deleted
    /// from the registry); false when unknown or built again since.
    pub async fn remove_env_image(
        &self,
        project: &ProjectName,
        key: &str,
        digest: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM env_images WHERE project = $1 AND env_key = $2 AND digest = $3",
        )
        .bind(project.as_str())
        .bind(key)
        .bind(digest)
        .execute(self.pool())
        .await
        .map_err(self.query_error("forgetting an env image"))?;
        Ok(done.rows_affected() == 1)
    }

    /// One key's row.
    pub async fn env_image(
        &self,
        project: &ProjectName,
        key: &str,
    ) -> Result<Option<EnvImageInfo>, StoreError> {
        let err = self.query_error("reading an env image");
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM env_images WHERE project = $1 AND env_key = $2"
        )))
        .bind(project.as_str())
        .bind(key)
        .fetch_optional(self.pool())
        .await
        .map_err(&err)?;
        row.map(|r| info(&r)).transpose().map_err(&err)
    }

    /// Every key, by project and key; with `unused_since`, only keys whose last use (their
    /// build, if never used) is before it: what garbage collection may delete.
    pub async fn env_images(
        &self,
        unused_since: Option<Millis>,
    ) -> Result<Vec<EnvImageInfo>, StoreError> {
        let err = self.query_error("listing env images");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM env_images \
             WHERE COALESCE(last_used_at, built_at, 0) < $1 \
             ORDER BY project, env_key"
        )))
        .bind(unused_since.map_or(i64::MAX, Millis::as_i64))
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        rows.iter()
            .map(info)
            .collect::<Result<_, _>>()
            .map_err(&err)
    }
}

fn info(row: &AnyRow) -> Result<EnvImageInfo, sqlx::Error> {
    let millis = |col: &str| -> Result<Option<Millis>, sqlx::Error> {
        Ok(row.try_get::<Option<i64>, _>(col)?.map(Millis))
    };
    Ok(EnvImageInfo {
        project: ProjectName::from(row.try_get::<String, _>("project")?),
        key: row.try_get("env_key")?,
        reference: row.try_get("reference")?,
        digest: row.try_get("digest")?,
        built_by: row.try_get("built_by")?,
        built_at: millis("built_at")?,
        last_used_at: millis("last_used_at")?,
        lease_holder: row.try_get("lease_holder")?,
        lease_until: millis("lease_until")?,
    })
}
