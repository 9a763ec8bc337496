-- Delete what purge_plan.sql and purge_builds.sql selected. Enrollment rows stay as
-- tombstones (face ids only), so an index built before the purge keeps filtering the purged
-- faces out of its results; they, the quality rows and the candidate rows no longer name
-- the subject, nor the quality rows the file.
DELETE FROM embeddings WHERE face_id IN (SELECT face_id FROM purge_faces);
DELETE FROM faces WHERE face_id IN (SELECT face_id FROM purge_faces);
INSERT INTO purged_images SELECT sha256, current_timestamp FROM purge_images ON CONFLICT DO NOTHING;
UPDATE quality_validations SET source_path = '', subject_id = NULL
WHERE image_sha256 IN (SELECT sha256 FROM purge_images);
DELETE FROM images WHERE sha256 IN (SELECT sha256 FROM purge_images);
UPDATE candidates SET subject_id = '' WHERE face_id IN (SELECT face_id FROM purge_faces);
UPDATE enrollments SET subject_id = '' WHERE face_id IN (SELECT face_id FROM purge_faces);
DELETE FROM subjects WHERE subject_id IN (SELECT subject_id FROM purge_subjects);
UPDATE index_builds SET status = 'deleted', deleted_at = current_timestamp
WHERE build_id IN (SELECT build_id FROM purge_builds);
DELETE FROM index_members WHERE build_id IN (SELECT build_id FROM purge_builds);
DELETE FROM subject_attributes WHERE subject_id IN (SELECT subject_id FROM purge_subjects);
DELETE FROM possible_duplicates
WHERE subject_a IN (SELECT subject_id FROM purge_subjects) OR subject_b IN (SELECT subject_id FROM purge_subjects);
DELETE FROM subject_pair_marks
WHERE subject_a IN (SELECT subject_id FROM purge_subjects) OR subject_b IN (SELECT subject_id FROM purge_subjects);
