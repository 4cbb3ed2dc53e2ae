//! What operators read about the fleet: the agents with their running jobs, and how long
//! jobs waited in the queue; and the grace a starting server gives held leases. The queue
//! itself lives in `queue`.

use railyard_run_model::LEASED;
pub use railyard_types::protocol::AgentInfo;
use railyard_types::{AgentId, Millis, ProjectName};
use sqlx::Row;

use crate::{Store, StoreError};

/// Upper bounds of the queue-wait buckets, in milliseconds: from a claim that found its job
/// at once to an hour behind a busy fleet. A claim counts itself in the first bucket that
/// holds its wait. Migration 0013's one-time backfill and SQLite's claim trigger (0015, 0017)
/// write the same bounds: a test claims jobs that waited on and around each bound, on both
/// backends, and reads the bucket counted.
pub const WAIT_BOUNDS_MS: [i64; 12] = [
    100, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000,
];

/// Queue waits (queued → claimed) of one project, as a cumulative histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitHistogram {
    /// The project.
    pub project: ProjectName,
    /// Per bound of [`WAIT_BOUNDS_MS`], how many waits were at most that long.
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
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT a.id, a.name, a.slots, a.last_seen, \
             (SELECT COUNT(*) FROM queue q WHERE q.agent_id = a.id AND q.state = '{LEASED}') \
             FROM agents a ORDER BY a.last_seen DESC, a.id"
        )))
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        rows.iter()
            .map(|r| {
                Ok(AgentInfo {
                    id: AgentId::from(r.try_get::<String, _>(0)?),
                    name: r.try_get(1)?,
                    slots: r.try_get(2)?,
                    last_seen: Millis(r.try_get(3)?),
                    running: r.try_get(4)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(&err)
    }

    /// How long each project's claimed jobs waited, from entering the queue to a claim,
    /// bucketed by [`WAIT_BOUNDS_MS`]. Each claim counted itself in its transaction (a job
    /// claimed again after its lease lapsed counts again), so this reads a few rows per
    /// project however long the history; from the store, so the histogram survives restarts
    /// and every server sharing the database shows the same one.
    pub async fn wait_histograms(&self) -> Result<Vec<WaitHistogram>, StoreError> {
        let err = self.query_error("measuring queue waits");
        let rows = sqlx::query(
            "SELECT project, le_ms, CAST(SUM(n) AS BIGINT), CAST(SUM(sum_ms) AS BIGINT) \
             FROM queue_waits GROUP BY project, le_ms ORDER BY project, le_ms",
        )
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        let mut out: Vec<WaitHistogram> = Vec::new();
        for r in rows {
            let project = ProjectName::from(r.try_get::<String, _>(0).map_err(&err)?);
            let le_ms: i64 = r.try_get(1).map_err(&err)?;
            let (n, sum_ms): (i64, i64) =
                (r.try_get(2).map_err(&err)?, r.try_get(3).map_err(&err)?);
            if out.last().is_none_or(|h| h.project != project) {
                out.push(WaitHistogram {
                    project,
                    cumulative: vec![0; WAIT_BOUNDS_MS.len()],
                    count: 0,
                    sum_ms: 0,
                });
            }
            let h = out.last_mut().expect("pushed above");
            h.count += n;
            h.sum_ms += sum_ms;
            for (bound, c) in WAIT_BOUNDS_MS.iter().zip(&mut h.cumulative) {
                if le_ms <= *bound {
                    *c += n;
                }
            }
        }
        Ok(out)
    }
}

impl Store {
    /// Moves every held lease that ends before `until` to `until`; returns how many. A
    /// starting server calls it: while no server answered, agents could not renew their
    /// leases, and a restart must not hand their running jobs on. An agent that really died
    /// meanwhile is found one lease later.
    pub async fn extend_leases(&self, until: Millis) -> Result<u64, StoreError> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE queue SET lease_until = $1 WHERE state = '{LEASED}' AND lease_until < $1"
        )))
        .bind(until.as_i64())
        .execute(self.pool())
        .await
        .map_err(self.query_error("extending leases at start"))?;
        Ok(done.rows_affected())
    }
}
