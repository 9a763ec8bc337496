SELECT user_id, display_name, roles, certified_until, token_salt, token_hash, disabled_at IS NOT NULL AS disabled
FROM users WHERE user_id = ?;
