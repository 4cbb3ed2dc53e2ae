//! The server's queue: projects, agents, and one row per job of a server run.
//!
//! A row is `waiting` until its `needs` are done and let dependents run, then `queued`; an
//! agent's claim makes it `leased` (one `UPDATE … WHERE id = (SELECT … LIMIT 1)` statement,
//! with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so servers sharing a database never hand a
//! job out twice); heartbeats push `lease_until`; the agent's report makes it `done`. A lease
//! that lapses puts the row back to `queued`, or ends it as `agent lost` after
//! `max_attempts`. Every lease check names the attempt, so an agent that comes back after
//! its lease lapsed is refused.
//!
//! Fair share: among queued rows, the one whose project has the fewest leased rows goes
//! first, then the oldest.

use railyard_types::{JobStatus, RunStatus};
use sqlx::Row;

use crate::{Store, StoreError};

pub use railyard_types::protocol::{Claim, Project};

mod claim;

/// One job of a run, as the queue takes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueuedJob {
    /// Its name in the pipeline.
    pub name: String,
    /// The jobs it waits for.
    pub needs: Vec<String>,
    /// Labels an agent must all have to claim it (`runs_on`).
    pub runs_on: Vec<String>,
}

/// A leased job whose lease lapsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lapsed {
    /// The run.
    pub run_id: String,
    /// The job.
    pub job: String,
    /// True when it went back to the queue; false when it ran out of attempts.
    pub requeued: bool,
}

pub(crate) const COLUMNS: &str =
    "id, run_id, job_name, project, repo_url, git_commit, attempt, lease_until";

