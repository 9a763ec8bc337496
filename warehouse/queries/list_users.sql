SELECT user_id, display_name, list_sort(roles) AS roles, certified_until, created_at, created_by, disabled_at,
       secret_set_at, code_expires_at
FROM users ORDER BY user_id;
