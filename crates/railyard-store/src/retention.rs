//! Retention and quotas per project (migration 0024). The logs and artifacts of a finished
//! run are pruned once it finished more than `keep_days` ago and is not among its project's
//! newest `keep_runs` runs; a run that has not finished is never pruned. The run's record
//! stays (its jobs, steps, results), with `pruned_at` saying when its logs and artifacts went,
//! so a reader is told why they are missing rather than "not found".
//!
//! Pruning is two steps, so that neither holds SQLite's one write lock for long:
//! [`Store::mark_expired_runs`] marks a bounded number of runs (a reader then sees them
//! pruned at once) and lists them in `pruning`; [`Store::purge_pruned`] deletes what they
//! hold a batch of rows per transaction, and drops a run from `pruning` once nothing is left.
//! A crash between batches leaves the run listed, and the next sweep goes on.

use railyard_types::{Millis, ProjectName, RunId};
use sqlx::Row;

use crate::{Store, StoreError};

/// A new project keeps its runs' logs and artifacts this many days (0: for ever)…
pub const DEFAULT_KEEP_DAYS: i64 = 90;
/// …and those of its newest this many runs, however old.
pub const DEFAULT_KEEP_RUNS: i64 = 20;
/// Rows one pruning transaction deletes at most.
pub const PRUNE_BATCH: i64 = 500;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

impl Store {
    /// Sets a project's retention (`keep_days`, 0: for ever; `keep_runs`) and artifact quota
    /// (`quota_bytes`, 0: none); `None` keeps the value. False when no such project.
    pub async fn set_project_retention(
        &self,
        name: &ProjectName,
        keep_days: Option<i64>,
        keep_runs: Option<i64>,
        quota_bytes: Option<i64>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE projects SET keep_days = COALESCE($2, keep_days), \
             keep_runs = COALESCE($3, keep_runs), quota_bytes = COALESCE($4, quota_bytes) \
             WHERE name = $1",
        )
        .bind(name.as_str())
        .bind(keep_days)
        .bind(keep_runs)
        .bind(quota_bytes)
        .execute(self.pool())
        .await
        .map_err(self.query_error("setting a project's retention"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks at most `limit` finished runs past their project's retention at `now` as pruned
    /// and lists them for [`Store::purge_pruned`], in one short transaction; returns how
    /// many. Call again while it returns `limit`.
    pub async fn mark_expired_runs(&self, now: Millis, limit: i64) -> Result<u64, StoreError> {
        let err = self.query_error("marking runs past their retention");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        // A write first (SQLite's write lock taken now, not on an upgrade that can fail).
        let marked = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO pruning (run_id) SELECT r.id FROM runs r \
             JOIN projects p ON p.name = r.project \
             WHERE r.pruned_at IS NULL AND r.finished_at IS NOT NULL AND p.keep_days > 0 \
             AND r.finished_at < $1 - p.keep_days * {DAY_MS} \
             AND r.number <= (SELECT MAX(n.number) FROM runs n WHERE n.project = r.project) \
             - p.keep_runs \
             ORDER BY r.finished_at LIMIT $2"
        )))
        .bind(now.as_i64())
        .bind(limit)
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        sqlx::query(
            "UPDATE runs SET pruned_at = $1 WHERE pruned_at IS NULL \
             AND id IN (SELECT run_id FROM pruning)",
        )
        .bind(now.as_i64())
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        Ok(marked.rows_affected())
    }

    /// Deletes at most `batch` rows of what pruned runs still hold (log chunks, then artifact
    /// chunks, then the artifacts' rows), each kind in its own transaction, and forgets runs
    /// with nothing left. Returns the rows deleted: 0 when nothing is left to delete.
    pub async fn purge_pruned(&self, batch: i64) -> Result<u64, StoreError> {
        let err = self.query_error("deleting pruned logs and artifacts");
        let steps = [
            "DELETE FROM job_log_chunks WHERE id IN (SELECT c.id FROM pruning p \
             JOIN job_log_chunks c ON c.run_id = p.run_id LIMIT $1)",
            // An artifact's chunks before its row: a row without chunks is harmless, chunks
            // without a row would wait for the orphan sweep.
            "DELETE FROM artifact_chunks WHERE (upload_id, seq) IN (SELECT c.upload_id, c.seq \
             FROM pruning p JOIN artifacts a ON a.run_id = p.run_id \
             JOIN artifact_chunks c ON c.upload_id = a.upload_id LIMIT $1)",
            "DELETE FROM artifacts WHERE (run_id, job_name, path) IN (SELECT a.run_id, \
             a.job_name, a.path FROM pruning p JOIN artifacts a ON a.run_id = p.run_id \
             WHERE NOT EXISTS (SELECT 1 FROM artifact_chunks c WHERE c.upload_id = a.upload_id) \
             LIMIT $1)",
        ];
        let mut deleted = 0;
        for sql in steps {
            let left = batch - deleted as i64;
            if left <= 0 {
                return Ok(deleted);
            }
            deleted += sqlx::query(sql)
                .bind(left)
                .execute(self.pool())
                .await
                .map_err(&err)?
                .rows_affected();
        }
        if deleted == 0 {
            sqlx::query(
                "DELETE FROM pruning WHERE NOT EXISTS (SELECT 1 FROM job_log_chunks c \
                 WHERE c.run_id = pruning.run_id) AND NOT EXISTS (SELECT 1 FROM artifacts a \
                 WHERE a.run_id = pruning.run_id)",
            )
            .execute(self.pool())
            .await
            .map_err(&err)?;
        }
        Ok(deleted)
    }

    /// When the run's logs and artifacts were pruned by its project's retention, if they were.
    pub async fn run_pruned_at(&self, run_id: &RunId) -> Result<Option<Millis>, StoreError> {
        let err = self.query_error("reading a run");
        let row = sqlx::query("SELECT pruned_at FROM runs WHERE id = $1")
            .bind(run_id.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(&err)?;
        let at: Option<i64> = match row {
            Some(r) => r.try_get(0).map_err(&err)?,
            None => None,
        };
        Ok(at.map(Millis))
    }

    /// Bytes of artifacts the project's runs hold: what its quota counts.
    pub async fn project_artifact_bytes(&self, name: &ProjectName) -> Result<i64, StoreError> {
        let err = self.query_error("reading a project's storage");
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(a.size), 0) AS BIGINT) FROM artifacts a JOIN runs r ON r.id = a.run_id \
             WHERE r.project = $1",
        )
        .bind(name.as_str())
        .fetch_one(self.pool())
        .await
        .map_err(&err)?;
        row.try_get(0).map_err(&err)
    }
}
