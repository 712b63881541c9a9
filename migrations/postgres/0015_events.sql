-- The outbox (src/events): each state change worth reacting to (a backup completed or failed)
-- is written here in the transaction that makes it, together with one queued job per
-- subscriber, so reactions (retention tracking, copies, verification; later notifications)
-- happen at least once even if the node that made the change dies the next instant.
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject_id TEXT,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX events_by_subject ON events (subject_id, created_at);
