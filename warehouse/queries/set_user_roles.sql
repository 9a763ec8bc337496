-- An enabled user's roles and certification, replaced; returns the user id (no row: no enabled user).
UPDATE users SET roles = $roles, certified_until = $certified_until
WHERE user_id = $user_id AND disabled_at IS NULL
RETURNING user_id;