impl Store {
    /// Adds a project; false when one of that name exists (nothing changes).
    pub async fn add_project(
        &self,
        name: &str,
        repo_url: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO projects (name, repo_url, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(repo_url)
        .bind(at)
        .execute(self.pool())
        .await
        .map_err(self.query_error("adding a project"))?;
        Ok(done.rows_affected() == 1)
    }

    /// One project by name.
    pub async fn project(&self, name: &str) -> Result<Option<Project>, StoreError> {
        let row = sqlx::query(
            "SELECT name, repo_url, created_at, weight, max_running FROM projects WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(self.pool())
        .await
        .map_err(self.query_error("reading a project"))?;
        row.map(|r| project_from_row(&r))
            .transpose()
            .map_err(self.query_error("reading a project"))
    }

    /// Sets (or with `None` removes) a project's webhook secret; false when no such project.
    pub async fn set_webhook_secret(
        &self,
        name: &str,
        secret: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE projects SET webhook_secret = $2 WHERE name = $1")
            .bind(name)
            .bind(secret)
            .execute(self.pool())
            .await
            .map_err(self.query_error("setting a webhook secret"))?;
        Ok(done.rows_affected() == 1)
    }

    /// A project's webhook secret, if it has one.
    pub async fn webhook_secret(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT webhook_secret FROM projects WHERE name = $1")
            .bind(name)
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

    /// Every project, by name.
    pub async fn projects(&self) -> Result<Vec<Project>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, repo_url, created_at, weight, max_running FROM projects ORDER BY name",
        )
        .fetch_all(self.pool())
        .await
        .map_err(self.query_error("listing projects"))?;
        rows.iter()
            .map(project_from_row)
            .collect::<Result<_, _>>()
            .map_err(self.query_error("listing projects"))
    }

    /// Records an agent and its labels (a job's `runs_on` must be among them); returns its id.
    pub async fn register_agent(
        &self,
        name: &str,
        slots: i64,
        labels: &[String],
        at: i64,
    ) -> Result<String, StoreError> {
        let id = ulid::Ulid::new().to_string();
        let err = self.query_error("registering an agent");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        sqlx::query(
            "INSERT INTO agents (id, name, slots, registered_at, last_seen) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(&id)
        .bind(name)
        .bind(slots)
        .bind(at)
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
        Ok(id)
    }

    /// True when the agent id is registered (and notes that it was seen).
    pub async fn touch_agent(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE agents SET last_seen = $2 WHERE id = $1")
            .bind(id)
            .bind(at)
            .execute(self.pool())
            .await
            .map_err(self.query_error("noting an agent"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts a run's jobs in the queue: those without `needs` queued, the others waiting. A
    /// job's `runs_on` labels go in with it, in the same transaction, so no agent lacking
    /// them can claim it in between.
    #[allow(clippy::too_many_arguments)]
    pub async fn enqueue_run(
        &self,
        run_id: &str,
        project: &str,
        repo_url: &str,
        commit: &str,
        jobs: &[QueuedJob],
        max_attempts: i64,
        at: i64,
    ) -> Result<(), StoreError> {
        let err = self.query_error("queueing a run's jobs");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        for job in jobs {
            let id = ulid::Ulid::new().to_string();
            let state = if job.needs.is_empty() {
                "queued"
            } else {
                "waiting"
            };
            sqlx::query(
                "INSERT INTO queue (id, run_id, job_name, project, repo_url, git_commit, needs, \
                 state, attempt, max_attempts, log_seq, queued_at, labelled) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, 0, $10, $11)",
            )
            .bind(&id)
            .bind(run_id)
            .bind(&job.name)
            .bind(project)
            .bind(repo_url)
            .bind(commit)
            .bind(serde_json::to_string(&job.needs).expect("names serialize"))
            .bind(state)
            .bind(max_attempts)
            .bind(at)
            .bind(i64::from(!job.runs_on.is_empty()))
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
            for label in &job.runs_on {
                sqlx::query(
                    "INSERT INTO job_labels (job_id, label) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(&id)
                .bind(label)
                .execute(&mut *tx)
                .await
                .map_err(&err)?;
            }
        }
        tx.commit().await.map_err(&err)
    }

    /// Renews a lease: `None` when the agent no longer holds it (lapsed and handed on),
    /// else whether the job's run was cancelled (the agent should stop it and report).
    pub async fn renew_lease(
        &self,
        job_id: &str,
        agent_id: &str,
        attempt: i64,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<bool>, StoreError> {
        let row = sqlx::query(
            "UPDATE queue SET lease_until = $4 WHERE id = $1 AND agent_id = $2 AND attempt = $3 \
             AND state = 'leased' AND lease_until >= $5 RETURNING cancel_requested",
        )
        .bind(job_id)
        .bind(agent_id)
        .bind(attempt)
        .bind(now + lease_ms)
        .bind(now)
        .fetch_optional(self.pool())
        .await
        .map_err(self.query_error("renewing a lease"))?;
        match row {
            None => Ok(None),
            Some(r) => {
                let cancel: i64 = r.try_get(0).map_err(self.query_error("renewing a lease"))?;
                Ok(Some(cancel != 0))
            }
        }
    }

    /// Cancels a run: jobs not started end `cancelled` now; leased jobs are flagged, so their
    /// agents stop them at the next heartbeat and report. False when no such unfinished run.
    pub async fn cancel_run(&self, run_id: &str, now: i64) -> Result<bool, StoreError> {
        let err = self.query_error("cancelling a run");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        let done =
            sqlx::query("UPDATE runs SET status = status WHERE id = $1 AND finished_at IS NULL")
                .bind(run_id)
                .execute(&mut *tx)
                .await
                .map_err(&err)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE jobs SET status = 'cancelled', finished_at = $2, error = 'cancelled' \
             WHERE run_id = $1 AND name IN (SELECT job_name FROM queue WHERE run_id = $1 \
             AND state IN ('waiting', 'queued'))",
        )
        .bind(run_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        sqlx::query(
            "UPDATE queue SET state = 'done', result = 'cancelled' \
             WHERE run_id = $1 AND state IN ('waiting', 'queued')",
        )
        .bind(run_id)
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        sqlx::query("UPDATE queue SET cancel_requested = 1 WHERE run_id = $1 AND state = 'leased'")
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        Ok(true)
    }

    /// The leased job and its last accepted log chunk, when the agent holds its lease.
    pub async fn leased_job(
        &self,
        job_id: &str,
        agent_id: &str,
        attempt: i64,
    ) -> Result<Option<(Claim, i64)>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS}, log_seq FROM queue WHERE id = $1 AND agent_id = $2 \
             AND attempt = $3 AND state = 'leased'"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job_id)
            .bind(agent_id)
            .bind(attempt)
            .fetch_optional(self.pool())
            .await
            .map_err(self.query_error("reading a leased job"))?;
        match row {
            None => Ok(None),
            Some(r) => {
                let claim = claim_from_row(&r).map_err(self.query_error("reading a leased job"))?;
                let seq: i64 = r
                    .try_get("log_seq")
                    .map_err(self.query_error("reading a leased job"))?;
                Ok(Some((claim, seq)))
            }
        }
    }

    /// Notes that log chunk `seq` of this attempt is stored.
    pub async fn set_log_seq(
        &self,
        job_id: &str,
        attempt: i64,
        seq: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE queue SET log_seq = $3 WHERE id = $1 AND attempt = $2 AND log_seq < $3",
        )
        .bind(job_id)
        .bind(attempt)
        .bind(seq)
        .execute(self.pool())
        .await
        .map_err(self.query_error("noting a log chunk"))?;
        Ok(())
    }

    /// Ends a leased job with the agent's result; false when the agent no longer holds it.
    pub async fn complete_job(
        &self,
        job_id: &str,
        agent_id: &str,
        attempt: i64,
        status: JobStatus,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE queue SET state = 'done', result = $4, lease_until = NULL \
             WHERE id = $1 AND agent_id = $2 AND attempt = $3 AND state = 'leased'",
        )
        .bind(job_id)
        .bind(agent_id)
        .bind(attempt)
        .bind(status.as_str())
        .execute(self.pool())
        .await
        .map_err(self.query_error("completing a job"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts jobs whose lease lapsed before `now` back in the queue, or fails them as
    /// `agent lost` (job record included) once out of attempts.
    pub async fn expire_leases(&self, now: i64) -> Result<Vec<Lapsed>, StoreError> {
        let err = self.query_error("expiring leases");
        let rows = sqlx::query(
            "SELECT id, run_id, job_name, attempt, max_attempts FROM queue \
             WHERE state = 'leased' AND lease_until < $1",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        let mut out = Vec::new();
        for row in rows {
            let id: String = row.try_get("id").map_err(&err)?;
            let run_id: String = row.try_get("run_id").map_err(&err)?;
            let job: String = row.try_get("job_name").map_err(&err)?;
            let attempt: i64 = row.try_get("attempt").map_err(&err)?;
            let max: i64 = row.try_get("max_attempts").map_err(&err)?;
            let requeued = attempt < max;
            let sql = if requeued {
                "UPDATE queue SET state = 'queued', agent_id = NULL, lease_until = NULL \
                 WHERE id = $1 AND attempt = $2 AND state = 'leased' AND lease_until < $3"
            } else {
                "UPDATE queue SET state = 'done', result = 'failed', lease_until = NULL \
                 WHERE id = $1 AND attempt = $2 AND state = 'leased' AND lease_until < $3"
            };
            let done = sqlx::query(sql)
                .bind(&id)
                .bind(attempt)
                .bind(now)
                .execute(self.pool())
                .await
                .map_err(&err)?;
            if done.rows_affected() == 1 {
                if !requeued {
                    let why = format!("agent lost: its lease lapsed on each of {max} attempt(s)");
                    self.job_finished(&run_id, &job, JobStatus::Failed, now, Some(&why))
                        .await?;
                }
                out.push(Lapsed {
                    run_id,
                    job,
                    requeued,
                });
            }
        }
        Ok(out)
    }

    /// Moves a run on after a job ended: queues the waiting jobs whose needs all let
    /// dependents run, skips those with a need that failed, and when every job is done
    /// sets the run's final status (returned).
    pub async fn advance_run(
        &self,
        run_id: &str,
        now: i64,
    ) -> Result<Option<RunStatus>, StoreError> {
        let err = self.query_error("moving a run on");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        // A write first: takes SQLite's write lock (and PostgreSQL's row lock on the run)
        // before reading, so two jobs ending at once are seen one after the other.
        sqlx::query("UPDATE runs SET status = status WHERE id = $1")
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        let rows =
            sqlx::query("SELECT job_name, needs, state, result FROM queue WHERE run_id = $1")
                .bind(run_id)
                .fetch_all(&mut *tx)
                .await
                .map_err(&err)?;
        let mut jobs: Vec<(String, Vec<String>, String, Option<String>)> = Vec::new();
        for r in &rows {
            let needs: String = r.try_get("needs").map_err(&err)?;
            jobs.push((
                r.try_get("job_name").map_err(&err)?,
                serde_json::from_str(&needs).unwrap_or_default(),
                r.try_get("state").map_err(&err)?,
                r.try_get("result").map_err(&err)?,
            ));
        }
        let result_of = |jobs: &[(String, Vec<String>, String, Option<String>)], name: &str| {
            jobs.iter()
                .find(|j| j.0 == name)
                .and_then(|j| (j.2 == "done").then(|| j.3.as_deref().and_then(JobStatus::parse)))
                .flatten()
        };
        let mut changed = true;
        while changed {
            changed = false;
            for i in 0..jobs.len() {
                if jobs[i].2 != "waiting" {
                    continue;
                }
                let results: Vec<Option<JobStatus>> =
                    jobs[i].1.iter().map(|n| result_of(&jobs, n)).collect();
                let failed = jobs[i]
                    .1
                    .iter()
                    .zip(&results)
                    .filter(|(_, r)| r.is_some_and(|s| !s.lets_dependents_run()))
                    .map(|(n, _)| format!("`{n}`"))
                    .collect::<Vec<_>>();
                if !failed.is_empty() {
                    let why = format!("skipped: {} did not succeed", failed.join(", "));
                    sqlx::query(
                        "UPDATE queue SET state = 'done', result = 'skipped' WHERE run_id = $1 AND job_name = $2",
                    )
                    .bind(run_id)
                    .bind(&jobs[i].0)
                    .execute(&mut *tx)
                    .await
                    .map_err(&err)?;
                    sqlx::query(
                        "UPDATE jobs SET status = 'skipped', finished_at = $3, error = $4 \
                         WHERE run_id = $1 AND name = $2",
                    )
                    .bind(run_id)
                    .bind(&jobs[i].0)
                    .bind(now)
                    .bind(&why)
                    .execute(&mut *tx)
                    .await
                    .map_err(&err)?;
                    jobs[i].2 = "done".into();
                    jobs[i].3 = Some("skipped".into());
                    changed = true;
                } else if results
                    .iter()
                    .all(|r| r.is_some_and(|s| s.lets_dependents_run()))
                {
                    sqlx::query(
                        "UPDATE queue SET state = 'queued', queued_at = $3 WHERE run_id = $1 AND job_name = $2",
                    )
                    .bind(run_id)
                    .bind(&jobs[i].0)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(&err)?;
                    jobs[i].2 = "queued".into();
                    changed = true;
                }
            }
        }
        let mut finished = None;
        if !jobs.is_empty() && jobs.iter().all(|j| j.2 == "done") {
            let ok = jobs.iter().all(|j| {
                j.3.as_deref()
                    .and_then(JobStatus::parse)
                    .is_some_and(|s| s.lets_dependents_run())
            });
            let cancelled = jobs.iter().any(|j| j.3.as_deref() == Some("cancelled"));
            let status = if cancelled {
                RunStatus::Cancelled
            } else if ok {
                RunStatus::Success
            } else {
                RunStatus::Failed
            };
            sqlx::query(
                "UPDATE runs SET status = $2, finished_at = $3 WHERE id = $1 AND finished_at IS NULL",
            )
            .bind(run_id)
            .bind(status.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
            finished = Some(status);
        }
        tx.commit().await.map_err(&err)?;
        Ok(finished)
    }
}

impl Store {
    /// Unfinished runs that have jobs in the queue: what a starting server moves on, in case
    /// the last one stopped between recording a job's end and releasing its dependents.
    pub async fn unfinished_queued_runs(&self) -> Result<Vec<String>, StoreError> {
        let err = self.query_error("listing unfinished runs");
        let rows = sqlx::query(
            "SELECT DISTINCT q.run_id FROM queue q JOIN runs r ON r.id = q.run_id \
             WHERE r.finished_at IS NULL ORDER BY q.run_id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        rows.iter().map(|r| r.try_get(0).map_err(&err)).collect()
    }
}

/// What `/metrics` shows: jobs per project and queue state, and agents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// (project, state, jobs) for states `waiting`, `queued` and `leased`.
    pub jobs: Vec<(String, String, i64)>,
    /// Registered agents.
    pub agents: i64,
    /// Agents seen (claim or heartbeat) since the `since` given.
    pub agents_seen: i64,
}

impl Store {
    /// Counts for monitoring; agents seen since `since` (ms since the epoch) count as live.
    pub async fn queue_stats(&self, since: i64) -> Result<QueueStats, StoreError> {
        let err = self.query_error("counting the queue");
        let rows = sqlx::query(
            "SELECT project, state, COUNT(*) AS n FROM queue WHERE state <> 'done' \
             GROUP BY project, state ORDER BY project, state",
        )
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        let mut stats = QueueStats::default();
        for r in rows {
            stats.jobs.push((
                r.try_get("project").map_err(&err)?,
                r.try_get("state").map_err(&err)?,
                r.try_get("n").map_err(&err)?,
            ));
        }
        let row = sqlx::query(
            "SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN last_seen >= $1 THEN 1 ELSE 0 END), 0) AS seen FROM agents",
        )
        .bind(since)
        .fetch_one(self.pool())
        .await
        .map_err(&err)?;
        stats.agents = row.try_get("total").map_err(&err)?;
        stats.agents_seen = row.try_get("seen").map_err(&err)?;
        Ok(stats)
    }
}

fn project_from_row(r: &sqlx::any::AnyRow) -> Result<Project, sqlx::Error> {
    Ok(Project {
        name: r.try_get("name")?,
        repo_url: r.try_get("repo_url")?,
        created_at: r.try_get("created_at")?,
        weight: r.try_get("weight")?,
        max_running: r.try_get("max_running")?,
    })
}

pub(crate) fn claim_from_row(r: &sqlx::any::AnyRow) -> Result<Claim, sqlx::Error> {
    Ok(Claim {
        job_id: r.try_get("id")?,
        run_id: r.try_get("run_id")?,
        job: r.try_get("job_name")?,
        project: r.try_get("project")?,
        repo_url: r.try_get("repo_url")?,
        commit: r.try_get("git_commit")?,
        attempt: r.try_get("attempt")?,
        lease_until: r.try_get("lease_until")?,
    })
}
