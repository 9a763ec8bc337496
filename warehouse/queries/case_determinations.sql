-- Every determination on the case's searches; face_id NULL is "no candidate".
SELECT d.search_id, d.stage, d.user_id, coalesce(c.rank::VARCHAR, 'no candidate') AS candidate_rank, d.face_id,
       d.recorded_at
FROM determinations d
JOIN searches s USING (search_id)
LEFT JOIN candidates c ON c.search_id = d.search_id AND c.face_id = d.face_id
WHERE s.case_number = ? ORDER BY d.search_id, d.stage;
