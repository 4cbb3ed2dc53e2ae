//! Counts of the queue for monitoring (`/metrics`).

use railyard_run_model::DONE;
use railyard_types::{Millis, ProjectName};
use sqlx::Row;

use crate::{Store, StoreError, WAIT_BOUNDS_MS};

/// What `/metrics` shows: jobs per project and queue state, and agents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// (project, state, jobs) for states `waiting`, `queued` and `leased`.
    pub jobs: Vec<(ProjectName, String, i64)>,
    /// Registered agents.
    pub agents: i64,
    /// Agents seen (claim or heartbeat) since the `since` given.
    pub agents_seen: i64,
}

impl Store {
    /// Counts for monitoring; agents seen since `since` (ms since the epoch) count as live.
    pub async fn queue_stats(&self, since: Millis) -> Result<QueueStats, StoreError> {
        let err = self.query_error("counting the queue");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT project, state, COUNT(*) AS n FROM queue WHERE state <> '{DONE}' \
             GROUP BY project, state ORDER BY project, state"
        )))
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        let mut stats = QueueStats::default();
        for r in rows {
            stats.jobs.push((
                ProjectName::from(r.try_get::<String, _>("project").map_err(&err)?),
                r.try_get("state").map_err(&err)?,
                r.try_get("n").map_err(&err)?,
            ));
        }
        let row = sqlx::query(
            "SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN last_seen >= $1 THEN 1 ELSE 0 END), 0) AS seen FROM agents",
        )
        .bind(since.as_i64())
        .fetch_one(self.pool())
        .await
        .map_err(&err)?;
        stats.agents = row.try_get("total").map_err(&err)?;
        stats.agents_seen = row.try_get("seen").map_err(&err)?;
        Ok(stats)
    }
}

/// How a claim's wait is counted: the row comes from a `SELECT` of project, bucket
/// ([`wait_bucket`]), stripe, 1 and the wait.
pub(crate) const WAIT_INSERT: &str = "INSERT INTO queue_waits (project, le_ms, stripe, n, sum_ms)";
/// What follows [`WAIT_INSERT`] and its `SELECT`.
pub(crate) const WAIT_CONFLICT: &str = "ON CONFLICT (project, le_ms, stripe) DO UPDATE SET \
     n = queue_waits.n + 1, sum_ms = queue_waits.sum_ms + excluded.sum_ms";

/// SQL for the bucket (`le_ms`) of the wait `ms` (an SQL expression): the first bound of
/// [`WAIT_BOUNDS_MS`] that holds it, else `i64::MAX`.
pub(crate) fn wait_bucket(ms: &str) -> String {
    let whens: String = WAIT_BOUNDS_MS
        .iter()
        .map(|b| format!(" WHEN {ms} <= {b} THEN {b}"))
        .collect();
    format!("CASE{whens} ELSE {} END", i64::MAX)
}

/// A stripe for a claim's wait row: random, so that concurrent claims of one project on
/// PostgreSQL seldom wait for each other's row lock (the scrape sums the 16).
pub(crate) fn wait_stripe() -> i64 {
    (ulid::Ulid::new().random() % 16) as i64
}

/// Counts one claim's queue wait in its project's histogram (`queue_waits`, read by
/// [`Store::wait_histograms`]), in the claim's transaction: a scrape then reads a few rows a
/// project instead of every job ever queued.
pub(crate) async fn record_wait(
    conn: &mut sqlx::AnyConnection,
    project: &str,
    wait_ms: i64,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "{WAIT_INSERT} SELECT $1, {}, $3, 1, $2 WHERE true {WAIT_CONFLICT}",
        wait_bucket("$2")
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(project)
        .bind(wait_ms.max(0))
        .bind(wait_stripe())
        .execute(conn)
        .await?;
    Ok(())
}
