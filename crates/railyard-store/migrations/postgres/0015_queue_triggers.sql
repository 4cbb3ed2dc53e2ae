-- The columns SQLite's claim and end triggers read (../sqlite/0015_queue_triggers.sql), kept
-- on PostgreSQL too so both backends have the same tables: when a queue row was claimed, and
-- when and how its lease ended. PostgreSQL records the job's start and end with
-- data-modifying CTEs in the claim's and the end's one statement instead.
ALTER TABLE queue ADD COLUMN claimed_at BIGINT;
ALTER TABLE queue ADD COLUMN ended_at BIGINT;
ALTER TABLE queue ADD COLUMN error TEXT;
