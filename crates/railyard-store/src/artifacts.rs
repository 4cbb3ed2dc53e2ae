//! Job artifacts kept in the database as chunks (migration 0016), so that every server on one
//! PostgreSQL serves every artifact. An upload writes chunks under its own id and becomes the
//! artifact only when [`ArtifactUpload::finish`] points the artifact's row at it, in one
//! transaction with the lease check: half a file never shows, and a resend replaces it whole.
//! The upload hashes the bytes as it writes them (migration 0019): the SHA-256 stored with the
//! row is of exactly the bytes stored, which an agent fetching a need's artifacts checks.

use railyard_run_model::LEASED;
use railyard_types::protocol::InputArtifact;
use railyard_types::{AgentId, JobId, Millis, RunId};
use sqlx::Row;

use crate::chunks::Chunks;
use crate::{Backend, Store, StoreError};

/// Bytes per stored chunk: large enough that a 256 MiB file is 256 rows, small enough that a
/// download holds one chunk in memory at a time.
pub const ARTIFACT_CHUNK_BYTES: usize = 1 << 20;

/// Chunks that no artifact points at and are older than this are an upload that a crash cut:
/// [`Store::sweep_artifact_chunks`] deletes them. An upload still running is younger.
pub const ORPHAN_CHUNK_AGE_MS: i64 = 60 * 60 * 1000;

/// One stored artifact of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredArtifact {
    /// Relative path, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: i64,
    /// The upload whose chunks hold the bytes (read them with [`Store::artifact_chunk`]).
    pub upload_id: String,
    /// How many chunks hold them.
    pub chunks: i64,
    /// SHA-256 of the bytes, lowercase hex; `None` for a file stored before migration 0019.
    pub sha256: Option<String>,
}

/// An upload in progress: chunks written so far under its own id.
#[derive(Debug)]
pub struct ArtifactUpload {
    chunks: Chunks,
}

impl Store {
    /// Starts an upload; write its bytes with [`ArtifactUpload::write`].
    pub fn begin_artifact(&self) -> ArtifactUpload {
        ArtifactUpload {
            chunks: Chunks::begin(
                self,
                "artifact_chunks",
                ("storing an artifact", "deleting an artifact upload"),
            ),
        }
    }

    /// A job's artifacts, by path.
    pub async fn artifacts(
        &self,
        run_id: &RunId,
        job: &str,
    ) -> Result<Vec<StoredArtifact>, StoreError> {
        self.stored_artifacts(run_id, job, None).await
    }

    /// One artifact of a job, if stored.
    pub async fn artifact(
        &self,
        run_id: &RunId,
        job: &str,
        path: &str,
    ) -> Result<Option<StoredArtifact>, StoreError> {
        Ok(self.stored_artifacts(run_id, job, Some(path)).await?.pop())
    }

