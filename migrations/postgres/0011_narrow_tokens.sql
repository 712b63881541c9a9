-- A token with a scope may do only that: `wal-push:<configuration id>` pushes WAL for one
-- continuous configuration and nothing else (what a cluster's archive_command needs). NULL: the
-- token acts with its role.
ALTER TABLE api_tokens ADD COLUMN scope TEXT;

-- The source's archive_command was kept in a base backup's recovery metadata, which every role
-- reads, and it held the bearer token the cluster pushes with. It is no longer stored.
UPDATE backup_executions SET recovery_metadata = (recovery_metadata::jsonb #- '{postgresql,archiveCommand}')::text
WHERE recovery_metadata LIKE '%archiveCommand%';

-- Session ids are now stored as their SHA-256: a copy of the catalog no longer holds live
-- session cookies. Sessions stored in clear end here.
DELETE FROM sessions;
