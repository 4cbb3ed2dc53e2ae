-- The SHA-256 of each artifact file (lowercase hex), computed by the store as the upload's
-- chunks are written: an agent that fetches the artifacts of a job's `needs` checks what it
-- received against it (and against `size`) before the job runs. NULL for files stored before
-- this migration: those are handed over checked by size alone.
-- Kept in step with ../sqlite/0019_artifact_digests.sql.
ALTER TABLE artifacts ADD COLUMN sha256 TEXT;
