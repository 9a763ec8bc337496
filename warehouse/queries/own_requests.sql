-- The requests $user_id filed, newest first, with where each stands.
SELECT request_id, case_number, offense_code, gallery_id, requested_at, decision, decided_by, decision_reason, search_id
FROM requests WHERE requested_by = $user_id
ORDER BY requested_at DESC, request_id;
