//! Agent pools (migration 0025): an agent token belongs to a pool, an agent is recorded in
//! the pool of the token that registered it, and a project lists the pools that may run its
//! jobs. The claim (see `claim`) reads the claiming agent's pool from its row, never from the
//! request, so an agent cannot name itself into another pool; the labels an agent declares
//! only choose among the jobs its pool may see.
//!
//! A project with no listed pool allows [`DEFAULT_POOL`] alone: projects and agents from
//! before pools (and tokens, whose column defaults to it) keep working unchanged.

use std::collections::HashMap;

use railyard_types::{AgentId, Millis, ProjectName, TokenName};
use sqlx::Row;

use crate::{Store, StoreError};

/// The pool of the bootstrap agent token, of tokens made without `--pool`, and the one pool
/// a project without a list allows.
pub const DEFAULT_POOL: &str = "default";

/// SQL: true when project `project` (an expression) allows pool `pool` (an expression): it
/// lists it, or lists nothing and `pool` is [`DEFAULT_POOL`]. One probe of the
/// `project_pools` primary key each.
pub(crate) fn allows(project: &str, pool: &str) -> String {
    format!(
        "(EXISTS (SELECT 1 FROM project_pools pp WHERE pp.project = {project} \
         AND pp.pool = {pool}) OR ({pool} = '{DEFAULT_POOL}' AND NOT EXISTS \
         (SELECT 1 FROM project_pools pq WHERE pq.project = {project})))"
    )
}

/// Who an agent's call comes from, as far as pools go: the bootstrap token (pool
/// [`DEFAULT_POOL`]) or a stored agent token, by its SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentCaller {
    /// The server's `--agent-token`.
    Bootstrap,
    /// A stored token with this SHA-256 (hex).
    Stored(String),
}

/// What [`Store::agent_fits`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentFit {
    /// The agent is registered in the caller's pool.
    Fits,
    /// No agent has that id (never registered, or forgotten).
    Unknown,
    /// The agent is in pool `agent`; the caller's token is of pool `caller` (`None`: not a
    /// live agent token).
    OtherPool {
        /// The agent's pool.
        agent: String,
        /// The caller's.
        caller: Option<String>,
    },
}

