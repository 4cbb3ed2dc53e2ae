-- API tokens made by `railyard token create`: only their SHA-256 (hex) is kept, looked up by
-- that hash on every request (its own unique index), so a revoked token fails at once on
-- every server sharing the database. The same DDL on both backends.

CREATE TABLE api_tokens (
    name       TEXT   NOT NULL PRIMARY KEY,
    role       TEXT   NOT NULL,              -- admin | agent
    sha256     TEXT   NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
