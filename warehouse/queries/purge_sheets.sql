SELECT search_id FROM purge_sheets ORDER BY search_id;
