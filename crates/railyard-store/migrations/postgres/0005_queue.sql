-- The server's tables: projects, agents, and the job queue. The same DDL on both backends.

CREATE TABLE projects (
    name       TEXT   NOT NULL PRIMARY KEY,
    repo_url   TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE agents (
    id            TEXT   NOT NULL PRIMARY KEY,  -- ULID
    name          TEXT   NOT NULL,
    slots         BIGINT NOT NULL,
    registered_at BIGINT NOT NULL,
    last_seen     BIGINT NOT NULL
);

-- One row per job of a server run. state: waiting (needs not met) -> queued -> leased -> done.
-- A lapsed lease puts a leased row back to queued (or done, `agent lost`, past max_attempts).
CREATE TABLE queue (
    id           TEXT   NOT NULL PRIMARY KEY,  -- ULID
    run_id       TEXT   NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_name     TEXT   NOT NULL,
    project      TEXT   NOT NULL,
    repo_url     TEXT   NOT NULL,
    git_commit   TEXT   NOT NULL,
    needs        TEXT   NOT NULL,              -- JSON array of job names
    state        TEXT   NOT NULL,
    result       TEXT,                         -- the job's final status once done
    attempt      BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    agent_id     TEXT,
    lease_until  BIGINT,
    log_seq      BIGINT NOT NULL,              -- last log chunk accepted for this attempt
    queued_at    BIGINT NOT NULL,
    UNIQUE (run_id, job_name)
);
CREATE INDEX queue_by_state ON queue (state, queued_at);
CREATE INDEX queue_by_run ON queue (run_id);
