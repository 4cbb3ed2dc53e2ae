-- The ref a server run was triggered for, in full (`refs/heads/main`, `refs/tags/v1`); NULL
-- for a bare commit and for local runs. Each queue row carries it to the agent that claims
-- the job (as it carries the commit), which sets RAILYARD_REF for the job's steps.
ALTER TABLE runs ADD COLUMN git_ref TEXT;
ALTER TABLE queue ADD COLUMN git_ref TEXT;
