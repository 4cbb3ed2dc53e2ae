//! Commit statuses for the forge: a project's forge settings, and the outbox the triggers of
//! migration 0029 fill in the same transaction as each change of a job's record or a run
//! (so no state change is lost between the database and the forge, and a project without a
//! forge writes nothing).
//!
//! The server's deliverer takes one row at a time with [`Store::claim_commit_status`]: a lease
//! on the database's clock (so two servers never send one row at once; `FOR UPDATE SKIP
//! LOCKED` on PostgreSQL), and only the oldest unfinished row of its `(run, context)`, so a
//! later state is never sent before an earlier one succeeded or was given up. It then marks
//! the row delivered, to be tried again later, or given up.

use railyard_types::statuses::{CommitStatusRecord, Forge, ForgeKind};
use railyard_types::{Millis, ProjectName, RunId};
use sqlx::Row;

use crate::{Backend, Store, StoreError};

/// A row of the outbox taken for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxStatus {
    /// The row.
    pub id: i64,
    /// Its project (the forge settings and the token are read from it at send time).
    pub project: ProjectName,
    /// The run.
    pub run_id: RunId,
    /// The job, none for the run's own context.
    pub job: Option<String>,
    /// `railyard` or `railyard/<job>`.
    pub context: String,
    /// The commit.
    pub commit: String,
    /// Railyard's status (a `JobStatus` or `RunStatus` name).
    pub status: String,
    /// Why, if the change said (a skip's reason, a job's error).
    pub description: Option<String>,
    /// When the change was written.
    pub created_at: Millis,
    /// Sends tried, this one included.
    pub attempts: i64,
}

/// How a row's sending ended for good, other than delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// The forge refused it in a way that will not change (a 4xx other than 408 and 429).
    Refused,
    /// Tried past the retry horizon.
    Expired,
}

const OUTBOX_COLUMNS: &str =
    "id, project, run_id, job_name, context, git_commit, status, description, created_at, attempts";

fn outbox_from(r: &sqlx::any::AnyRow) -> Result<OutboxStatus, sqlx::Error> {
    Ok(OutboxStatus {
        id: r.try_get("id")?,
        project: ProjectName::from(r.try_get::<String, _>("project")?),
        run_id: RunId::from(r.try_get::<String, _>("run_id")?),
        job: r.try_get("job_name")?,
        context: r.try_get("context")?,
        commit: r.try_get("git_commit")?,
        status: r.try_get("status")?,
        description: r.try_get("description")?,
        created_at: Millis(r.try_get("created_at")?),
        attempts: r.try_get("attempts")?,
    })
}

impl Store {
    /// Sets where a project's commit statuses go (`None`: nowhere, and none are written any
    /// more). False when no such project.
    pub async fn set_project_forge(
        &self,
        project: &ProjectName,
        forge: Option<&Forge>,
    ) -> Result<bool, StoreError> {
        let err = self.query_error("setting a project's forge");
        if self.project(project).await?.is_none() {
            return Ok(false);
        }
        match forge {
            None => {
                sqlx::query("DELETE FROM project_forges WHERE project = $1")
                    .bind(project.as_str())
                    .execute(self.pool())
                    .await
                    .map_err(&err)?;
            }
            Some(f) => {
                sqlx::query(
                    "INSERT INTO project_forges (project, kind, api_url, repo) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (project) DO UPDATE SET \
                     kind = excluded.kind, api_url = excluded.api_url, repo = excluded.repo",
                )
                .bind(project.as_str())
                .bind(f.kind.as_str())
                .bind(&f.api_url)
                .bind(&f.repo)
                .execute(self.pool())
                .await
                .map_err(&err)?;
            }
        }
        Ok(true)
    }

