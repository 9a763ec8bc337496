INSERT INTO grants_spent (nonce, user_id, action, spent_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING nonce;
