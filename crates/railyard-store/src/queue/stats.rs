//! Counts of the queue for monitoring (`/metrics`).

use sqlx::Row;

use crate::{Store, StoreError};

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
