-- Deploy jobs (issue 13): a job's `concurrency` group is a named lock across the runs and
-- projects of the server, and a job with an `environment` is recorded as a deployment.
--
-- The queue row carries its job's group, whether a newer job of the group drops an older one
-- that still waits (`cancel_pending`), and its environment.
ALTER TABLE queue ADD COLUMN concurrency_group TEXT;
ALTER TABLE queue ADD COLUMN cancel_pending BIGINT NOT NULL DEFAULT 0;
ALTER TABLE queue ADD COLUMN environment TEXT;
-- The lock itself: at most one leased row per group, enforced by the database. The lock is
-- the row's own state, so every path that takes a row out of `leased` (its end, a lapsed
-- lease, a claim handed back) releases it, with nothing else to clean up. The claim skips
-- groups that have a leased row through this same index (queue/claim.rs); two claims racing
-- for two rows of one group on PostgreSQL meet here, and the later one fails and retries.
CREATE UNIQUE INDEX queue_group_leased ON queue (concurrency_group)
    WHERE state = 'leased' AND concurrency_group IS NOT NULL;
-- The queued rows of a group, for `cancel_pending`; rows without a group are not in it.
CREATE INDEX queue_group ON queue (concurrency_group, state, queued_at)
    WHERE concurrency_group IS NOT NULL;

-- What was deployed where: one row per job with an `environment` that started, written when
-- it starts and again when it ends. Local runs and server runs alike.
CREATE TABLE deployments (
    run_id       TEXT   NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_name     TEXT   NOT NULL,
    environment  TEXT   NOT NULL,
    project      TEXT   NOT NULL,
    status       TEXT   NOT NULL,              -- a job status: running, then how it ended
    started_at   BIGINT NOT NULL,
    ended_at     BIGINT,
    image        TEXT,                         -- the image it shipped (built by its needs)
    image_digest TEXT,
    PRIMARY KEY (run_id, job_name)
);
CREATE INDEX deployments_by_environment ON deployments (environment, started_at);
