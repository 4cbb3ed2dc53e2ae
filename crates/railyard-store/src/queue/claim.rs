//! The claim: which queued job a free slot gets, and a project's share of the fleet.
//!
//! Four rules, all in the one statement that leases the job (so two claims, or two servers
//! on one PostgreSQL, never get the same row; on PostgreSQL a cap is checked again after):
//! - **Pools**: only jobs of projects that allow the claiming agent's pool (its registering
//!   token's, see `pools`) are seen at all; labels choose among those.
//! - **Labels**: a job with `runs_on` labels goes only to an agent that has them all; a job
//!   no agent can take stays queued.
//! - **Caps**: a project with `max_running` > 0 holding that many leases gets no more slots.
//! - **Fair share**: among the projects left, the one with the fewest leased jobs per unit of
//!   `weight` goes first (ties: the one with the oldest queued job), then its oldest job.

use railyard_run_model::{LEASED, QUEUED};
use railyard_types::{AgentId, JobId, JobStatus, Millis, ProjectName, RunId};
use sqlx::{AnyConnection, Row};

use super::pools::allows;
use super::stats::{WAIT_CONFLICT, WAIT_INSERT, record_wait, wait_bucket, wait_stripe};
use super::{COLUMNS, Claim, claim_from_row};
use crate::runs::{JOB_START, JOB_START_CONFLICT, record_job_start, record_run_start};
use crate::{Backend, Store, StoreError};

/// True for a queue row `x` whose `runs_on` labels the claiming agent (`$1`) all has, and
/// whose `concurrency` group (if any) has no leased row. The `labelled` flag spares the
/// lookups for rows without labels, a NULL group the look-up for rows without one (one
/// probe of the `queue_group_leased` index otherwise).
fn fits(x: &str) -> String {
    format!(
        "({x}.labelled = 0 OR NOT EXISTS (SELECT 1 FROM job_labels l WHERE l.job_id = {x}.id \
         AND NOT EXISTS (SELECT 1 FROM agent_labels a WHERE a.agent_id = $1 AND a.label = l.label))) \
         AND ({x}.concurrency_group IS NULL OR NOT EXISTS (SELECT 1 FROM queue g \
         WHERE g.concurrency_group = {x}.concurrency_group AND g.state = '{LEASED}'))"
    )
}

/// How many times a claim is tried again after it lost a race for a group's lock.
const GROUP_RACE_RETRIES: usize = 3;

/// True when `e` is the `queue_group_leased` index refusing a second leased row of a group.
fn lost_group_race(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// How many jobs of project `ps.project` are leased now.
fn leased_of_project() -> String {
    format!("(SELECT COUNT(*) FROM queue r WHERE r.project = ps.project AND r.state = '{LEASED}')")
}

/// The projects that have queued jobs, one index look-up each along `queue_claim` (a skip
/// scan), instead of grouping every queued row: over 8,000 queued jobs the grouping cost
/// 4 ms a claim (0.3 ms this way), held under SQLite's one write lock.
fn queued_projects() -> String {
    format!(
        "WITH RECURSIVE ps(project) AS (\
         SELECT MIN(project) FROM queue WHERE state = '{QUEUED}' UNION ALL \
         SELECT (SELECT MIN(n.project) FROM queue n WHERE n.state = '{QUEUED}' \
         AND n.project > ps.project) FROM ps WHERE ps.project IS NOT NULL)"
    )
}

/// A queued job waiting for its `concurrency` group (see
/// [`Store::jobs_waiting_for_groups`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupWait {
    /// The waiting job.
    pub job: String,
    /// Its group.
    pub group: String,
    /// The run of the job that holds the group.
    pub holder_run: RunId,
    /// That job.
    pub holder_job: String,
}

/// A claimed row and its job's `environment`.
fn with_environment(r: &sqlx::any::AnyRow) -> Result<(Claim, Option<String>), sqlx::Error> {
    Ok((claim_from_row(r)?, r.try_get("environment")?))
}

