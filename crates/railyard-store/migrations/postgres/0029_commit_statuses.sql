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
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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

-- The same four triggers as on SQLite (../sqlite/0029_commit_statuses.sql). They also fire
-- for the rows the claim's and the end's data-modifying CTEs write, so the hot path stays one
-- statement. PostgreSQL allows no sub-query in a trigger's WHEN: the functions probe
-- `project_forges` first.
CREATE FUNCTION commit_status_of_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO commit_statuses (project, run_id, job_name, context, git_commit, status,
        description, created_at, next_at)
    SELECT r.project, r.id, NEW.name, 'railyard/' || NEW.name, r.git_commit, NEW.status,
        NEW.error, (extract(epoch from clock_timestamp()) * 1000)::bigint, (extract(epoch from clock_timestamp()) * 1000)::bigint
    FROM runs r JOIN project_forges f ON f.project = r.project
    WHERE r.id = NEW.run_id AND r.git_commit IS NOT NULL;
    RETURN NULL;
END
$$;

CREATE FUNCTION commit_status_of_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO commit_statuses (project, run_id, job_name, context, git_commit, status,
        description, created_at, next_at)
    SELECT NEW.project, NEW.id, NULL, 'railyard', NEW.git_commit, NEW.status, NULL,
        (extract(epoch from clock_timestamp()) * 1000)::bigint, (extract(epoch from clock_timestamp()) * 1000)::bigint
    FROM project_forges f WHERE f.project = NEW.project AND NEW.git_commit IS NOT NULL;
    RETURN NULL;
END
$$;

CREATE TRIGGER commit_status_job_added AFTER INSERT ON jobs
FOR EACH ROW EXECUTE FUNCTION commit_status_of_job();
CREATE TRIGGER commit_status_job_changed AFTER UPDATE OF status ON jobs
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
EXECUTE FUNCTION commit_status_of_job();
CREATE TRIGGER commit_status_run_added AFTER INSERT ON runs
FOR EACH ROW EXECUTE FUNCTION commit_status_of_run();
CREATE TRIGGER commit_status_run_changed AFTER UPDATE OF status ON runs
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
EXECUTE FUNCTION commit_status_of_run();
