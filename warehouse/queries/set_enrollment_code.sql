-- A new one-time enrollment code (an admin's reset); the old secret stops working.
UPDATE users SET code_salt = $salt, code_hash = $hash, code_expires_at = $expires_at,
                 token_salt = NULL, token_hash = NULL, secret_set_at = NULL
WHERE user_id = $user_id AND disabled_at IS NULL RETURNING user_id;
