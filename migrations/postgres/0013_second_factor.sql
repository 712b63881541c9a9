-- A second factor (src/auth/totp.rs): the authenticator secret sealed under the server key,
-- one awaiting confirmation, and the last time step accepted, so no code is used twice.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending TEXT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
