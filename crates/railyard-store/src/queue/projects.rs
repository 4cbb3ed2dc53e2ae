//! The queue's members: projects (repository, webhook secret) and agents (slots, labels).

use railyard_run_model::LEASED;
use railyard_types::{AgentId, Millis, ProjectName};
use sqlx::Row;

use super::Project;
use crate::records::{RunRecord, run_columns};
use crate::{Store, StoreError};

/// What [`Store::remove_project`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectRemoval {
    /// No project has that name.
    NotFound,
    /// The project has unfinished runs and the removal was not forced: nothing changed.
    Unfinished(Vec<RunRecord>),
    /// Removed with its runs.
    Removed {
        /// The ids of the runs deleted with it.
        runs: Vec<String>,
        /// How many of them had not finished.
        unfinished: usize,
    },
}

impl Store {
    /// Adds a project; false when one of that name exists (nothing changes).
    pub async fn add_project(
        &self,
        name: &ProjectName,
        repo_url: &str,
        at: Millis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO projects (name, repo_url, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name.as_str())
        .bind(repo_url)
        .bind(at.as_i64())
        .execute(self.pool())
        .await
        .map_err(self.query_error("adding a project"))?;
        Ok(done.rows_affected() == 1)
    }

    /// One project by name.
    pub async fn project(&self, name: &ProjectName) -> Result<Option<Project>, StoreError> {
        let row = sqlx::query(
            "SELECT name, repo_url, created_at, weight, max_running, keep_days, keep_runs, \
             quota_bytes, cancel_superseded, protected_refs FROM projects WHERE name = $1",
        )
        .bind(name.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(self.query_error("reading a project"))?;
        let project = row
            .map(|r| project_from_row(&r))
            .transpose()
            .map_err(self.query_error("reading a project"))?;
        match project {
            Some(mut p) => {
                p.pools = self.pools_of(name).await?;
                Ok(Some(p))
            }
            None => Ok(None),
        }
    }

    /// Sets (or with `None` removes) a project's webhook secret; false when no such project.
    pub async fn set_webhook_secret(
        &self,
        name: &ProjectName,
        secret: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE projects SET webhook_secret = $2 WHERE name = $1")
            .bind(name.as_str())
            .bind(secret)
            .execute(self.pool())
            .await
            .map_err(self.query_error("setting a webhook secret"))?;
        Ok(done.rows_affected() == 1)
    }

    /// A project's webhook secret, if it has one.
    pub async fn webhook_secret(&self, name: &ProjectName) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT webhook_secret FROM projects WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(self.query_error("reading a webhook secret"))?;
        match row {
            Some(r) => r
                .try_get(0)
                .map_err(self.query_error("reading a webhook secret")),
            None => Ok(None),
        }
    }

