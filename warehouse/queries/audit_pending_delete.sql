DELETE FROM audit_pending WHERE id <= ?;
