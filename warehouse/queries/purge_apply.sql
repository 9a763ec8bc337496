-- Delete what purge_plan.sql selected. Enrollment rows stay as tombstones (ids only), so
-- an index built before the purge keeps filtering the purged faces out of its results.
DELETE FROM embeddings WHERE face_id IN (SELECT face_id FROM purge_faces);
DELETE FROM faces WHERE face_id IN (SELECT face_id FROM purge_faces);
INSERT INTO purged_images SELECT sha256, current_timestamp FROM purge_images ON CONFLICT DO NOTHING;
DELETE FROM images WHERE sha256 IN (SELECT sha256 FROM purge_images);
DELETE FROM subjects WHERE subject_id IN (SELECT subject_id FROM purge_subjects);
