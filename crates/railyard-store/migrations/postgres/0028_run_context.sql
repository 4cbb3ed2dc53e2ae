-- What started each server run (issue 15): its event (`push`, `tag`, `pull_request`,
-- `schedule`, `trigger`), the pull request it tests (number, source and target branch,
-- whether from a fork: 0 or 1), and who started it (`user:ann`, `webhook:github`). The ref is
-- `git_ref` (0018). All NULL for local runs and runs from before. Kept in step with the
-- other folder's 0028_run_context.sql.
ALTER TABLE runs ADD COLUMN event TEXT;
ALTER TABLE runs ADD COLUMN pr_number BIGINT;
ALTER TABLE runs ADD COLUMN pr_source TEXT;
ALTER TABLE runs ADD COLUMN pr_target TEXT;
ALTER TABLE runs ADD COLUMN pr_from_fork BIGINT;
ALTER TABLE runs ADD COLUMN started_by TEXT;
-- A project's `cancel_superseded` (0 or 1, off by default): a new run of a branch or pull
-- request cancels the older unfinished runs of the same ref and event.
ALTER TABLE projects ADD COLUMN cancel_superseded BIGINT NOT NULL DEFAULT 0;
-- What a new run looks up when the project cancels superseded runs: the unfinished runs of
-- one ref.
CREATE INDEX runs_unfinished_ref ON runs (project, git_ref) WHERE finished_at IS NULL;
