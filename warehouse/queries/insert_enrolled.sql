-- Reads the registered Arrow relation `enrolled_batch`; each statement is idempotent.
-- current_timestamp is the transaction's start, the same for every row of the batch.
INSERT INTO subjects (subject_id, first_enrolled_at)
SELECT DISTINCT subject_id, current_timestamp FROM enrolled_batch ON CONFLICT DO NOTHING;
INSERT INTO images (sha256, source_path, source, acquired_at, width, height, face_count, first_seen_at)
SELECT DISTINCT ON (sha256) sha256, source_path, source, acquired_at, width, height, face_count, current_timestamp
FROM enrolled_batch ON CONFLICT DO NOTHING;
INSERT INTO faces (face_id, image_sha256, face_index, box, landmarks, detector_score, detector_id, thumbnail)
SELECT DISTINCT ON (face_id) face_id, sha256, face_index, box, landmarks, detector_score, detector_id, thumbnail
FROM enrolled_batch ON CONFLICT DO NOTHING;
INSERT INTO embeddings (face_id, model_id, vector)
SELECT DISTINCT ON (face_id) face_id, model_id, vector FROM enrolled_batch ON CONFLICT DO NOTHING;
INSERT INTO enrollments (gallery_id, face_id, model_id, subject_id, run_id, enrolled_at)
SELECT DISTINCT ON (face_id) gallery_id, face_id, model_id, subject_id, run_id, current_timestamp
FROM enrolled_batch ON CONFLICT DO NOTHING;