    /// Removes a project and everything stored for it, in one transaction: its runs with
    /// their jobs, steps, queue rows, logs and artifacts, its test timings, run numbers and
    /// queue-wait counts. A project with unfinished runs is left as it is unless `force`;
    /// forced, their queue rows go too, so an agent holding one of their jobs hears
    /// `lease_lost` at its next call and drops the job. Files of runs stored before logs and
    /// artifacts moved into the database are the caller's (the ids come back for that).
    pub async fn remove_project(
        &self,
        name: &ProjectName,
        force: bool,
    ) -> Result<ProjectRemoval, StoreError> {
        let err = self.query_error("removing a project");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        // First, so that two removals (or a removal and a share change) take turns on the row.
        let gone = sqlx::query("DELETE FROM projects WHERE name = $1")
            .bind(name.as_str())
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        if gone.rows_affected() == 0 {
            return Ok(ProjectRemoval::NotFound);
        }
        let rows = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE project = $1 AND finished_at IS NULL ORDER BY number"
        ))
        .bind(name.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(&err)?;
        let unfinished = rows
            .iter()
            .map(|r| self.run_from_row(r))
            .collect::<Result<Vec<_>, _>>()?;
        if !unfinished.is_empty() && !force {
            // Dropping the transaction rolls the project's deletion back.
            return Ok(ProjectRemoval::Unfinished(unfinished));
        }
        let runs = sqlx::query("SELECT id FROM runs WHERE project = $1 ORDER BY number")
            .bind(name.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(&err)?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        // Artifact chunks hang off their upload, not the run: they go first, by the
        // artifacts that point at them. Everything else of a run cascades from its row.
        for sql in [
            "DELETE FROM artifact_chunks WHERE upload_id IN (SELECT a.upload_id FROM artifacts a \
             JOIN runs r ON r.id = a.run_id WHERE r.project = $1)",
            "DELETE FROM runs WHERE project = $1",
            "DELETE FROM test_timings WHERE project = $1",
            "DELETE FROM run_counters WHERE project = $1",
            "DELETE FROM queue_waits WHERE project = $1",
            // Its secrets: a project added again under this name gets none of them.
            "DELETE FROM project_secrets WHERE project = $1",
            "DELETE FROM commit_secrets WHERE project = $1",
            // Its pools: a project added again under this name allows `default` alone.
            "DELETE FROM project_pools WHERE project = $1",
            // A project added again later under this name starts with no one's roles.
            "DELETE FROM project_roles WHERE project = $1",
            // Its schedules: none fires for a project added again under this name.
            "DELETE FROM schedules WHERE project = $1",
        ] {
            sqlx::query(sql)
                .bind(name.as_str())
                .execute(&mut *tx)
                .await
                .map_err(&err)?;
        }
        tx.commit().await.map_err(&err)?;
        Ok(ProjectRemoval::Removed {
            runs,
            unfinished: unfinished.len(),
        })
    }

    /// Every project, by name.
    pub async fn projects(&self) -> Result<Vec<Project>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, repo_url, created_at, weight, max_running, keep_days, keep_runs, \
             quota_bytes, cancel_superseded, protected_refs FROM projects ORDER BY name",
        )
        .fetch_all(self.pool())
        .await
        .map_err(self.query_error("listing projects"))?;
        let mut projects: Vec<Project> = rows
            .iter()
            .map(project_from_row)
            .collect::<Result<_, _>>()
            .map_err(self.query_error("listing projects"))?;
        let mut pools = self.project_pools().await?;
        for p in &mut projects {
            p.pools = pools
                .remove(&p.name)
                .unwrap_or_else(|| vec![super::pools::DEFAULT_POOL.to_owned()]);
        }
        Ok(projects)
    }

    /// Forgets agents not seen since `seen_before` that hold no lease (each start of an agent
    /// registers anew, so the table otherwise keeps every agent that ever ran). One that comes
    /// back is told to register first, and does. Returns how many were forgotten.
    pub async fn forget_agents(&self, seen_before: Millis) -> Result<u64, StoreError> {
        let err = self.query_error("forgetting agents");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM agents WHERE last_seen < $1 AND NOT EXISTS \
             (SELECT 1 FROM queue q WHERE q.agent_id = agents.id AND q.state = '{LEASED}')"
        )))
        .bind(seen_before.as_i64())
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        // The labels of exactly the agents gone (a second look at `last_seen` could differ:
        // an agent seen in between would keep its row and lose its labels).
        sqlx::query(
            "DELETE FROM agent_labels WHERE NOT EXISTS \
             (SELECT 1 FROM agents a WHERE a.id = agent_labels.agent_id)",
        )
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        Ok(done.rows_affected())
    }

    async fn agent_exists(&self, id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM agents WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(self.query_error("noting an agent"))?;
        Ok(row.is_some())
    }

    /// Records an agent of the default pool and its labels (see
    /// [`Store::register_agent_in_pool`]); returns its id.
    pub async fn register_agent(
        &self,
        name: &str,
        slots: i64,
        labels: &[String],
        at: Millis,
    ) -> Result<AgentId, StoreError> {
        self.register_agent_in_pool(name, slots, labels, super::pools::DEFAULT_POOL, at)
            .await
    }

    /// Records an agent, its pool (the registering token's: the server never takes it from
    /// the agent) and its labels (a job's `runs_on` must be among them); returns its id.
    pub async fn register_agent_in_pool(
        &self,
        name: &str,
        slots: i64,
        labels: &[String],
        pool: &str,
        at: Millis,
    ) -> Result<AgentId, StoreError> {
        let id = ulid::Ulid::new().to_string();
        let err = self.query_error("registering an agent");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        sqlx::query(
            "INSERT INTO agents (id, name, slots, registered_at, last_seen, pool) \
             VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind(&id)
        .bind(name)
        .bind(slots)
        .bind(at.as_i64())
        .bind(pool)
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        for label in labels {
            sqlx::query(
                "INSERT INTO agent_labels (agent_id, label) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(&id)
            .bind(label)
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        }
        tx.commit().await.map_err(&err)?;
        Ok(AgentId::from(id))
    }

    /// True when the agent id is registered; notes that it was seen at `at` unless the note
    /// is already less than `every_ms` old. A claim touches its agent at every try, and a
    /// committed write per claim is costly (SQLite's one write lock, PostgreSQL's WAL flush:
    /// see bench/server); the server passes at most a quarter of the lease, so an agent that
    /// keeps asking always counts as live (seen within one lease). Leases themselves never
    /// read `last_seen`: they lapse by their own `lease_until`.
    pub async fn touch_agent(
        &self,
        id: &AgentId,
        at: Millis,
        every_ms: i64,
    ) -> Result<bool, StoreError> {
        let err = self.query_error("noting an agent");
        let row = sqlx::query("SELECT last_seen FROM agents WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(&err)?;
        let Some(row) = row else {
            return Ok(false);
        };
        let seen: i64 = row.try_get(0).map_err(&err)?;
        if at.as_i64() - seen >= every_ms {
            // `last_seen < $2`: of two servers noting one agent, the later time stays.
            let done =
                sqlx::query("UPDATE agents SET last_seen = $2 WHERE id = $1 AND last_seen < $2")
                    .bind(id.as_str())
                    .bind(at.as_i64())
                    .execute(self.pool())
                    .await
                    .map_err(&err)?;
            if done.rows_affected() == 0 {
                // Forgotten in between, or another server noted it later: ask which.
                return self.agent_exists(id).await;
            }
        }
        Ok(true)
    }
}

fn project_from_row(r: &sqlx::any::AnyRow) -> Result<Project, sqlx::Error> {
    Ok(Project {
        name: ProjectName::from(r.try_get::<String, _>("name")?),
        repo_url: r.try_get("repo_url")?,
        created_at: Millis(r.try_get("created_at")?),
        weight: r.try_get("weight")?,
        max_running: r.try_get("max_running")?,
        // Filled from `project_pools` by the callers (see `pools`).
        pools: Vec::new(),
        keep_days: r.try_get("keep_days")?,
        keep_runs: r.try_get("keep_runs")?,
        quota_bytes: r.try_get("quota_bytes")?,
        cancel_superseded: r.try_get::<i64, _>("cancel_superseded")? != 0,
        protected_refs: (r.try_get::<String, _>("protected_refs")?.split(','))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}
