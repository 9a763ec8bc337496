SELECT stage, user_id, face_id, recorded_at FROM determinations WHERE search_id = ? ORDER BY stage;
