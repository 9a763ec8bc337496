-- The audit chain is keyed and anchored: row_hash is HMAC-SHA256, under secrets/audit.key
-- beside the database, of the JSON array [prev_hash, seq, logged_at, actor, action, target,
-- details]; each committed head is appended to <database>.anchor. Rows written before this
-- migration keep their unkeyed SHA-256; facelead appends one audit.carry_over row, keyed,
-- that binds their count and head when it applies this migration.
COMMENT ON COLUMN audit_log.row_hash IS 'HMAC-SHA256 under secrets/audit.key (rows before audit.carry_over: SHA-256)';
-- Index builds are deleted (folder and members; status 'deleted') when retired past
-- retention or when they hold a purged face; the row stays, for the searches that name it.
ALTER TABLE index_builds ADD COLUMN retired_at TIMESTAMPTZ;
ALTER TABLE index_builds ADD COLUMN deleted_at TIMESTAMPTZ;
