-- Each attempt at a job (src/jobs/mod.rs): a claim used to overwrite the previous attempt's
-- start, so a job taken over by another node kept no trace of who ran it before.
CREATE TABLE job_attempts (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    owner TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    outcome TEXT,
    PRIMARY KEY (job_id, attempt)
);
