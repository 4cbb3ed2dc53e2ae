-- Agent pools (issue 14). An agent token belongs to a pool; an agent registered with it is
-- recorded in that pool (never in one the agent names); a project lists the pools that may
-- run its jobs, and a claim sees only the jobs of projects that allow the claiming agent's
-- pool. A project with no row here allows the pool `default` alone, so projects and agents
-- from before pools keep working as they did. The same DDL on both backends.

-- The pool of an agent token (admin tokens keep `default`, which means nothing for them).
ALTER TABLE api_tokens ADD COLUMN pool TEXT NOT NULL DEFAULT 'default';
-- Copied from the registering token at registration.
ALTER TABLE agents ADD COLUMN pool TEXT NOT NULL DEFAULT 'default';
CREATE TABLE project_pools (
    project TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    pool    TEXT NOT NULL,
    PRIMARY KEY (project, pool)
);
