//! Deployments: a job with an `environment` is recorded when it starts and again when it
//! ends, for local runs (by the run's recorder) and server runs (by the claim and the job's
//! end) alike, so `railyard deployments ENV` answers what was deployed when, by which run.

use railyard_types::records::Deployment;
use railyard_types::{JobStatus, Millis, ProjectName, RunId};
use sqlx::Row;

use crate::{Store, StoreError};

impl Store {
    /// Records that job `job` of run `run_id` started deploying to `environment`: `running`
    /// since `at`, shipping the image its `needs` built (see [`Store::shipped_image`]). A job
    /// started again (a lapsed lease handed on) starts its record again.
    pub async fn deployment_started(
        &self,
        run_id: &RunId,
        job: &str,
        environment: &str,
        needs: &[String],
        at: Millis,
    ) -> Result<(), StoreError> {
        let (image, digest) = self.shipped_image(run_id, needs).await?.unzip();
        sqlx::query(
            "INSERT INTO deployments (run_id, job_name, environment, project, status, \
             started_at, image, image_digest) \
             SELECT id, $2, $3, project, $4, $5, $6, $7 FROM runs WHERE id = $1 \
             ON CONFLICT (run_id, job_name) DO UPDATE SET status = excluded.status, \
             started_at = excluded.started_at, ended_at = NULL, image = excluded.image, \
             image_digest = excluded.image_digest",
        )
        .bind(run_id.as_str())
        .bind(job)
        .bind(environment)
        .bind(JobStatus::Running.as_str())
        .bind(at.as_i64())
        .bind(image)
        .bind(digest.flatten())
        .execute(self.pool())
        .await
        .map_err(self.query_error("recording a deployment's start"))?;
        Ok(())
    }

    /// The image a deploy job ships: the one built (`image_build`) by the last of its `needs`
    /// to end that built one, else the last image built in its run (a need of a need built
    /// it); `None` when the run built none. Its reference and, when pushed, its digest.
    async fn shipped_image(
        &self,
        run_id: &RunId,
        needs: &[String],
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        let err = self.query_error("finding the image a deployment ships");
        let rows = sqlx::query(
            "SELECT name, built_image_ref, built_image_digest FROM jobs \
             WHERE run_id = $1 AND built_image_ref IS NOT NULL \
             ORDER BY COALESCE(finished_at, 0) DESC, name",
        )
        .bind(run_id.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        let mut built = Vec::new();
        for r in &rows {
            let name: String = r.try_get("name").map_err(&err)?;
            let image: String = r.try_get("built_image_ref").map_err(&err)?;
            let digest: Option<String> = r.try_get("built_image_digest").map_err(&err)?;
            built.push((needs.contains(&name), (image, digest)));
        }
        let needed = built.iter().position(|(needed, _)| *needed);
        let pick = needed.or((!built.is_empty()).then_some(0));
        Ok(pick.map(|k| built.swap_remove(k).1))
    }

    /// Records how a deployment ended; nothing when the job recorded none (it never started).
    pub async fn deployment_ended(
        &self,
        run_id: &RunId,
        job: &str,
        status: JobStatus,
        at: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deployments SET status = $3, ended_at = $4 WHERE run_id = $1 AND job_name = $2",
        )
        .bind(run_id.as_str())
        .bind(job)
        .bind(status.as_str())
        .bind(at.as_i64())
        .execute(self.pool())
        .await
        .map_err(self.query_error("recording a deployment's end"))?;
        Ok(())
    }

    /// The deployments to `environment`, newest first, at most `limit`.
    pub async fn deployments(
        &self,
        environment: &str,
        limit: u32,
    ) -> Result<Vec<Deployment>, StoreError> {
        self.deployments_seen(environment, crate::Seen::All, limit)
            .await
    }

    /// [`Store::deployments`] of the projects in `seen` only.
    pub async fn deployments_seen(
        &self,
        environment: &str,
        seen: crate::Seen<'_>,
        limit: u32,
    ) -> Result<Vec<Deployment>, StoreError> {
        let doing = "listing deployments";
        let err = self.query_error(doing);
        let sql = format!(
            "SELECT d.environment, d.project, d.run_id, r.number, d.job_name, d.status, \
             d.started_at, d.ended_at, d.image, d.image_digest \
             FROM deployments d JOIN runs r ON r.id = d.run_id \
             WHERE {} AND d.environment = $2 ORDER BY d.started_at DESC, d.run_id DESC LIMIT $3",
            seen.condition("d.project")
        );
        // Safe: the text is ours; the values are bound.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(seen.value())
            .bind(environment)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .map_err(&err)?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get("status").map_err(&err)?;
                Ok(Deployment {
                    environment: r.try_get("environment").map_err(&err)?,
                    project: ProjectName::from(r.try_get::<String, _>("project").map_err(&err)?),
                    run_id: RunId::from(r.try_get::<String, _>("run_id").map_err(&err)?),
                    run_number: r.try_get("number").map_err(&err)?,
                    job: r.try_get("job_name").map_err(&err)?,
                    status: JobStatus::parse(&status)
                        .ok_or_else(|| self.corrupt("deployment status", status))?,
                    started_at: Millis(r.try_get("started_at").map_err(&err)?),
                    ended_at: r
                        .try_get::<Option<i64>, _>("ended_at")
                        .map_err(&err)?
                        .map(Millis),
                    image: r.try_get("image").map_err(&err)?,
                    image_digest: r.try_get("image_digest").map_err(&err)?,
                })
            })
            .collect()
    }
}
