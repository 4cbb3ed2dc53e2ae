-- A cancel asked for a leased job: the agent learns it from its next heartbeat.
ALTER TABLE queue ADD COLUMN cancel_requested BIGINT NOT NULL DEFAULT 0;
