SELECT seq, row_hash FROM audit_log ORDER BY seq DESC LIMIT 1;
