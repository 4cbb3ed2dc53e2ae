-- Retention and quotas per project (docs/server.md, "Retention and quotas"). The logs and
-- artifacts of a finished run are pruned once it finished more than keep_days ago and is not
-- among the project's newest keep_runs runs (keep_days 0: kept for ever); the run's record
-- stays, with pruned_at saying when they went. quota_bytes caps the bytes of artifacts the
-- project's runs hold (0: no quota). Kept in step with the other folder's 0024_retention.sql.
ALTER TABLE projects ADD COLUMN keep_days BIGINT NOT NULL DEFAULT 90;
ALTER TABLE projects ADD COLUMN keep_runs BIGINT NOT NULL DEFAULT 20;
ALTER TABLE projects ADD COLUMN quota_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN pruned_at BIGINT;
-- What the background sweep looks through: finished runs not pruned yet, oldest first.
CREATE INDEX runs_unpruned ON runs (finished_at) WHERE pruned_at IS NULL;
-- Runs marked pruned whose rows are still being deleted, a batch per transaction (a crash
-- between batches leaves the row here, and the next sweep goes on).
CREATE TABLE pruning (
    run_id TEXT NOT NULL PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE
);