impl Store {
    /// Leases the next queued job this agent can take, if any: its labels, the projects'
    /// caps and fair share decide (see the module's doc). The leased count is taken per
    /// project, not per queued row (that made a claim over 2,000 queued jobs cost about
    /// 170 ms).
    ///
    /// The lease, the job marked `running` (as [`Store::job_started`]), its run too if it
    /// was still `queued`, and its queue wait counted (see [`Store::wait_histograms`]) are
    /// one commit, where they were two or three: a commit holds SQLite's one write lock and
    /// waits for PostgreSQL's WAL flush.
    pub async fn claim(
        &self,
        agent_id: &AgentId,
        now: Millis,
        lease_ms: i64,
    ) -> Result<Option<Claim>, StoreError> {
        let pg = self.backend() == Backend::Postgres;
        let lock = if pg { " FOR UPDATE SKIP LOCKED" } else { "" };
        let (fits_q, fits_p) = (fits("q"), fits("p"));
        let (queued_projects, leased) = (queued_projects(), leased_of_project());
        // The agent's pool from its row (its registering token's), never from the request.
        let pool_allowed = allows(
            "ps.project",
            "(SELECT ag.pool FROM agents ag WHERE ag.id = $1)",
        );
        let update = format!(
            "UPDATE queue SET state = '{LEASED}', agent_id = $1, lease_until = $2, \
             attempt = attempt + 1, log_seq = 0, claimed_at = $3 \
             WHERE state = '{QUEUED}' AND id = (SELECT q.id FROM queue q \
             WHERE q.state = '{QUEUED}' \
             AND {fits_q} AND q.project = ({queued_projects}, ready AS (SELECT ps.project, \
             (SELECT p.queued_at FROM queue p WHERE p.state = '{QUEUED}' \
             AND p.project = ps.project AND {fits_p} ORDER BY p.queued_at LIMIT 1) AS oldest, \
             {leased} AS leased, COALESCE(pr.weight, 1) AS weight, \
             COALESCE(pr.max_running, 0) AS cap \
             FROM ps LEFT JOIN projects pr ON pr.name = ps.project \
             WHERE ps.project IS NOT NULL AND {pool_allowed}) \
             SELECT project FROM ready WHERE oldest IS NOT NULL AND (cap = 0 OR leased < cap) \
             ORDER BY leased * 1.0 / weight, oldest LIMIT 1) \
             ORDER BY q.queued_at, q.id LIMIT 1{lock}) RETURNING {COLUMNS}, queued_at, environment"
        );
        for _ in 0..GROUP_RACE_RETRIES {
            match self.claim_once(&update, agent_id, now, lease_ms).await {
                Err(StoreError::Query { source, .. }) if lost_group_race(&source) => continue,
                other => return other,
            }
        }
        // Each retry lost to another claim of the same group: the agent asks again soon.
        Ok(None)
    }

    /// One try of [`Store::claim`]'s statement; a deployment is recorded for a job with an
    /// `environment`.
    async fn claim_once(
        &self,
        update: &str,
        agent_id: &AgentId,
        now: Millis,
        lease_ms: i64,
    ) -> Result<Option<Claim>, StoreError> {
        let claimed = self.claim_row(update, agent_id, now, lease_ms).await?;
        let Some((claim, environment)) = claimed else {
            return Ok(None);
        };
        if let Some(environment) = environment {
            let needs = self.queued_needs(&claim.job_id).await?;
            self.deployment_started(&claim.run_id, &claim.job, &environment, &needs, now)
                .await?;
        }
        Ok(Some(claim))
    }

    /// The `needs` of a queue row (shards named as queued).
    async fn queued_needs(&self, job_id: &JobId) -> Result<Vec<String>, StoreError> {
        let err = self.query_error("reading a job's needs");
        let needs: String = sqlx::query("SELECT needs FROM queue WHERE id = $1")
            .bind(job_id.as_str())
            .fetch_one(self.pool())
            .await
            .and_then(|r| r.try_get(0))
            .map_err(&err)?;
        Ok(serde_json::from_str(&needs).unwrap_or_default())
    }

