-- Commit statuses back to the forge (issue 15), through an outbox.
--
-- `project_forges` holds where a project's commit statuses go: the forge's kind (github,
-- gitlab, gitea), its API base URL and the repository (owner/name; on GitLab a numeric id or
-- the url-encoded path). Its token is the project's `@forge` secret, sealed like the others.
--
-- `commit_statuses` is the outbox: one row per state a context reaches (`railyard` for the
-- run, `railyard/<job>` for each job or shard), written by the triggers below in the same
-- statement (so the same transaction) as the change of the job's record or the run that
-- causes it, and only for projects with a forge: a project without one pays one probe of
-- `project_forges` per change (none at all on SQLite while no project has a forge). The
-- server's deliverer sends the rows (store::statuses): per context strictly in `id` order,
-- under a lease on the database's clock, retried with backoff; `done_at` is set with
-- `outcome` `delivered` after a 2xx, `refused` after a 4xx that will not change, or
-- `expired` past the retry horizon. `status` is Railyard's own (job or run status): the
-- deliverer maps it to each forge's states.
CREATE TABLE project_forges (
    project TEXT NOT NULL PRIMARY KEY REFERENCES projects (name) ON DELETE CASCADE,
    kind    TEXT NOT NULL,
    api_url TEXT NOT NULL,
    repo    TEXT NOT NULL
);
CREATE TABLE commit_statuses (
    id          INTEGER PRIMARY KEY,        -- rowid: max + 1 under SQLite's write lock
    project     TEXT   NOT NULL,
    run_id      TEXT   NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_name    TEXT,                       -- NULL: the run's own context
    context     TEXT   NOT NULL,            -- `railyard` or `railyard/<job>`
    git_commit  TEXT   NOT NULL,
    status      TEXT   NOT NULL,            -- a JobStatus or RunStatus name
    description TEXT,                       -- why (a skip's reason, a job's error)
    created_at  BIGINT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    next_at     BIGINT NOT NULL,            -- not sent before (backoff)
    lease_until BIGINT,                     -- a deliverer is sending it until then
    done_at     BIGINT,
    outcome     TEXT,                       -- delivered | refused | expired
    last_error  TEXT                        -- the forge's last answer, for the operator
);
-- The deliverer's look-up of rows due, and the order check within a context.
CREATE INDEX commit_statuses_open ON commit_statuses (next_at) WHERE done_at IS NULL;
CREATE INDEX commit_statuses_by_context ON commit_statuses (run_id, context, id);

-- A job's record added (pending at the run's start, or running at a claim of a job without
-- one) or its status changed (running at a claim, its end, a skip or a cancel).
CREATE TRIGGER commit_status_job_added AFTER INSERT ON jobs
WHEN EXISTS (SELECT 1 FROM project_forges)
BEGIN
    INSERT INTO commit_statuses (project, run_id, job_name, context, git_commit, status,
        description, created_at, next_at)
    SELECT r.project, r.id, NEW.name, 'railyard/' || NEW.name, r.git_commit, NEW.status,
        NEW.error, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)
    FROM runs r JOIN project_forges f ON f.project = r.project
    WHERE r.id = NEW.run_id AND r.git_commit IS NOT NULL;
END;

CREATE TRIGGER commit_status_job_changed AFTER UPDATE OF status ON jobs
WHEN OLD.status <> NEW.status AND EXISTS (SELECT 1 FROM project_forges)
BEGIN
    INSERT INTO commit_statuses (project, run_id, job_name, context, git_commit, status,
        description, created_at, next_at)
    SELECT r.project, r.id, NEW.name, 'railyard/' || NEW.name, r.git_commit, NEW.status,
        NEW.error, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)
    FROM runs r JOIN project_forges f ON f.project = r.project
    WHERE r.id = NEW.run_id AND r.git_commit IS NOT NULL;
END;

-- A run added (queued) or its status changed (running at its first claim, final at its end).
CREATE TRIGGER commit_status_run_added AFTER INSERT ON runs
WHEN NEW.git_commit IS NOT NULL
    AND EXISTS (SELECT 1 FROM project_forges WHERE project = NEW.project)
BEGIN
    INSERT INTO commit_statuses (project, run_id, job_name, context, git_commit, status,
        description, created_at, next_at)
    VALUES (NEW.project, NEW.id, NULL, 'railyard', NEW.git_commit, NEW.status, NULL,
        CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER));
END;

CREATE TRIGGER commit_status_run_changed AFTER UPDATE OF status ON runs
WHEN OLD.status <> NEW.status AND NEW.git_commit IS NOT NULL
    AND EXISTS (SELECT 1 FROM project_forges WHERE project = NEW.project)
BEGIN
    INSERT INTO commit_statuses (project, run_id, job_name, context, git_commit, status,
        description, created_at, next_at)
    VALUES (NEW.project, NEW.id, NULL, 'railyard', NEW.git_commit, NEW.status, NULL,
        CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER));
END;
