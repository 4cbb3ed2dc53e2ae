-- Server runs' job logs, as the chunks agents send (and the server's own notes): every
-- server on one database reads the same log, and a chunk goes in with the move of
-- queue.log_seq in one transaction, so a crash can neither lose nor double one. Local runs
-- keep their log files, as do server runs stored before this table (read as a fallback).
-- `id` orders a job's chunks: they are appended under the queue row's lock, so ids follow
-- commit order within a job and a follower reading "ids after X" misses none.
CREATE TABLE job_log_chunks (
    id       BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id   TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_name TEXT    NOT NULL,
    attempt  BIGINT  NOT NULL,
    seq      BIGINT  NOT NULL,                   -- the agent's chunk number; 0: the server's note
    bytes    BYTEA   NOT NULL,
    UNIQUE (run_id, job_name, attempt, seq)
);
CREATE INDEX job_log_chunks_by_job ON job_log_chunks (run_id, job_name, id);

-- Bytes stored in the job's log (all attempts, the truncation marker included): past the
-- store's max_log_bytes one marker goes in, then chunks are acknowledged and dropped.
ALTER TABLE queue ADD COLUMN log_bytes BIGINT NOT NULL DEFAULT 0;
