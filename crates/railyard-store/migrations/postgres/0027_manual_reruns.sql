-- Manual jobs and re-runs (issue 15).

-- A `manual: true` job: once its needs let it run, its row goes to state 'approval' (not
-- 'queued'), which no claim takes, until a person approves it (Store::approve_job).
ALTER TABLE queue ADD COLUMN manual BIGINT NOT NULL DEFAULT 0;

-- A job left out of the run by its `when:` rule (queued already ended skipped): a re-run
-- leaves it out again.
ALTER TABLE queue ADD COLUMN ruled_out BIGINT NOT NULL DEFAULT 0;

-- Which attempt of the run is the current one: 1, then +1 per re-run (Store::rerun). Not
-- the queue's `attempt`, which counts leases of one row (a lapsed lease retried).
ALTER TABLE runs ADD COLUMN attempt BIGINT NOT NULL DEFAULT 1;

-- Each earlier attempt's job results, copied from `jobs` when a re-run opens the run again:
-- the `jobs` rows then show the new attempt. Logs need no copy: their chunks are keyed by
-- the queue row's lease attempt, which a re-run carries on counting.
CREATE TABLE job_attempts (
    run_id      TEXT   NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    run_attempt BIGINT NOT NULL,
    job_name    TEXT   NOT NULL,
    status      TEXT   NOT NULL,
    started_at  BIGINT,
    finished_at BIGINT,
    error       TEXT,
    log_attempt BIGINT NOT NULL,  -- the queue row's lease attempt its log chunks carry
    PRIMARY KEY (run_id, run_attempt, job_name)
);
