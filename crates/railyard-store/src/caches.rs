//! Dependency caches shared across the fleet (migration 0032): archives kept as chunks, like
//! artifacts, under the project, the trust scope the server decided, the cache's name and
//! key. A lookup prefers the exact key (the run's own scope, then the shared one), then
//! the newest cache of the key's prefix (same order), and marks what it found as used. An
//! upload becomes a cache only in [`CacheUpload::finish`], which in the same transaction
//! drops the project's least recently used caches past its budget.

use sqlx::Row;

use railyard_types::{Millis, ProjectName};

use crate::chunks::Chunks;
use crate::{Backend, Store, StoreError};

/// One stored cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCache {
    /// The scope it is filed under (`shared`, `branch:x`, `pr:7`).
    pub scope: String,
    /// The cache's name in the job.
    pub name: String,
    /// Its key.
    pub key: String,
    /// The prefix a new key falls back to, if any.
    pub prefix: Option<String>,
    /// Bytes of its archive.
    pub size: i64,
    /// SHA-256 of the archive, lowercase hex.
    pub sha256: String,
    /// The upload whose chunks hold it (read with [`Store::cache_chunk`]).
    pub upload_id: String,
    /// When it was stored.
    pub created_at: Millis,
    /// When a lookup last found it (or it was stored).
    pub last_used_at: Millis,
}

/// What a cache upload is filed as.
#[derive(Debug, Clone)]
pub struct CacheEntry<'a> {
    /// The project.
    pub project: &'a ProjectName,
    /// The scope the server decided for the run.
    pub scope: &'a str,
    /// The cache's name.
    pub name: &'a str,
    /// Its key.
    pub key: &'a str,
    /// The prefix a later key may fall back to.
    pub prefix: Option<&'a str>,
}

/// An upload in progress: chunks written so far under its own id.
#[derive(Debug)]
pub struct CacheUpload {
    chunks: Chunks,
}

const COLUMNS: &str =
    "scope, name, cache_key, prefix, size, sha256, upload_id, created_at, last_used_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<StoredCache, sqlx::Error> {
    Ok(StoredCache {
        scope: r.try_get("scope")?,
        name: r.try_get("name")?,
        key: r.try_get("cache_key")?,
        prefix: r.try_get("prefix")?,
        size: r.try_get("size")?,
        sha256: r.try_get("sha256")?,
        upload_id: r.try_get("upload_id")?,
        created_at: Millis(r.try_get("created_at")?),
        last_used_at: Millis(r.try_get("last_used_at")?),
    })
}

