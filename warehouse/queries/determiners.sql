SELECT stage, user_id FROM determinations WHERE search_id = ? ORDER BY stage;
