-- `runs_on` labels of a queued job and the labels of an agent: a claim takes only jobs whose
-- labels the agent all has. `labelled` spares the label check for the many jobs without any.
CREATE TABLE job_labels (
    job_id TEXT NOT NULL REFERENCES queue (id) ON DELETE CASCADE,
    label  TEXT NOT NULL,
    PRIMARY KEY (job_id, label)
);
CREATE TABLE agent_labels (
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    label    TEXT NOT NULL,
    PRIMARY KEY (agent_id, label)
);
ALTER TABLE queue ADD COLUMN labelled BIGINT NOT NULL DEFAULT 0;
-- Fair share: a free slot goes to the project with the fewest leased jobs per unit of weight;
-- a project with max_running > 0 never holds more leases than that.
ALTER TABLE projects ADD COLUMN weight BIGINT NOT NULL DEFAULT 1;
ALTER TABLE projects ADD COLUMN max_running BIGINT NOT NULL DEFAULT 0;
