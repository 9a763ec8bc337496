-- Reads the registered Arrow relation `enrolled_batch`; each statement is idempotent.
-- current_timestamp is the transaction's start, the same for every row of the batch.
INSERT INTO subjects SELECT DISTINCT subject_id, current_timestamp FROM enrolled_batch ON CONFLICT DO NOTHING;
INSERT INTO images
SELECT DISTINCT ON (sha256) sha256, source_path, source, acquired_at, width, height, face_count, current_timestamp
FROM enrolled_batch ON CONFLICT DO NOTHING;
INSERT INTO faces
SELECT DISTINCT ON (face_id) face_id, sha256, face_index, box, landmarks, detector_score, detector_id, thumbnail
FROM enrolled_batch ON CONFLICT DO NOTHING;
INSERT INTO embeddings SELECT DISTINCT ON (face_id) face_id, model_id, vector FROM enrolled_batch ON CONFLICT DO NOTHING;
INSERT INTO enrollments
SELECT DISTINCT ON (face_id) gallery_id, face_id, model_id, subject_id, run_id, current_timestamp
FROM enrolled_batch ON CONFLICT DO NOTHING;
