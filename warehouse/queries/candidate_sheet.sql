-- Everything a candidate sheet shows for one search, one row per candidate.
SELECT s.case_number, s.search_id, s.actor, s.created_at, s.gallery_id, s.gallery_size, s.model_id, s.detector_id,
       s.method, s.k, s.probe_thumbnail, s.probe_face_index, s.probe_face_count,
       s.quality_failures, s.quality_override,
       c.rank, c.score, c.subject_id, c.face_id, f.thumbnail, i.source, i.acquired_at, i.source_path
FROM searches s
JOIN candidates c USING (search_id)
LEFT JOIN faces f ON f.face_id = c.face_id            -- purged faces keep their rank and ids
LEFT JOIN images i ON i.sha256 = f.image_sha256
WHERE s.search_id = ?
ORDER BY c.rank;
