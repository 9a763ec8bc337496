SELECT search_id, case_number, actor, request_id, gallery_id, created_at FROM searches WHERE search_id = ?;
