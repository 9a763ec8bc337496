SELECT stage, face_id FROM determinations WHERE search_id = ? ORDER BY stage;
