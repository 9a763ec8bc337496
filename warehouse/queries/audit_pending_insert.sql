INSERT INTO audit_pending (logged_at, actor, action, target, details) VALUES (?, ?, ?, ?, ?);
