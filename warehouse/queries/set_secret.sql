-- A user's own secret replaces any earlier one and spends the enrollment code.
UPDATE users SET token_salt = $salt, token_hash = $hash, secret_set_at = $at,
                 code_salt = NULL, code_hash = NULL, code_expires_at = NULL
WHERE user_id = $user_id AND disabled_at IS NULL RETURNING user_id;