impl Store {
    /// Stores an agent token of `pool` by its SHA-256 (hex); false when the name is taken
    /// (nothing changes).
    pub async fn add_agent_token(
        &self,
        name: &TokenName,
        pool: &str,
        sha256_hex: &str,
        at: Millis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO api_tokens (name, role, sha256, created_at, pool) \
             VALUES ($1, 'agent', $2, $3, $4) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name.as_str())
        .bind(sha256_hex)
        .bind(at.as_i64())
        .bind(pool)
        .execute(self.pool())
        .await
        .map_err(self.query_error("storing an agent token"))?;
        Ok(done.rows_affected() == 1)
    }

    /// The pool of the caller's token: [`DEFAULT_POOL`] for the bootstrap one, the stored
    /// one's for a live stored agent token, `None` otherwise.
    pub async fn caller_pool(&self, caller: &AgentCaller) -> Result<Option<String>, StoreError> {
        let AgentCaller::Stored(sha256_hex) = caller else {
            return Ok(Some(DEFAULT_POOL.to_owned()));
        };
        let err = self.query_error("reading a token's pool");
        let row = sqlx::query(
            "SELECT pool FROM api_tokens WHERE sha256 = $1 AND role = 'agent' \
             AND revoked_at IS NULL",
        )
        .bind(sha256_hex)
        .fetch_optional(self.pool())
        .await
        .map_err(&err)?;
        row.map(|r| r.try_get(0)).transpose().map_err(&err)
    }

    /// The pool of every stored token, by name (for listings).
    pub async fn token_pools(&self) -> Result<HashMap<String, String>, StoreError> {
        let err = self.query_error("reading tokens' pools");
        let rows = sqlx::query("SELECT name, pool FROM api_tokens WHERE role = 'agent'")
            .fetch_all(self.pool())
            .await
            .map_err(&err)?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(&err)
    }

    /// Whether agent `agent` is registered in the pool of the caller's token: one indexed
    /// read. Every call an agent makes about its agent id (claim, heartbeat, log, complete,
    /// upload, inputs, tests) asks this first, so a token of one pool cannot act for an
    /// agent of another, even knowing its id.
    pub async fn agent_fits(
        &self,
        agent: &AgentId,
        caller: &AgentCaller,
    ) -> Result<AgentFit, StoreError> {
        let err = self.query_error("checking an agent's pool");
        let (sql, key) = match caller {
            AgentCaller::Bootstrap => (
                "SELECT a.pool, $2 FROM agents a WHERE a.id = $1",
                DEFAULT_POOL,
            ),
            AgentCaller::Stored(sha) => (
                "SELECT a.pool, (SELECT t.pool FROM api_tokens t WHERE t.sha256 = $2 \
                 AND t.role = 'agent' AND t.revoked_at IS NULL) FROM agents a WHERE a.id = $1",
                sha.as_str(),
            ),
        };
        let row = sqlx::query(sql)
            .bind(agent.as_str())
            .bind(key)
            .fetch_optional(self.pool())
            .await
            .map_err(&err)?;
        let Some(row) = row else {
            return Ok(AgentFit::Unknown);
        };
        let agent: String = row.try_get(0).map_err(&err)?;
        let caller: Option<String> = row.try_get(1).map_err(&err)?;
        Ok(if caller.as_deref() == Some(agent.as_str()) {
            AgentFit::Fits
        } else {
            AgentFit::OtherPool { agent, caller }
        })
    }

    /// Sets the pools that may run a project's jobs (replacing its list, in one
    /// transaction); false when no such project. The caller refuses an empty list.
    pub async fn set_project_pools(
        &self,
        project: &ProjectName,
        pools: &[String],
    ) -> Result<bool, StoreError> {
        let err = self.query_error("setting a project's pools");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        // A write first, so SQLite's transaction holds the write lock from here and two
        // changes of one project take turns.
        let found = sqlx::query("UPDATE projects SET name = name WHERE name = $1")
            .bind(project.as_str())
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        if found.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM project_pools WHERE project = $1")
            .bind(project.as_str())
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        for pool in pools {
            sqlx::query(
                "INSERT INTO project_pools (project, pool) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(project.as_str())
            .bind(pool)
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        }
        tx.commit().await.map_err(&err)?;
        Ok(true)
    }

    /// The pools every project allows, by project; a project missing from the map allows
    /// [`DEFAULT_POOL`] alone.
    pub async fn project_pools(&self) -> Result<HashMap<ProjectName, Vec<String>>, StoreError> {
        let err = self.query_error("reading projects' pools");
        let rows = sqlx::query("SELECT project, pool FROM project_pools ORDER BY project, pool")
            .fetch_all(self.pool())
            .await
            .map_err(&err)?;
        let mut out: HashMap<ProjectName, Vec<String>> = HashMap::new();
        for r in rows {
            let project: String = r.try_get(0).map_err(&err)?;
            out.entry(ProjectName::from(project))
                .or_default()
                .push(r.try_get(1).map_err(&err)?);
        }
        Ok(out)
    }

    /// The pools one project allows (its list, or [`DEFAULT_POOL`] alone).
    pub async fn pools_of(&self, project: &ProjectName) -> Result<Vec<String>, StoreError> {
        let err = self.query_error("reading a project's pools");
        let rows = sqlx::query("SELECT pool FROM project_pools WHERE project = $1 ORDER BY pool")
            .bind(project.as_str())
            .fetch_all(self.pool())
            .await
            .map_err(&err)?;
        let pools: Vec<String> = rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        Ok(if pools.is_empty() {
            vec![DEFAULT_POOL.to_owned()]
        } else {
            pools
        })
    }
}
