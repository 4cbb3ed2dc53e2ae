-- Fair share counts leased jobs per project at every claim.
CREATE INDEX queue_by_project_state ON queue (project, state);
