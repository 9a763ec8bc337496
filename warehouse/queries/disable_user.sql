UPDATE users SET disabled_at = ? WHERE user_id = ? AND disabled_at IS NULL RETURNING user_id;
