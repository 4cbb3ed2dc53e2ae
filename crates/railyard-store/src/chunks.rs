//! A file stored as numbered chunks under an upload id of its own, hashed as it is written:
//! what artifacts (`artifact_chunks`) and caches (`cache_chunks`) both are until their
//! `finish` points a row at the upload.

use sha2::{Digest, Sha256};

use railyard_types::Millis;

use crate::{Store, StoreError};

/// The chunks of one upload written so far.
#[derive(Debug)]
pub(crate) struct Chunks {
    store: Store,
    /// `artifact_chunks` or `cache_chunks`: a name of ours, never input.
    table: &'static str,
    /// What a failed write or delete was doing, for errors.
    doing: (&'static str, &'static str),
    pub(crate) upload_id: String,
    pub(crate) next_seq: i64,
    pub(crate) size: i64,
    digest: Sha256,
}

impl Chunks {
    /// `doing`: what a failed write and a failed delete were doing (`storing an artifact`).
    pub(crate) fn begin(
        store: &Store,
        table: &'static str,
        doing: (&'static str, &'static str),
    ) -> Chunks {
        Chunks {
            store: store.clone(),
            table,
            doing,
            upload_id: ulid::Ulid::new().to_string(),
            next_seq: 0,
            size: 0,
            digest: Sha256::new(),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// SHA-256 of the bytes written so far, lowercase hex.
    pub(crate) fn sha256(&self) -> String {
        hex::encode(self.digest.clone().finalize())
    }

    /// Stores the next chunk.
    pub(crate) async fn write(&mut self, bytes: &[u8], now: Millis) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO {} (upload_id, seq, bytes, stored_at) VALUES ($1, $2, $3, $4)",
            self.table
        );
        // The table is one of our two names (`table`), never input.
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&self.upload_id)
            .bind(self.next_seq)
            .bind(bytes)
            .bind(now.as_i64())
            .execute(self.store.pool())
            .await
            .map_err(self.store.query_error(self.doing.0))?;
        self.next_seq += 1;
        self.size += bytes.len() as i64;
        self.digest.update(bytes);
        Ok(())
    }

    /// Deletes what was written (a refused or cut upload).
    pub(crate) async fn delete(&self) -> Result<(), StoreError> {
        let sql = format!("DELETE FROM {} WHERE upload_id = $1", self.table);
        // The table is one of our two names (`table`), never input.
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&self.upload_id)
            .execute(self.store.pool())
            .await
            .map_err(self.store.query_error(self.doing.1))?;
        Ok(())
    }
}
