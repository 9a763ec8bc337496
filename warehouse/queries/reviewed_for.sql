-- Searches asked for by $user_id whose analyst and reviewer have both recorded a
-- determination (the workflow decides which were released).
SELECT r.request_id, r.case_number, r.offense_code, s.search_id, s.actor AS analyst,
       a.face_id AS analyst_face, v.user_id AS reviewer, v.face_id AS reviewer_face, v.recorded_at AS reviewed_at
FROM requests r
JOIN searches s ON s.search_id = r.search_id
JOIN determinations a ON a.search_id = s.search_id AND a.stage = 'analyst'
JOIN determinations v ON v.search_id = s.search_id AND v.stage = 'reviewer'
WHERE r.requested_for = $user_id
ORDER BY v.recorded_at DESC, s.search_id;