    /// A job's artifacts by path, or just the one at `path`.
    async fn stored_artifacts(
        &self,
        run_id: &RunId,
        job: &str,
        path: Option<&str>,
    ) -> Result<Vec<StoredArtifact>, StoreError> {
        let err = self.query_error("listing artifacts");
        let one = if path.is_some() {
            " AND a.path = $3"
        } else {
            ""
        };
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT a.path, a.size, a.upload_id, a.sha256, (SELECT COUNT(*) FROM artifact_chunks c \
             WHERE c.upload_id = a.upload_id) AS chunks FROM artifacts a \
             WHERE a.run_id = $1 AND a.job_name = $2{one} ORDER BY a.path"
        )))
        .bind(run_id.as_str())
        .bind(job);
        if let Some(path) = path {
            query = query.bind(path);
        }
        let rows = query.fetch_all(self.pool()).await.map_err(&err)?;
        rows.iter()
            .map(|r| {
                Ok(StoredArtifact {
                    path: r.try_get("path")?,
                    size: r.try_get("size")?,
                    upload_id: r.try_get("upload_id")?,
                    chunks: r.try_get("chunks")?,
                    sha256: r.try_get("sha256")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(&err)
    }

    /// Every artifact of a run, by job then path, each with the pipeline job (and shard) its
    /// queue row ran: what an agent fetches the artifacts of a job's `needs` from. A job
    /// without a queue row (not expected) counts as its own pipeline job, unsharded.
    pub async fn run_artifacts(&self, run_id: &RunId) -> Result<Vec<InputArtifact>, StoreError> {
        let err = self.query_error("listing a run's artifacts");
        let rows = sqlx::query(
            "SELECT a.job_name, a.path, a.size, a.sha256, q.sharded_job, q.shard, q.shards \
             FROM artifacts a LEFT JOIN queue q ON q.run_id = a.run_id AND q.job_name = a.job_name \
             WHERE a.run_id = $1 ORDER BY a.job_name, a.path",
        )
        .bind(run_id.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        rows.iter()
            .map(|r| {
                let job: String = r.try_get("job_name")?;
                let sharded: Option<String> = r.try_get("sharded_job")?;
                let shard: Option<i64> = r.try_get("shard")?;
                let shards: Option<i64> = r.try_get("shards")?;
                let size: i64 = r.try_get("size")?;
                let (pipeline_job, shard, shards) = match (sharded, shard, shards) {
                    (Some(of), Some(shard), Some(shards)) => {
                        (of, Some(shard as u32), shards as u32)
                    }
                    _ => (job.clone(), None, 1),
                };
                Ok(InputArtifact {
                    job,
                    pipeline_job,
                    shard,
                    shards,
                    path: r.try_get("path")?,
                    size: size as u64,
                    sha256: r.try_get("sha256")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(&err)
    }

    /// Chunk `seq` of an upload; None once the upload was replaced (or past its end).
    pub async fn artifact_chunk(
        &self,
        upload_id: &str,
        seq: i64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let row =
            sqlx::query("SELECT bytes FROM artifact_chunks WHERE upload_id = $1 AND seq = $2")
                .bind(upload_id)
                .bind(seq)
                .fetch_optional(self.pool())
                .await
                .map_err(self.query_error("reading an artifact"))?;
        row.map(|r| r.try_get::<Vec<u8>, _>("bytes"))
            .transpose()
            .map_err(self.query_error("reading an artifact"))
    }

    /// Deletes the chunks of uploads that no artifact points at and whose newest chunk was
    /// stored in `[from, before)`: uploads a crash cut (an upload still running, even one
    /// longer than [`ORPHAN_CHUNK_AGE_MS`], has a newer chunk). A server sweeps everything
    /// older once when it starts, then only the latest window (a full sweep reads every stored
    /// chunk). Returns how many chunks went.
    pub async fn sweep_artifact_chunks(
        &self,
        from: Millis,
        before: Millis,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM artifact_chunks WHERE upload_id IN (SELECT DISTINCT c.upload_id \
             FROM artifact_chunks c WHERE c.stored_at >= $1 AND c.stored_at < $2 \
             AND NOT EXISTS (SELECT 1 FROM artifacts a WHERE a.upload_id = c.upload_id) \
             AND NOT EXISTS (SELECT 1 FROM artifact_chunks n \
             WHERE n.upload_id = c.upload_id AND n.stored_at >= $2))",
        )
        .bind(from.as_i64())
        .bind(before.as_i64())
        .execute(self.pool())
        .await
        .map_err(self.query_error("deleting cut artifact uploads"))?;
        Ok(done.rows_affected())
    }
}

impl ArtifactUpload {
    /// Bytes written so far.
    pub fn size(&self) -> i64 {
        self.chunks.size
    }

    /// SHA-256 of the bytes written so far, lowercase hex.
    pub fn sha256(&self) -> String {
        self.chunks.sha256()
    }

    /// Stores the next chunk of the file (the caller cuts the body into chunks of about
    /// [`ARTIFACT_CHUNK_BYTES`]).
    pub async fn write(&mut self, bytes: &[u8], now: Millis) -> Result<(), StoreError> {
        self.chunks.write(bytes, now).await
    }

    /// Makes the upload job `job_id`'s artifact at `path`, if `agent_id` still holds the job's
    /// lease for `attempt`: the lease check, the artifact's row and the removal of the file it
    /// replaces are one transaction. False (and the upload deleted) when the lease is gone.
    pub async fn finish(
        self,
        job_id: &JobId,
        agent_id: &AgentId,
        attempt: i64,
        path: &str,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let store = self.chunks.store().clone();
        let err = store.query_error("storing an artifact");
        let mut tx = store.pool().begin().await.map_err(&err)?;
        // A write first: it takes SQLite's write lock (PostgreSQL's row lock) before the
        // lease is read, so a lease that lapses meanwhile is seen lapsed.
        let lock = match store.backend() {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        if store.backend() == Backend::Sqlite {
            sqlx::query("UPDATE queue SET log_seq = log_seq WHERE id = $1")
                .bind(job_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(&err)?;
        }
        let lease = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT run_id, job_name FROM queue WHERE id = $1 AND agent_id = $2 \
             AND attempt = $3 AND state = '{LEASED}'{lock}"
        )))
        .bind(job_id.as_str())
        .bind(agent_id.as_str())
        .bind(attempt)
        .fetch_optional(&mut *tx)
        .await
        .map_err(&err)?;
        let Some(lease) = lease else {
            tx.rollback().await.map_err(&err)?;
            self.chunks.delete().await?;
            return Ok(false);
        };
        let (run_id, job): (String, String) = (
            lease.try_get("run_id").map_err(&err)?,
            lease.try_get("job_name").map_err(&err)?,
        );
        // Every chunk written is there (nothing swept or lost underneath): else no artifact.
        let held = sqlx::query(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(bytes)), 0) FROM artifact_chunks \
             WHERE upload_id = $1",
        )
        .bind(&self.chunks.upload_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(&err)?;
        let (chunks, bytes): (i64, i64) = (
            held.try_get(0).map_err(&err)?,
            held.try_get(1).map_err(&err)?,
        );
        if (chunks, bytes) != (self.chunks.next_seq, self.chunks.size) {
            tx.rollback().await.map_err(&err)?;
            self.chunks.delete().await?;
            return Err(StoreError::Query {
                location: store.location().to_owned(),
                doing: "storing an artifact",
                source: sqlx::Error::Protocol(format!(
                    "upload {} holds {chunks} chunk(s) of {bytes} bytes, {} of {} were written: \
                     send the file again",
                    self.chunks.upload_id, self.chunks.next_seq, self.chunks.size
                )),
            });
        }
        sqlx::query(
            "DELETE FROM artifact_chunks WHERE upload_id IN (SELECT upload_id FROM artifacts \
             WHERE run_id = $1 AND job_name = $2 AND path = $3)",
        )
        .bind(&run_id)
        .bind(&job)
        .bind(path)
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        sqlx::query(
            "INSERT INTO artifacts (run_id, job_name, path, size, upload_id, stored_at, sha256) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id, job_name, path) DO UPDATE \
             SET size = excluded.size, upload_id = excluded.upload_id, \
             stored_at = excluded.stored_at, sha256 = excluded.sha256",
        )
        .bind(&run_id)
        .bind(&job)
        .bind(path)
        .bind(self.chunks.size)
        .bind(&self.chunks.upload_id)
        .bind(now.as_i64())
        .bind(self.sha256())
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        Ok(true)
    }

    /// Deletes what was written (a refused or cut upload).
    pub async fn abandon(self) -> Result<(), StoreError> {
        self.chunks.delete().await
    }
}
