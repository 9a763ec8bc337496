-- The searches asked for by $user_id whose review released a lead (review_outcomes decides).
SELECT r.request_id, r.case_number, r.offense_code, s.search_id, o.analyst, o.analyst_face_id AS face_id,
       o.reviewer, o.reviewer_at AS reviewed_at
FROM requests r
JOIN searches s ON s.search_id = r.search_id
JOIN review_outcomes o ON o.search_id = s.search_id
WHERE r.requested_for = $user_id AND o.outcome = 'released'
ORDER BY o.reviewer_at DESC, s.search_id;
