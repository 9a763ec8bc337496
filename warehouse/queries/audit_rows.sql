SELECT seq, logged_at, actor, action, target, details, prev_hash, row_hash FROM audit_log ORDER BY seq;
