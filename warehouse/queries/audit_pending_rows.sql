SELECT id, logged_at, actor, action, target, details FROM audit_pending ORDER BY id;
