-- Test timings for splitting test jobs across shards (railyard-split): per project and test
-- id, a moving average of the seconds JUnit reports gave, how many runs fed it, the last
-- value and when. Kept identical in ../sqlite and ../postgres.

CREATE TABLE test_timings (
    project    TEXT             NOT NULL,
    test_id    TEXT             NOT NULL,
    avg_secs   DOUBLE PRECISION NOT NULL,   -- mean of the first 3 samples, then EMA (alpha 0.3)
    last_secs  DOUBLE PRECISION NOT NULL,
    samples    BIGINT           NOT NULL,
    updated_at BIGINT           NOT NULL,   -- ms since the epoch
    PRIMARY KEY (project, test_id)
);
CREATE INDEX test_timings_slowest ON test_timings (project, avg_secs);
