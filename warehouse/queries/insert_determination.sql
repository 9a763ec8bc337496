INSERT INTO determinations (search_id, stage, user_id, face_id, recorded_at) VALUES (?, ?, ?, ?, ?);
