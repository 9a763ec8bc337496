INSERT INTO subject_attributes (gallery_id, subject_id, name, value, run_id, recorded_at)
SELECT gallery_id, subject_id, name, value, run_id, recorded_at FROM attribute_batch;