impl Store {
    /// The cache `name` of `project` a run of `scope` restores for `key`: the exact key in
    /// `scope`, then in `shared`; then (with a `prefix`) the newest of that prefix in
    /// `scope`, then in `shared`. What it finds is marked used at `now`.
    pub async fn find_cache(
        &self,
        project: &ProjectName,
        scope: &str,
        name: &str,
        key: &str,
        prefix: Option<&str>,
        now: Millis,
    ) -> Result<Option<StoredCache>, StoreError> {
        let err = self.query_error("looking up a cache");
        let mut scopes = vec![scope];
        if scope != "shared" {
            scopes.push("shared");
        }
        let mut tries: Vec<(&str, bool)> = scopes.iter().map(|s| (*s, true)).collect();
        if prefix.is_some() {
            tries.extend(scopes.iter().map(|s| (*s, false)));
        }
        for (scope, exact) in tries {
            let condition = if exact {
                "cache_key = $4"
            } else {
                "prefix = $4"
            };
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM caches WHERE project = $1 AND scope = $2 AND name = $3 \
                 AND {condition} ORDER BY created_at DESC, cache_key LIMIT 1"
            )))
            .bind(project.as_str())
            .bind(scope)
            .bind(name)
            .bind(if exact {
                key
            } else {
                prefix.unwrap_or_default()
            })
            .fetch_optional(self.pool())
            .await
            .map_err(&err)?;
            if let Some(row) = row {
                let mut found = from_row(&row).map_err(&err)?;
                sqlx::query(
                    "UPDATE caches SET last_used_at = $5 WHERE project = $1 AND scope = $2 \
                     AND name = $3 AND cache_key = $4",
                )
                .bind(project.as_str())
                .bind(&found.scope)
                .bind(&found.name)
                .bind(&found.key)
                .bind(now.as_i64())
                .execute(self.pool())
                .await
                .map_err(&err)?;
                found.last_used_at = now;
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Every stored cache of a project, least recently used first.
    pub async fn caches(&self, project: &ProjectName) -> Result<Vec<StoredCache>, StoreError> {
        let err = self.query_error("listing caches");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM caches WHERE project = $1 \
             ORDER BY last_used_at, scope, name, cache_key"
        )))
        .bind(project.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        rows.iter()
            .map(from_row)
            .collect::<Result<_, _>>()
            .map_err(&err)
    }

    /// Chunk `seq` of a cache's upload; None past its end or once the cache was dropped.
    pub async fn cache_chunk(
        &self,
        upload_id: &str,
        seq: i64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let err = self.query_error("reading a cache");
        let row = sqlx::query("SELECT bytes FROM cache_chunks WHERE upload_id = $1 AND seq = $2")
            .bind(upload_id)
            .bind(seq)
            .fetch_optional(self.pool())
            .await
            .map_err(&err)?;
        row.map(|r| r.try_get::<Vec<u8>, _>("bytes"))
            .transpose()
            .map_err(&err)
    }

    /// Starts a cache upload; write its bytes with [`CacheUpload::write`].
    pub fn begin_cache(&self) -> CacheUpload {
        CacheUpload {
            chunks: Chunks::begin(
                self,
                "cache_chunks",
                ("storing a cache", "deleting a cache upload"),
            ),
        }
    }

    /// The refs whose runs write `project`'s shared caches (empty: the default, `main`).
    pub async fn protected_refs(&self, project: &ProjectName) -> Result<Vec<String>, StoreError> {
        let row = sqlx::query("SELECT protected_refs FROM projects WHERE name = $1")
            .bind(project.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(self.query_error("reading a project's protected refs"))?;
        let text: String = match row {
            Some(r) => r
                .try_get("protected_refs")
                .map_err(self.query_error("reading a project's protected refs"))?,
            None => String::new(),
        };
        Ok(text
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// Sets the refs whose runs write `project`'s shared caches; false when no such project.
    pub async fn set_protected_refs(
        &self,
        project: &ProjectName,
        refs: &[String],
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE projects SET protected_refs = $2 WHERE name = $1")
            .bind(project.as_str())
            .bind(refs.join(","))
            .execute(self.pool())
            .await
            .map_err(self.query_error("setting a project's protected refs"))?;
        Ok(done.rows_affected() == 1)
    }
}

impl CacheUpload {
    /// Bytes written so far.
    pub fn size(&self) -> i64 {
        self.chunks.size
    }

    /// Stores the next chunk.
    pub async fn write(&mut self, bytes: &[u8], now: Millis) -> Result<(), StoreError> {
        self.chunks.write(bytes, now).await
    }

    /// Files the upload as `entry`, replacing the cache of the same key and scope, then
    /// drops the project's least recently used other caches until it holds at most `budget`
    /// bytes: one transaction. Returns the caches dropped; `None` (and nothing changed,
    /// the upload deleted) when the upload alone is larger than the budget.
    pub async fn finish(
        self,
        entry: &CacheEntry<'_>,
        budget: i64,
        now: Millis,
    ) -> Result<Option<Vec<StoredCache>>, StoreError> {
        if self.chunks.size > budget {
            self.abandon().await?;
            return Ok(None);
        }
        let store = self.chunks.store().clone();
        let err = store.query_error("storing a cache");
        let mut tx = store.pool().begin().await.map_err(&err)?;
        // One upload of a project at a time decides what goes (PostgreSQL: the project's
        // row lock; SQLite: the write lock this update takes).
        let lock = match store.backend() {
            Backend::Postgres => "SELECT name FROM projects WHERE name = $1 FOR UPDATE",
            Backend::Sqlite => {
                "UPDATE projects SET protected_refs = protected_refs WHERE name = $1"
            }
        };
        sqlx::query(lock)
            .bind(entry.project.as_str())
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        let replaced = sqlx::query(
            "SELECT upload_id FROM caches WHERE project = $1 AND scope = $2 AND name = $3 \
             AND cache_key = $4",
        )
        .bind(entry.project.as_str())
        .bind(entry.scope)
        .bind(entry.name)
        .bind(entry.key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(&err)?;
        if let Some(old) = replaced {
            let old: String = old.try_get("upload_id").map_err(&err)?;
            sqlx::query("DELETE FROM cache_chunks WHERE upload_id = $1")
                .bind(old)
                .execute(&mut *tx)
                .await
                .map_err(&err)?;
        }
        sqlx::query(
            "INSERT INTO caches (project, scope, name, cache_key, prefix, size, sha256, \
             upload_id, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
             ON CONFLICT (project, scope, name, cache_key) DO UPDATE SET prefix = excluded.prefix, \
             size = excluded.size, sha256 = excluded.sha256, upload_id = excluded.upload_id, \
             created_at = excluded.created_at, last_used_at = excluded.last_used_at",
        )
        .bind(entry.project.as_str())
        .bind(entry.scope)
        .bind(entry.name)
        .bind(entry.key)
        .bind(entry.prefix)
        .bind(self.chunks.size)
        .bind(self.chunks.sha256())
        .bind(&self.chunks.upload_id)
        .bind(now.as_i64())
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM caches WHERE project = $1 \
             ORDER BY last_used_at, created_at, upload_id"
        )))
        .bind(entry.project.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(&err)?;
        let all: Vec<StoredCache> = rows
            .iter()
            .map(from_row)
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        let mut total: i64 = all.iter().map(|c| c.size).sum();
        let mut dropped = Vec::new();
        for cache in all
            .into_iter()
            .filter(|c| c.upload_id != self.chunks.upload_id)
        {
            if total <= budget {
                break;
            }
            total -= cache.size;
            sqlx::query(
                "DELETE FROM caches WHERE project = $1 AND scope = $2 AND name = $3 \
                 AND cache_key = $4",
            )
            .bind(entry.project.as_str())
            .bind(&cache.scope)
            .bind(&cache.name)
            .bind(&cache.key)
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
            sqlx::query("DELETE FROM cache_chunks WHERE upload_id = $1")
                .bind(&cache.upload_id)
                .execute(&mut *tx)
                .await
                .map_err(&err)?;
            dropped.push(cache);
        }
        tx.commit().await.map_err(&err)?;
        Ok(Some(dropped))
    }

    /// Deletes what was written (a refused or cut upload).
    pub async fn abandon(self) -> Result<(), StoreError> {
        self.chunks.delete().await
    }
}
