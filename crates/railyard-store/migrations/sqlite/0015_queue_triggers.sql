-- A claim and a job's end are each one statement on SQLite, as on PostgreSQL (where
-- data-modifying CTEs do it): these triggers record what the queue row's change means for the
-- job's record and the queue-wait histogram. Each statement is a round trip to sqlx's worker
-- thread, and those thread hand-offs, not commits, were the cost of a claim (a cycle of claim +
-- complete took 13 statements; bench/server/README.md).
--
-- The queue row carries what the triggers need: when it was claimed, and when and how its
-- lease ended. The same columns exist on PostgreSQL.
ALTER TABLE queue ADD COLUMN claimed_at BIGINT;
ALTER TABLE queue ADD COLUMN ended_at BIGINT;
ALTER TABLE queue ADD COLUMN error TEXT;

-- Claimed: the job is running (as store::runs::record_job_start) and its wait is counted
-- (as store::queue::stats::record_wait; the buckets are store::WAIT_BOUNDS_MS).
CREATE TRIGGER queue_claimed AFTER UPDATE OF state ON queue
WHEN OLD.state = 'queued' AND NEW.state = 'leased'
BEGIN
    INSERT INTO jobs (run_id, name, position, status, started_at)
    SELECT NEW.run_id, NEW.job_name, (SELECT COUNT(*) FROM jobs WHERE run_id = NEW.run_id),
        'running', NEW.claimed_at
    WHERE true
    ON CONFLICT (run_id, name) DO UPDATE SET status = excluded.status,
        started_at = excluded.started_at, finished_at = NULL, error = NULL;
    INSERT INTO queue_waits (project, le_ms, stripe, n, sum_ms)
    SELECT NEW.project,
        CASE WHEN w <= 100 THEN 100
             WHEN w <= 500 THEN 500
             WHEN w <= 1000 THEN 1000
             WHEN w <= 2500 THEN 2500
             WHEN w <= 5000 THEN 5000
             WHEN w <= 10000 THEN 10000
             WHEN w <= 30000 THEN 30000
             WHEN w <= 60000 THEN 60000
             WHEN w <= 300000 THEN 300000
             WHEN w <= 600000 THEN 600000
             WHEN w <= 1800000 THEN 1800000
             WHEN w <= 3600000 THEN 3600000
             ELSE 9223372036854775807 END,
        0, 1, w
    FROM (SELECT MAX(NEW.claimed_at - NEW.queued_at, 0) AS w)
    WHERE true
    ON CONFLICT (project, le_ms, stripe) DO UPDATE SET n = queue_waits.n + 1,
        sum_ms = queue_waits.sum_ms + excluded.sum_ms;
END;

-- Ended by its agent (or by a lease lapsing for the last time): the job's record gets its
-- result (as store::runs::record_job_end) and steps still running are cancelled.
CREATE TRIGGER queue_ended AFTER UPDATE OF state ON queue
WHEN OLD.state = 'leased' AND NEW.state = 'done'
BEGIN
    INSERT INTO jobs (run_id, name, position, status, finished_at, error)
    SELECT NEW.run_id, NEW.job_name, (SELECT COUNT(*) FROM jobs WHERE run_id = NEW.run_id),
        NEW.result, NEW.ended_at, NEW.error
    WHERE true
    ON CONFLICT (run_id, name) DO UPDATE SET status = excluded.status,
        finished_at = excluded.finished_at, error = excluded.error;
    UPDATE steps SET status = 'cancelled', finished_at = NEW.ended_at
    WHERE run_id = NEW.run_id AND job_name = NEW.job_name AND status = 'running';
END;
