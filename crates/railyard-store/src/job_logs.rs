//! Server runs' job logs in the database, as the chunks agents send, so that every server on
//! one database serves the same log (each server's data folder is its own).
//!
//! A chunk is checked and stored in one transaction that starts by writing the job's queue
//! row: its lease is checked (agent, attempt, still leased), its number is compared with the
//! last one stored (a resend of a stored chunk is acknowledged without writing), and the bytes go
//! in with the new `log_seq`, so a crash before the commit stores nothing and the agent's
//! resend stores it once. The row lock (PostgreSQL) or the write lock (SQLite) also makes a
//! job's chunk ids follow commit order, which is what lets a follower ask for "ids after X".
//!
//! Local runs keep their files ([`crate::LogWriter`]); a server run stored before the table
//! existed has only a file, read when the database holds no chunk of the job.

use railyard_run_model::LEASED;
use railyard_types::{AgentId, JobId, RunId};
use sqlx::{Any, Row, Transaction};

use crate::{Store, StoreError};

/// What became of a log chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// Stored now (past the size limit: acknowledged, and dropped after the marker line).
    Stored,
    /// Stored before (the agent did not see the answer): acknowledged, not written again.
    AlreadyStored {
        /// The last chunk number stored for this attempt.
        last: i64,
    },
    /// The sender does not hold the job's lease (it lapsed, the job went on): nothing written.
    LeaseLost,
}

/// One stored chunk of a job's log, for a follower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunkRow {
    /// Its place in the job's log: ask for the chunks after it next.
    pub id: i64,
    /// The text as sent.
    pub bytes: Vec<u8>,
}

/// Whose text it is: the agent's chunk `seq`, or the server's note at a claim.
#[derive(Clone, Copy)]
enum Writer {
    Agent { seq: i64 },
    Server,
}

/// The most chunks one [`Store::log_page`] (and so [`Store::log_chunks_after`]) call returns.
const CHUNKS_PER_READ: i64 = 256;

/// About the most bytes one [`Store::log_page`] reads (a single larger chunk comes alone):
/// what bounds a log reader's memory, whatever the log's size.
const LOG_PAGE_BYTES: i64 = 1 << 20;

impl Store {
    /// Stores chunk `seq` (1, 2, … per attempt) of an agent's log; see the module's doc. A
    /// chunk after a gap (chunks the database lost) is stored after a line naming the gap.
    pub async fn append_log_chunk(
        &self,
        job_id: &JobId,
        agent_id: &AgentId,
        attempt: i64,
        seq: i64,
        bytes: &[u8],
    ) -> Result<ChunkOutcome, StoreError> {
        self.append(job_id, agent_id, attempt, Writer::Agent { seq }, bytes)
            .await
    }

    /// Adds the server's own line (the note that a later attempt starts) to the log of a job
    /// just leased to `agent_id`, ahead of the agent's chunks: chunk 0 of the attempt, at most
    /// once, under the same lock and size limit as the agent's.
    pub async fn append_log_note(
        &self,
        job_id: &JobId,
        agent_id: &AgentId,
        attempt: i64,
        text: &str,
    ) -> Result<ChunkOutcome, StoreError> {
        self.append(job_id, agent_id, attempt, Writer::Server, text.as_bytes())
            .await
    }