    /// The claim's statement on either backend: the claim and its job's `environment`.
    async fn claim_row(
        &self,
        update: &str,
        agent_id: &AgentId,
        now: Millis,
        lease_ms: i64,
    ) -> Result<Option<(Claim, Option<String>)>, StoreError> {
        let pg = self.backend() == Backend::Postgres;
        if pg {
            return self
                .claim_on_postgres(update, agent_id, now, lease_ms)
                .await;
        }
        // SQLite: the statement holds the one write lock, so its count of leases is exact,
        // and the `queue_claimed` trigger (migrations 0015, 0017) marks the job and its run
        // running and counts its wait in the same statement. `fetch_all` steps it to its end, so that its implicit
        // transaction commits now.
        let err = self.query_error("claiming a job");
        let rows = sqlx::query(sqlx::AssertSqlSafe(update.to_owned()))
            .bind(agent_id.as_str())
            .bind(now.as_i64() + lease_ms)
            .bind(now.as_i64())
            .fetch_all(self.pool())
            .await
            .map_err(&err)?;
        rows.first().map(with_environment).transpose().map_err(&err)
    }

    /// The claim on PostgreSQL: one statement (so one round trip and one commit) leases the
    /// job and, with data-modifying CTEs, records it, unless its project is capped. Two
    /// claims may each have counted the leases before the other's commit and passed a cap
    /// together: a capped project's claim is checked after its commit, under the project's
    /// row lock (so each such check sees the ones before it), and handed back when over.
    async fn claim_on_postgres(
        &self,
        update: &str,
        agent_id: &AgentId,
        now: Millis,
        lease_ms: i64,
    ) -> Result<Option<(Claim, Option<String>)>, StoreError> {
        let wait = "GREATEST($3 - c.queued_at, 0)";
        let sql = format!(
            "WITH c AS ({update}, COALESCE((SELECT pr.max_running FROM projects pr \
             WHERE pr.name = queue.project), 0) AS cap), \
             s AS ({JOB_START} SELECT c.run_id, c.job_name, (SELECT COUNT(*) FROM jobs x \
             WHERE x.run_id = c.run_id), $5, $3 FROM c WHERE c.cap = 0 {JOB_START_CONFLICT}), \
             w AS ({WAIT_INSERT} SELECT c.project, {bucket}, $4, 1, {wait} FROM c \
             WHERE c.cap = 0 {WAIT_CONFLICT}), \
             r AS (UPDATE runs SET status = 'running' WHERE status = 'queued' \
             AND id IN (SELECT c.run_id FROM c WHERE c.cap = 0)) SELECT * FROM c",
            bucket = wait_bucket(wait)
        );
        let err = self.query_error("claiming a job");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(agent_id.as_str())
            .bind(now.as_i64() + lease_ms)
            .bind(now.as_i64())
            .bind(wait_stripe())
            .bind(JobStatus::Running.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(&err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let (claim, environment) = with_environment(&row).map_err(&err)?;
        let cap: i64 = row.try_get("cap").map_err(&err)?;
        if cap == 0 {
            return Ok(Some((claim, environment)));
        }
        let mut tx = self.pool().begin().await.map_err(&err)?;
        sqlx::query("SELECT 1 FROM projects WHERE name = $1 FOR UPDATE")
            .bind(claim.project.as_str())
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        let leased: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM queue WHERE project = $1 AND state = '{LEASED}'"
        )))
        .bind(claim.project.as_str())
        .fetch_one(&mut *tx)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(&err)?;
        if leased > cap {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE queue SET state = '{QUEUED}', agent_id = NULL, lease_until = NULL, \
                 attempt = attempt - 1 WHERE id = $1 AND attempt = $2 AND state = '{LEASED}'"
            )))
            .bind(claim.job_id.as_str())
            .bind(claim.attempt)
            .execute(&mut *tx)
            .await
            .map_err(self.query_error("handing a claim back"))?;
            tx.commit().await.map_err(&err)?;
            return Ok(None);
        }
        let queued_at: i64 = row.try_get("queued_at").map_err(&err)?;
        self.record_claim(&mut tx, &claim, queued_at, now).await?;
        tx.commit().await.map_err(&err)?;
        Ok(Some((claim, environment)))
    }

    /// Marks a claimed job `running` and counts its wait, in the claim's transaction.
    async fn record_claim(
        &self,
        tx: &mut AnyConnection,
        claim: &Claim,
        queued_at: i64,
        now: Millis,
    ) -> Result<(), StoreError> {
        record_job_start(&mut *tx, &claim.run_id, &claim.job, now)
            .await
            .map_err(|e| self.job_error(e, &claim.run_id, &claim.job, "claiming a job"))?;
        record_run_start(&mut *tx, &claim.run_id)
            .await
            .map_err(self.query_error("claiming a job"))?;
        record_wait(tx, &claim.project, now.as_i64() - queued_at)
            .await
            .map_err(self.query_error("claiming a job"))
    }

    /// Sets a project's share: its `weight` (1 and up) and `max_running` (0: no cap); `None`
    /// keeps the value. False when no such project.
    pub async fn set_project_share(
        &self,
        name: &ProjectName,
        weight: Option<i64>,
        max_running: Option<i64>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE projects SET weight = COALESCE($2, weight), \
             max_running = COALESCE($3, max_running) WHERE name = $1",
        )
        .bind(name.as_str())
        .bind(weight)
        .bind(max_running)
        .execute(self.pool())
        .await
        .map_err(self.query_error("setting a project's share"))?;
        Ok(done.rows_affected() == 1)
    }

    /// The queued jobs of a run that no agent seen since `live_since` (ms since the epoch)
    /// can take, each with its `runs_on` labels: they wait for such an agent to come.
    pub async fn unplaceable_jobs(
        &self,
        run_id: &RunId,
        live_since: Millis,
    ) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let err = self.query_error("finding jobs no agent can take");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT q.id, q.job_name FROM queue q WHERE q.run_id = $1 AND q.state = '{QUEUED}' \
             AND q.labelled = 1 AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.last_seen >= $2 \
             AND NOT EXISTS (SELECT 1 FROM job_labels l WHERE l.job_id = q.id AND NOT EXISTS \
             (SELECT 1 FROM agent_labels al WHERE al.agent_id = a.id AND al.label = l.label))) \
             ORDER BY q.job_name"
        )))
        .bind(run_id.as_str())
        .bind(live_since.as_i64())
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        let mut out = Vec::new();
        for row in rows {
            let id = JobId::from(row.try_get::<String, _>("id").map_err(&err)?);
            out.push((
                row.try_get("job_name").map_err(&err)?,
                self.job_labels(&id).await?,
            ));
        }
        Ok(out)
    }

    /// The queued jobs of a run that wait for their `concurrency` group, each with the
    /// group and the job holding it (its run and name): why a claim passes them over.
    pub async fn jobs_waiting_for_groups(
        &self,
        run_id: &RunId,
    ) -> Result<Vec<GroupWait>, StoreError> {
        let err = self.query_error("finding jobs that wait for a concurrency group");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT q.job_name, q.concurrency_group, h.run_id AS holder_run, \
             h.job_name AS holder_job FROM queue q JOIN queue h \
             ON h.concurrency_group = q.concurrency_group AND h.state = '{LEASED}' \
             WHERE q.run_id = $1 AND q.state = '{QUEUED}' AND q.concurrency_group IS NOT NULL \
             ORDER BY q.job_name"
        )))
        .bind(run_id.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        rows.iter()
            .map(|r| {
                Ok(GroupWait {
                    job: r.try_get("job_name")?,
                    group: r.try_get("concurrency_group")?,
                    holder_run: RunId::from(r.try_get::<String, _>("holder_run")?),
                    holder_job: r.try_get("holder_job")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(&err)
    }

    /// The `runs_on` labels of a queued job, sorted; empty when it has none.
    pub async fn job_labels(&self, job_id: &JobId) -> Result<Vec<String>, StoreError> {
        let err = self.query_error("reading a job's labels");
        let rows = sqlx::query("SELECT label FROM job_labels WHERE job_id = $1 ORDER BY label")
            .bind(job_id.as_str())
            .fetch_all(self.pool())
            .await
            .map_err(&err)?;
        rows.iter().map(|r| r.try_get(0).map_err(&err)).collect()
    }
}
