-- The released candidate of a search, by face id: what the lead report shows.
SELECT c.rank, c.score, c.subject_id, f.thumbnail, i.source, i.acquired_at
FROM candidates c
LEFT JOIN faces f ON f.face_id = c.face_id
LEFT JOIN images i ON i.sha256 = f.image_sha256
WHERE c.search_id = $search_id AND c.face_id = $face_id;
