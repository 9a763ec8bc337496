SELECT user_id, display_name, list_sort(roles) AS roles, certified_until, created_at, created_by, disabled_at
FROM users ORDER BY user_id;
