-- Parameters: the fields of records.UserRecord.
INSERT INTO users (user_id, display_name, roles, certified_until, code_salt, code_hash, code_expires_at,
                   created_at, created_by)
VALUES ($user_id, $display_name, $roles, $certified_until, $code_salt, $code_hash, $code_expires_at,
        $created_at, $created_by);
