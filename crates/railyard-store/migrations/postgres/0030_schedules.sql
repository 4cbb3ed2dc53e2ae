-- Cron schedules (issue 15): a run of `git_ref` started at each time `cron` (UTC) names.
-- `next_at` (ms) is the next fire time; a server fires a schedule by moving it on with a
-- compare-and-set (`UPDATE … SET next_at = <next> WHERE id = $1 AND next_at = <old>`), so of
-- several servers on one database exactly one starts each fire time's run. `last_run_id` and
-- `last_error` say how the last fire went (a start that failed: the ref gone, the pipeline
-- invalid). Removing the project removes its schedules. The same DDL on both backends.
CREATE TABLE schedules (
    id          TEXT   NOT NULL PRIMARY KEY,
    project     TEXT   NOT NULL,
    name        TEXT   NOT NULL,
    cron        TEXT   NOT NULL,
    git_ref     TEXT   NOT NULL,
    next_at     BIGINT NOT NULL,
    last_fired_at BIGINT,
    last_run_id TEXT,
    last_error  TEXT,
    created_by  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (project, name)
);

-- The scheduler's one question: what is due, and when is the next.
CREATE INDEX schedules_next_at ON schedules (next_at);
