-- How to reach a source beyond its identifier (a bucket's endpoint, region and access key id),
-- as a JSON object. Secrets never go here: they are sealed in source_credentials_encrypted.
ALTER TABLE backup_configurations ADD COLUMN source_options TEXT NOT NULL DEFAULT '{}';
