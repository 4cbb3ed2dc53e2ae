-- Dependency caches (a job's `cache:`) shared across the fleet through the server, and the
-- refs whose runs write a project's shared cache. Kept in step with ../postgres/0032_caches.sql.
--
-- A cache is filed under the trust scope the server decided from the run (`shared` for a
-- protected ref, `branch:x`, `pr:7`, ...), never one an agent names. An upload writes its
-- chunks under a fresh upload id, then points the row at them in one transaction that also
-- drops the least recently used caches of the project past its budget: half an archive
-- never shows, and the budget holds whichever server took the upload.
ALTER TABLE projects ADD COLUMN protected_refs TEXT NOT NULL DEFAULT '';  -- comma-separated

CREATE TABLE caches (
    project      TEXT   NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    scope        TEXT   NOT NULL,
    name         TEXT   NOT NULL,
    cache_key    TEXT   NOT NULL,
    prefix       TEXT,                        -- what a new key falls back to; NULL for none
    size         BIGINT NOT NULL,
    sha256       TEXT   NOT NULL,
    upload_id    TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    PRIMARY KEY (project, scope, name, cache_key)
);
CREATE INDEX caches_by_use ON caches (project, last_used_at);

CREATE TABLE cache_chunks (
    upload_id TEXT   NOT NULL,
    seq       BIGINT NOT NULL,
    bytes     BLOB  NOT NULL,
    stored_at BIGINT NOT NULL,
    PRIMARY KEY (upload_id, seq)
);
