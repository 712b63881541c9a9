-- An immutable location keeps every repository object (packs, indexes, manifests, keys)
-- under S3 Object Lock in compliance mode for this many days after it is written.
ALTER TABLE backup_storage_locations ADD COLUMN object_lock_days BIGINT;
