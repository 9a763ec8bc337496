INSERT INTO users (user_id, display_name, roles, certified_until, token_salt, token_hash, created_at, created_by)
VALUES ($user_id, $display_name, $roles, $certified_until, $token_salt, $token_hash, $created_at, $created_by);
