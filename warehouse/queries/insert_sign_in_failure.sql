INSERT INTO sign_in_failures (claimed_user, address, failed_at) VALUES (?, ?, ?);
