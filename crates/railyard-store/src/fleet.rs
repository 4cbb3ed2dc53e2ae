//! What operators read about the fleet: the agents with their running jobs, and how long
//! jobs waited in the queue; and the grace a starting server gives held leases. The queue
//! itself lives in `queue`.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Store, StoreError};

/// An agent as `railyard agents` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// Its id (a ULID, given at registration).
    pub id: String,
    /// The name it gave.
    pub name: String,
    /// How many jobs it runs at once.
    pub slots: i64,
    /// Jobs it holds a lease on now.
    pub running: i64,
    /// Milliseconds since the epoch of its last claim or heartbeat.
    pub last_seen: i64,
}

/// Queue waits (queued → claimed) of one project, as a cumulative histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitHistogram {
    /// The project.
    pub project: String,
    /// Per bound given, how many waits were at most that long.
    pub cumulative: Vec<i64>,
    /// How many jobs were claimed.
    pub count: i64,
    /// The sum of their waits, in milliseconds.
    pub sum_ms: i64,
}

impl Store {
    /// Every registered agent, the most recently seen first.
    pub async fn agents(&self) -> Result<Vec<AgentInfo>, StoreError> {
        let err = self.query_error("listing agents");
        let rows = sqlx::query(
            "SELECT a.id, a.name, a.slots, a.last_seen, \
             (SELECT COUNT(*) FROM queue q WHERE q.agent_id = a.id AND q.state = 'leased') \
             FROM agents a ORDER BY a.last_seen DESC, a.id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        rows.iter()
            .map(|r| {
                Ok(AgentInfo {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    slots: r.try_get(2)?,
                    last_seen: r.try_get(3)?,
                    running: r.try_get(4)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(&err)
    }

    /// How long each project's claimed jobs waited, from entering the queue to their last
    /// claim (`jobs.started_at`), bucketed by `bounds_ms` (ascending). Read from the store,
    /// so the histogram survives restarts and every server sharing the database shows the
    /// same one.
    pub async fn wait_histograms(
        &self,
        bounds_ms: &[i64],
    ) -> Result<Vec<WaitHistogram>, StoreError> {
        let buckets: String = bounds_ms
            .iter()
            .map(|b| format!(", SUM(CASE WHEN w <= {b} THEN 1 ELSE 0 END)"))
            .collect();
        let sql = format!(
            "SELECT project, COUNT(*), CAST(COALESCE(SUM(w), 0) AS BIGINT){buckets} FROM \
             (SELECT q.project AS project, j.started_at - q.queued_at AS w FROM queue q \
             JOIN jobs j ON j.run_id = q.run_id AND j.name = q.job_name \
             WHERE q.state <> 'queued' AND q.state <> 'waiting' AND q.attempt > 0 \
             AND j.started_at IS NOT NULL) waits GROUP BY project ORDER BY project"
        );
        let err = self.query_error("measuring queue waits");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await
            .map_err(&err)?;
        rows.iter()
            .map(|r| {
                Ok(WaitHistogram {
                    project: r.try_get(0)?,
                    count: r.try_get(1)?,
                    sum_ms: r.try_get(2)?,
                    cumulative: (0..bounds_ms.len())
                        .map(|i| r.try_get(3 + i))
                        .collect::<Result<_, _>>()?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(&err)
    }
}

impl Store {
    /// Moves every held lease that ends before `until` to `until`; returns how many. A
    /// starting server calls it: while no server answered, agents could not renew their
    /// leases, and a restart must not hand their running jobs on. An agent that really died
    /// meanwhile is found one lease later.
    pub async fn extend_leases(&self, until: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE queue SET lease_until = $1 WHERE state = 'leased' AND lease_until < $1",
        )
        .bind(until)
        .execute(self.pool())
        .await
        .map_err(self.query_error("extending leases at start"))?;
        Ok(done.rows_affected())
    }
}
