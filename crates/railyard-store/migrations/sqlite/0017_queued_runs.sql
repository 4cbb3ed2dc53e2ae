-- A server's run is `queued` until an agent claims one of its jobs (it read `running` while
-- every job still waited for an agent). The claim makes it `running`: on SQLite in the
-- claim trigger of 0015, recreated here with that one statement added (as
-- store::runs::record_run_start; PostgreSQL does it in the claim's statement).
DROP TRIGGER queue_claimed;

CREATE TRIGGER queue_claimed AFTER UPDATE OF state ON queue
WHEN OLD.state = 'queued' AND NEW.state = 'leased'
BEGIN
    INSERT INTO jobs (run_id, name, position, status, started_at)
    SELECT NEW.run_id, NEW.job_name, (SELECT COUNT(*) FROM jobs WHERE run_id = NEW.run_id),
        'running', NEW.claimed_at
    WHERE true
    ON CONFLICT (run_id, name) DO UPDATE SET status = excluded.status,
        started_at = excluded.started_at, finished_at = NULL, error = NULL;
    UPDATE runs SET status = 'running' WHERE id = NEW.run_id AND status = 'queued';
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

-- Runs already waiting for their first claim read as queued too: a server's run (owner
-- `railyard-server:queue`) that is unfinished and has no job started.
UPDATE runs SET status = 'queued'
WHERE status = 'running' AND finished_at IS NULL AND owner = 'railyard-server:queue'
    AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = runs.id AND j.status <> 'pending');
