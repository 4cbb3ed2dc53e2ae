//! The test queue of a sharded job, kept in the store so shards claimed by different agents
//! (through different servers on one PostgreSQL) share it.
//!
//! One `test_queues` row per sharded job of a run. The first shard to post the ids it
//! listed creates the row (`ON CONFLICT DO NOTHING`: first wins); every change of the queue
//! happens in one transaction that first writes the row (PostgreSQL's row lock, SQLite's
//! write lock), then reads the [`QueueState`], changes it and writes it back, so two shards
//! asking at once are served one after the other.

use railyard_run_model::LEASED;
use railyard_split::QueueState;
use railyard_types::{JobId, Millis, RunId};
use sqlx::Row;

use crate::{Store, StoreError};

/// A job's test queue as its first shard opened it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedQueue {
    /// SHA-256 (hex) of the sorted ids the first shard listed.
    pub tests_hash: String,
    /// The timings every shard splits by.
    pub timings: Vec<(String, f64)>,
}

impl Store {
    /// Opens the test queue of `job` (its pipeline name) of a run unless a shard opened it
    /// already; returns the queue as it was first opened (compare the hash: shards that
    /// listed other ids must not take part). A queue emptied by a re-run (state `''`) takes
    /// this shard's fresh state and keeps its first timings, so a static split is the same.
    #[allow(clippy::too_many_arguments)]
    pub async fn open_test_queue(
        &self,
        run_id: &RunId,
        job: &str,
        shards: u32,
        opened: &OpenedQueue,
        state: &QueueState,
        now: Millis,
    ) -> Result<OpenedQueue, StoreError> {
        let err = self.query_error("opening a test queue");
        sqlx::query(
            "INSERT INTO test_queues (run_id, job_name, shards, tests_hash, timings, state, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (run_id, job_name) DO UPDATE SET state = excluded.state, \
             updated_at = excluded.updated_at WHERE test_queues.state = ''",
        )
        .bind(run_id.as_str())
        .bind(job)
        .bind(i64::from(shards))
        .bind(&opened.tests_hash)
        .bind(serde_json::to_string(&opened.timings).expect("timings serialize"))
        .bind(serde_json::to_string(state).expect("a queue serializes"))
        .bind(now.as_i64())
        .execute(self.pool())
        .await
        .map_err(&err)?;
        let row = sqlx::query(
            "SELECT tests_hash, timings FROM test_queues WHERE run_id = $1 AND job_name = $2",
        )
        .bind(run_id.as_str())
        .bind(job)
        .fetch_one(self.pool())
        .await
        .map_err(&err)?;
        let timings: String = row.try_get("timings").map_err(&err)?;
        Ok(OpenedQueue {
            tests_hash: row.try_get("tests_hash").map_err(&err)?,
            timings: serde_json::from_str(&timings).map_err(|_| {
                self.corrupt("test queue timings", timings.chars().take(80).collect())
            })?,
        })
    }

    /// Changes the test queue of `job` of a run under its row's lock: `change` gets the
    /// queue and the shards whose lease is live now (leased, not lapsed). `None` when no
    /// shard opened the queue yet.
    pub async fn change_test_queue<T>(
        &self,
        run_id: &RunId,
        job: &str,
        now: Millis,
        change: impl FnOnce(&mut QueueState, &[u32]) -> T,
    ) -> Result<Option<T>, StoreError> {
        let err = self.query_error("changing a test queue");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        // A write first: the row's lock on PostgreSQL, the write lock on SQLite.
        let locked = sqlx::query(
            "UPDATE test_queues SET updated_at = $3 WHERE run_id = $1 AND job_name = $2",
        )
        .bind(run_id.as_str())
        .bind(job)
        .bind(now.as_i64())
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        if locked.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT state FROM test_queues WHERE run_id = $1 AND job_name = $2")
            .bind(run_id.as_str())
            .bind(job)
            .fetch_one(&mut *tx)
            .await
            .map_err(&err)?;
        let text: String = row.try_get("state").map_err(&err)?;
        if text.is_empty() {
            // Emptied by a re-run: no shard of the new attempt opened it yet.
            return Ok(None);
        }
        let mut state: QueueState = serde_json::from_str(&text)
            .map_err(|_| self.corrupt("test queue", text.chars().take(80).collect()))?;
        let live = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT shard FROM queue WHERE run_id = $1 AND sharded_job = $2 \
             AND state = '{LEASED}' AND lease_until >= $3 ORDER BY shard"
        )))
        .bind(run_id.as_str())
        .bind(job)
        .bind(now.as_i64())
        .fetch_all(&mut *tx)
        .await
        .map_err(&err)?;
        let live: Vec<u32> = live
            .iter()
            .map(|r| r.try_get::<i64, _>(0).map(|s| s as u32))
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        let out = change(&mut state, &live);
        sqlx::query("UPDATE test_queues SET state = $3 WHERE run_id = $1 AND job_name = $2")
            .bind(run_id.as_str())
            .bind(job)
            .bind(serde_json::to_string(&state).expect("a queue serializes"))
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        Ok(Some(out))
    }

    /// True when a queue row (a job of a server run) has this id.
    pub async fn queued_job_exists(&self, job_id: &JobId) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM queue WHERE id = $1")
            .bind(job_id.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(self.query_error("looking up a job"))?;
        Ok(row.is_some())
    }
}
