-- Shards of a `parallel: N` job are queued as N rows (`test [1/4]` …), so different agents
-- claim different shards: each row names its job in the pipeline and its shard.
ALTER TABLE queue ADD COLUMN sharded_job TEXT;
ALTER TABLE queue ADD COLUMN shard BIGINT;
ALTER TABLE queue ADD COLUMN shards BIGINT;

-- One test queue per sharded job of a run, opened by the first shard to post the ids it
-- listed. `state` is the queue (split::QueueState) as JSON, changed only under this row's
-- lock, so shards on several agents, through several servers, share it.
CREATE TABLE test_queues (
    run_id      TEXT   NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_name    TEXT   NOT NULL,              -- the job's name in the pipeline
    shards      BIGINT NOT NULL,
    tests_hash  TEXT   NOT NULL,              -- SHA-256 of the sorted listed ids
    timings     TEXT   NOT NULL,              -- JSON [[id, secs]]: what every shard splits by
    state       TEXT   NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (run_id, job_name)
);
