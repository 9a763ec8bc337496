SELECT user_id, display_name, roles, certified_until, token_salt, token_hash, disabled_at IS NOT NULL AS disabled,
       code_salt, code_hash, code_expires_at
FROM users WHERE user_id = ?;
