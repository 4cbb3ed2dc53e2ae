-- Project secrets (issue 14): sealed by the server with an AEAD (XChaCha20-Poly1305) under
-- the operator's key file; the database never holds a value in the clear. `sealed` is hex of
-- the 24-byte random nonce followed by the ciphertext and its tag; the associated data binds
-- the project and the name, so a value copied to another row fails to open. `key_id` names
-- the key it was sealed under (a digest of the key, not the key), so a server started with
-- another key says so instead of failing at the first claim, and a rotation knows which rows
-- to seal again. The name `@repo` is the project's repository credential. The same DDL on
-- both backends.
CREATE TABLE project_secrets (
    project        TEXT   NOT NULL,
    name           TEXT   NOT NULL,
    key_id         TEXT   NOT NULL,
    sealed         TEXT   NOT NULL,
    protected_refs TEXT   NOT NULL DEFAULT '',   -- comma-separated patterns; '' for every ref
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (project, name)
);

-- The secret names the pipeline at a commit takes (comma-separated), written by the trigger
-- before it queues the run: the pipeline at a commit never changes, so the claim of any job
-- of any run of that commit hands exactly these to the agent (or fails the job naming one its
-- project lacks), and no claim can come before the row.
CREATE TABLE commit_secrets (
    project    TEXT NOT NULL,
    git_commit TEXT NOT NULL,
    names      TEXT NOT NULL,
    PRIMARY KEY (project, git_commit)
);
