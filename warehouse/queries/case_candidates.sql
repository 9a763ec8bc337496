SELECT c.search_id, c.rank, c.score, c.subject_id, c.face_id, i.source, i.acquired_at,
       regexp_extract(i.source_path, '[^/]+$') AS source_file
FROM candidates c
JOIN searches s USING (search_id)
LEFT JOIN faces f ON f.face_id = c.face_id            -- purged faces keep their rank and ids
LEFT JOIN images i ON i.sha256 = f.image_sha256
WHERE s.case_number = ? ORDER BY s.created_at, c.search_id, c.rank;
