-- How long claimed jobs waited in the queue, as histogram counters per project: each claim
-- adds itself to the bucket of its wait, in the claim's transaction, so /metrics reads a few
-- rows per project instead of every job ever queued. `le_ms` is the bucket's upper bound
-- (store::WAIT_BOUNDS_MS; 9223372036854775807 above the last). Claims of one project spread
-- over `stripe`s (0-15) so that concurrent claims on PostgreSQL do not queue on one row lock.
CREATE TABLE queue_waits (
    project TEXT   NOT NULL,
    le_ms   BIGINT NOT NULL,
    stripe  BIGINT NOT NULL,
    n       BIGINT NOT NULL,
    sum_ms  BIGINT NOT NULL,
    PRIMARY KEY (project, le_ms, stripe)
);
-- The waits claimed so far, as /metrics used to compute them: from entering the queue to the
-- job's last claim.
INSERT INTO queue_waits (project, le_ms, stripe, n, sum_ms)
SELECT project, le_ms, 0, COUNT(*), SUM(w) FROM (
    SELECT q.project AS project, j.started_at - q.queued_at AS w,
        CASE WHEN j.started_at - q.queued_at <= 100 THEN 100
             WHEN j.started_at - q.queued_at <= 500 THEN 500
             WHEN j.started_at - q.queued_at <= 1000 THEN 1000
             WHEN j.started_at - q.queued_at <= 2500 THEN 2500
             WHEN j.started_at - q.queued_at <= 5000 THEN 5000
             WHEN j.started_at - q.queued_at <= 10000 THEN 10000
             WHEN j.started_at - q.queued_at <= 30000 THEN 30000
             WHEN j.started_at - q.queued_at <= 60000 THEN 60000
             WHEN j.started_at - q.queued_at <= 300000 THEN 300000
             WHEN j.started_at - q.queued_at <= 600000 THEN 600000
             WHEN j.started_at - q.queued_at <= 1800000 THEN 1800000
             WHEN j.started_at - q.queued_at <= 3600000 THEN 3600000
             ELSE 9223372036854775807 END AS le_ms
    FROM queue q JOIN jobs j ON j.run_id = q.run_id AND j.name = q.job_name
    WHERE q.state <> 'queued' AND q.state <> 'waiting' AND q.attempt > 0
    AND j.started_at IS NOT NULL
) waits GROUP BY project, le_ms;
