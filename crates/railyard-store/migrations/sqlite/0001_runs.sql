-- Local-run history: runs, their jobs and steps. Kept in step with ../postgres/0001_runs.sql:
-- the same tables, columns and types (text ids made by the app, BIGINT ms since the epoch,
-- statuses as railyard-types' snake_case names), so one set of queries serves both.

-- The last per-project run number handed out; bumped with one upsert so that concurrent
-- creators never share a number.
CREATE TABLE run_counters (
    project     TEXT   NOT NULL PRIMARY KEY,
    last_number BIGINT NOT NULL
);

CREATE TABLE runs (
    id            TEXT   NOT NULL PRIMARY KEY,  -- ULID
    project       TEXT   NOT NULL,
    number        BIGINT NOT NULL,              -- 1, 2, ... per project
    pipeline_path TEXT   NOT NULL,
    git_commit    TEXT,
    owner         TEXT   NOT NULL,              -- host:pid of the process running it
    status        TEXT   NOT NULL,
    started_at    BIGINT NOT NULL,
    finished_at   BIGINT,
    UNIQUE (project, number)
);
CREATE INDEX runs_by_start ON runs (started_at);
CREATE INDEX runs_by_project_start ON runs (project, started_at);
CREATE INDEX runs_by_status ON runs (status);

CREATE TABLE jobs (
    run_id       TEXT   NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name         TEXT   NOT NULL,
    position     BIGINT NOT NULL,               -- order of the pipeline (then of first mention)
    status       TEXT   NOT NULL,
    started_at   BIGINT,
    finished_at  BIGINT,
    env_key      TEXT,
    env_image_id TEXT,
    error        TEXT,
    PRIMARY KEY (run_id, name)
);

CREATE TABLE steps (
    run_id      TEXT   NOT NULL,
    job_name    TEXT   NOT NULL,
    step_index  BIGINT NOT NULL,
    command     TEXT   NOT NULL,
    status      TEXT   NOT NULL,
    exit_code   BIGINT,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    PRIMARY KEY (run_id, job_name, step_index),
    FOREIGN KEY (run_id, job_name) REFERENCES jobs (run_id, name) ON DELETE CASCADE
);
