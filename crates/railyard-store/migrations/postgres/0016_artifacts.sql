-- Job artifacts in the database, so that several servers on one PostgreSQL serve every
-- artifact whichever of them took the upload (they were files in each server's data folder).
-- Kept in step with ../sqlite/0016_artifacts.sql.
--
-- An upload writes its bytes as chunks under a fresh upload id, then points the artifact's row
-- at that id in one transaction (dropping the chunks it pointed at before): a cut or retried
-- upload never shows half a file, and a resend replaces the file whole. Chunks no row points
-- at are an upload in progress or one cut by a crash; the server deletes those older than an
-- hour.
CREATE TABLE artifacts (
    run_id    TEXT   NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_name  TEXT   NOT NULL,
    path      TEXT   NOT NULL,              -- relative, '/'-separated plain names
    size      BIGINT NOT NULL,
    upload_id TEXT   NOT NULL,              -- ULID of the upload whose chunks hold the bytes
    stored_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, job_name, path)
);
CREATE UNIQUE INDEX artifacts_by_upload ON artifacts (upload_id);

CREATE TABLE artifact_chunks (
    upload_id TEXT   NOT NULL,
    seq       BIGINT NOT NULL,              -- 0, 1, 2, ... in the file's order
    bytes     BYTEA  NOT NULL,
    stored_at BIGINT NOT NULL,
    PRIMARY KEY (upload_id, seq)
);
CREATE INDEX artifact_chunks_by_age ON artifact_chunks (stored_at);
