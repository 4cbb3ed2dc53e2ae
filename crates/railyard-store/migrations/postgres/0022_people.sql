-- People and their rights (issue 14). A user is a person the server knows: an admin of the
-- whole server, or someone with a role per project (viewer < developer < maintainer). A
-- password, if set, is kept only as an argon2 hash (PHC string). A disabled user's tokens
-- stop working at once (the token check joins this table). The same DDL on both backends.
CREATE TABLE users (
    name          TEXT   NOT NULL PRIMARY KEY,
    admin         BIGINT NOT NULL DEFAULT 0,
    password_hash TEXT,
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT
);

CREATE TABLE project_roles (
    project    TEXT   NOT NULL,
    user_name  TEXT   NOT NULL,
    role       TEXT   NOT NULL,               -- viewer | developer | maintainer
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (project, user_name)
);
CREATE INDEX project_roles_by_user ON project_roles (user_name);

-- A personal token (role `user`) carries its owner's rights, narrowed to one project and/or
-- to reading when these are set. Tokens made by signing in expire.
ALTER TABLE api_tokens ADD COLUMN owner TEXT;
ALTER TABLE api_tokens ADD COLUMN project TEXT;
ALTER TABLE api_tokens ADD COLUMN read_only BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;

-- Every state change, who made it and when: triggers, cancels, role and token changes,
-- secrets set, projects added or changed. Written by the server beside the change; never
-- updated or deleted by the API.
CREATE TABLE audit (
    id      TEXT   NOT NULL PRIMARY KEY,      -- ULID: sorts by time
    at      BIGINT NOT NULL,
    actor   TEXT   NOT NULL,                  -- user:NAME, token:NAME, admin, webhook:FORGE
    action  TEXT   NOT NULL,                  -- run.trigger, run.cancel, role.set, …
    project TEXT,
    target  TEXT,
    detail  TEXT
);
CREATE INDEX audit_by_project ON audit (project, at);
