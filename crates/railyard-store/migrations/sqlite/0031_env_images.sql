-- Env images through a registry (issue 16): one row per (project, env key). An agent about to
-- build a key missing from the registry asks the server for its build lease: granted by a
-- compare-and-set on this row with the database's clock (`lease_until < now`), so of several
-- agents, and several servers on one database, one builds; the others wait and pull. The
-- builder reports the manifest digest it pushed (`digest`, `reference`, `built_by`,
-- `built_at`); `last_used_at` moves on whenever a job records that it ran on the key's image:
-- what garbage collection of unused keys reads. A job's own record keeps the digest it ran on
-- (`jobs.env_image_digest`). Kept in step with the other backend's 0031_env_images.sql.
CREATE TABLE env_images (
    project      TEXT   NOT NULL,
    env_key      TEXT   NOT NULL,
    reference    TEXT,
    digest       TEXT,
    built_by     TEXT,
    built_at     BIGINT,
    last_used_at BIGINT,
    lease_holder TEXT,
    lease_until  BIGINT,
    PRIMARY KEY (project, env_key)
);

ALTER TABLE jobs ADD COLUMN env_image_digest TEXT;
