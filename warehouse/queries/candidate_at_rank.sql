SELECT face_id FROM candidates WHERE search_id = ? AND rank = ?;
