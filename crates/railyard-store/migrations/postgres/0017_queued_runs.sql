-- A server's run is `queued` until an agent claims one of its jobs (it read `running` while
-- every job still waited for an agent); the claim's statement makes it `running` (SQLite:
-- the claim trigger, ../sqlite/0017_queued_runs.sql).
-- Runs already waiting for their first claim read as queued too: a server's run (owner
-- `railyard-server:queue`) that is unfinished and has no job started.
UPDATE runs SET status = 'queued'
WHERE status = 'running' AND finished_at IS NULL AND owner = 'railyard-server:queue'
    AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = runs.id AND j.status <> 'pending');