    async fn append(
        &self,
        job_id: &JobId,
        agent_id: &AgentId,
        attempt: i64,
        writer: Writer,
        bytes: &[u8],
    ) -> Result<ChunkOutcome, StoreError> {
        let err = self.query_error("storing a log chunk");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        // A write first: it takes the row lock (PostgreSQL) or the write lock (SQLite) now,
        // not at the insert, so two appends to one job never interleave.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE queue SET log_seq = log_seq WHERE id = $1 AND agent_id = $2 \
             AND attempt = $3 AND state = '{LEASED}' \
             RETURNING run_id, job_name, log_seq, log_bytes"
        )))
        .bind(job_id.as_str())
        .bind(agent_id.as_str())
        .bind(attempt)
        .fetch_optional(&mut *tx)
        .await
        .map_err(&err)?;
        let Some(row) = row else {
            return Ok(ChunkOutcome::LeaseLost);
        };
        let run_id: String = row.try_get("run_id").map_err(&err)?;
        let job: String = row.try_get("job_name").map_err(&err)?;
        let last: i64 = row.try_get("log_seq").map_err(&err)?;
        let stored: i64 = row.try_get("log_bytes").map_err(&err)?;
        let (seq, gap) = match writer {
            Writer::Agent { seq } if seq <= last => {
                return Ok(ChunkOutcome::AlreadyStored { last });
            }
            Writer::Agent { seq } => (seq, seq > last + 1),
            Writer::Server => (0, false),
        };
        // The agent sends a chunk only once the one before it was acknowledged, so a gap means
        // the database lost chunks it had stored (a PostgreSQL failover, an SQLite file after
        // a power cut). Refusing would refuse every later chunk too: the rest is kept, after
        // a line that says what is missing.
        let with_gap;
        let bytes = if gap {
            let missing = if seq - last == 2 {
                format!("chunk {} of this attempt's log is", last + 1)
            } else {
                format!(
                    "chunks {} to {} of this attempt's log are",
                    last + 1,
                    seq - 1
                )
            };
            with_gap = [
                format!("[railyard: {missing} missing: the server lost them]\n").as_bytes(),
                bytes,
            ]
            .concat();
            &with_gap[..]
        } else {
            bytes
        };
        let mut kept = self.within_limit(stored, bytes);
        if !kept.is_empty()
            && !insert_chunk(&mut tx, &run_id, &job, attempt, seq, &kept)
                .await
                .map_err(&err)?
        {
            kept.clear(); // the note of this attempt is in already
        }
        sqlx::query("UPDATE queue SET log_seq = $2, log_bytes = $3 WHERE id = $1")
            .bind(job_id.as_str())
            .bind(seq.max(last))
            .bind(stored + kept.len() as i64)
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        Ok(ChunkOutcome::Stored)
    }

    /// What of `bytes` goes in after `stored` bytes: all of it within the store's limit; at
    /// the crossing, what fits and one marker line (so `stored` passes the limit); past
    /// it, nothing. The same rule as a local run's log file.
    fn within_limit(&self, stored: i64, bytes: &[u8]) -> Vec<u8> {
        let limit = self.inner.max_log_bytes;
        let stored = stored.max(0) as u64;
        if stored > limit {
            return Vec::new();
        }
        let room = (limit - stored) as usize;
        if bytes.len() <= room {
            return bytes.to_vec();
        }
        let mut kept = bytes[..room].to_vec();
        kept.extend_from_slice(
            format!("\n[railyard: log truncated at {limit} bytes]\n").as_bytes(),
        );
        kept
    }

    /// A job's whole log: its chunks in the database; [`StoreError::NoLog`] when it has none.
    pub async fn job_log(&self, run_id: &RunId, job: &str) -> Result<Vec<u8>, StoreError> {
        let rows = sqlx::query(
            "SELECT bytes FROM job_log_chunks WHERE run_id = $1 AND job_name = $2 ORDER BY id",
        )
        .bind(run_id.as_str())
        .bind(job)
        .fetch_all(self.pool())
        .await
        .map_err(self.query_error("reading a job's log"))?;
        if rows.is_empty() {
            return Err(StoreError::NoLog {
                run: run_id.to_string(),
                job: job.to_owned(),
            });
        }
        let mut log = Vec::new();
        for row in rows {
            let bytes: Vec<u8> = row
                .try_get(0)
                .map_err(self.query_error("reading a job's log"))?;
            log.extend_from_slice(&bytes);
        }
        Ok(log)
    }

    /// The next page of a job's log after chunk id `after` (0: from the start): chunks in
    /// order, about [`LOG_PAGE_BYTES`] of them (at least one), empty at the end. A reader
    /// streams a log of any size page by page, holding one page at a time: the sizes are read
    /// first (without the bytes), so a page never loads more than its share.
    pub async fn log_page(
        &self,
        run_id: &RunId,
        job: &str,
        after: i64,
    ) -> Result<Vec<LogChunkRow>, StoreError> {
        let err = self.query_error("reading a job's log");
        let sizes = sqlx::query(
            "SELECT id, LENGTH(bytes) AS n FROM job_log_chunks WHERE run_id = $1 \
             AND job_name = $2 AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(run_id.as_str())
        .bind(job)
        .bind(after)
        .bind(CHUNKS_PER_READ)
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        let mut last = None;
        let mut total = 0i64;
        for row in &sizes {
            let id: i64 = row.try_get("id").map_err(&err)?;
            let n: i64 = row.try_get("n").map_err(&err)?;
            if last.is_some() && total + n > LOG_PAGE_BYTES {
                break;
            }
            total += n;
            last = Some(id);
        }
        let Some(last) = last else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(
            "SELECT id, bytes FROM job_log_chunks WHERE run_id = $1 AND job_name = $2 \
             AND id > $3 AND id <= $4 ORDER BY id",
        )
        .bind(run_id.as_str())
        .bind(job)
        .bind(after)
        .bind(last)
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        rows.iter()
            .map(|r| {
                Ok(LogChunkRow {
                    id: r.try_get("id")?,
                    bytes: r.try_get("bytes")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(&err)
    }

    /// The chunks of a job's log stored after chunk id `after` (0: from the start), in
    /// order, a page of about 1 MiB at a time ([`Store::log_page`]): a follower asks again
    /// from the last id it got, and holds one page whatever the agent's chunk sizes.
    pub async fn log_chunks_after(
        &self,
        run_id: &RunId,
        job: &str,
        after: i64,
    ) -> Result<Vec<LogChunkRow>, StoreError> {
        self.log_page(run_id, job, after).await
    }
}

/// Inserts a chunk; false when that chunk of the attempt is there already.
async fn insert_chunk(
    tx: &mut Transaction<'_, Any>,
    run_id: &str,
    job: &str,
    attempt: i64,
    seq: i64,
    bytes: &[u8],
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO job_log_chunks (run_id, job_name, attempt, seq, bytes) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(run_id)
    .bind(job)
    .bind(attempt)
    .bind(seq)
    .bind(bytes)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
