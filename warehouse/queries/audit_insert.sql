INSERT INTO audit_log (seq, logged_at, actor, action, target, details, prev_hash, row_hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?);