    /// Where a project's commit statuses go, if anywhere.
    pub async fn project_forge(&self, project: &ProjectName) -> Result<Option<Forge>, StoreError> {
        let err = self.query_error("reading a project's forge");
        let row = sqlx::query("SELECT kind, api_url, repo FROM project_forges WHERE project = $1")
            .bind(project.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(&err)?;
        let Some(row) = row else { return Ok(None) };
        let kind: String = row.try_get("kind").map_err(&err)?;
        Ok(ForgeKind::parse(&kind).map(|kind| Forge {
            kind,
            api_url: row.try_get("api_url").unwrap_or_default(),
            repo: row.try_get("repo").unwrap_or_default(),
        }))
    }

    /// Takes the next row due at `now` for `lease_ms`: the oldest unfinished row of its
    /// `(run, context)`, not leased by another deliverer (see the module's doc). Its
    /// `attempts` counts this send.
    pub async fn claim_commit_status(
        &self,
        now: Millis,
        lease_ms: i64,
    ) -> Result<Option<OutboxStatus>, StoreError> {
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let free = "(lease_until IS NULL OR lease_until < $1)";
        let sql = format!(
            "UPDATE commit_statuses SET lease_until = $2, attempts = attempts + 1 \
             WHERE done_at IS NULL AND {free} AND id = (SELECT o.id FROM commit_statuses o \
             WHERE o.done_at IS NULL AND o.next_at <= $1 \
             AND (o.lease_until IS NULL OR o.lease_until < $1) \
             AND NOT EXISTS (SELECT 1 FROM commit_statuses e WHERE e.run_id = o.run_id \
             AND e.context = o.context AND e.id < o.id AND e.done_at IS NULL) \
             ORDER BY o.next_at, o.id LIMIT 1{lock}) RETURNING {OUTBOX_COLUMNS}"
        );
        let err = self.query_error("taking a commit status to send");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now.as_i64())
            .bind(now.as_i64() + lease_ms)
            .fetch_all(self.pool())
            .await
            .map_err(&err)?;
        rows.first().map(outbox_from).transpose().map_err(&err)
    }

    /// Marks a row delivered (after the forge's 2xx).
    pub async fn commit_status_delivered(&self, id: i64, now: Millis) -> Result<(), StoreError> {
        self.finish_status(id, now, "delivered", None).await
    }

    /// Marks a row given up, with the forge's answer or the error, for the operator.
    pub async fn commit_status_given_up(
        &self,
        id: i64,
        now: Millis,
        why: GiveUp,
        error: &str,
    ) -> Result<(), StoreError> {
        let outcome = match why {
            GiveUp::Refused => "refused",
            GiveUp::Expired => "expired",
        };
        self.finish_status(id, now, outcome, Some(error)).await
    }

    async fn finish_status(
        &self,
        id: i64,
        now: Millis,
        outcome: &str,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE commit_statuses SET done_at = $2, outcome = $3, lease_until = NULL, \
             last_error = COALESCE($4, last_error) WHERE id = $1",
        )
        .bind(id)
        .bind(now.as_i64())
        .bind(outcome)
        .bind(error)
        .execute(self.pool())
        .await
        .map_err(self.query_error("marking a commit status sent"))?;
        Ok(())
    }

    /// Puts a row back to be tried at `next_at`, noting why this send failed.
    pub async fn commit_status_retry(
        &self,
        id: i64,
        next_at: Millis,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE commit_statuses SET next_at = $2, lease_until = NULL, last_error = $3 \
             WHERE id = $1 AND done_at IS NULL",
        )
        .bind(id)
        .bind(next_at.as_i64())
        .bind(error)
        .execute(self.pool())
        .await
        .map_err(self.query_error("putting a commit status back"))?;
        Ok(())
    }

    /// A project's outbox, newest first, at most `limit` rows; `open_only`: only those still
    /// to be sent or given up (what an operator looks at during a forge outage).
    pub async fn commit_statuses(
        &self,
        project: &ProjectName,
        open_only: bool,
        limit: i64,
    ) -> Result<Vec<CommitStatusRecord>, StoreError> {
        let filter = if open_only {
            " AND (done_at IS NULL OR outcome <> 'delivered')"
        } else {
            ""
        };
        let err = self.query_error("listing a project's commit statuses");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, run_id, context, git_commit, status, description, created_at, attempts, \
             done_at, outcome, last_error FROM commit_statuses WHERE project = $1{filter} \
             ORDER BY id DESC LIMIT $2"
        )))
        .bind(project.as_str())
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        rows.iter()
            .map(|r| {
                Ok(CommitStatusRecord {
                    id: r.try_get("id")?,
                    run_id: RunId::from(r.try_get::<String, _>("run_id")?),
                    context: r.try_get("context")?,
                    commit: r.try_get("git_commit")?,
                    status: r.try_get("status")?,
                    description: r.try_get("description")?,
                    created_at: Millis(r.try_get("created_at")?),
                    attempts: r.try_get("attempts")?,
                    done_at: r.try_get::<Option<i64>, _>("done_at")?.map(Millis),
                    outcome: r.try_get("outcome")?,
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(&err)
    }

    /// Deletes outbox rows finished before `before` (kept a while for the operator to see).
    pub async fn forget_commit_statuses(&self, before: Millis) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM commit_statuses WHERE done_at < $1")
            .bind(before.as_i64())
            .execute(self.pool())
            .await
            .map_err(self.query_error("forgetting sent commit statuses"))?;
        Ok(done.rows_affected())
    }
}
