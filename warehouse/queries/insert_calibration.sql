INSERT INTO calibrations (calibration_id, model_id, source, impostor_scores, created_at, gallery_id, pairs, faces)
SELECT calibration_id, model_id, source, impostor_scores, created_at, gallery_id, pairs, faces FROM calibration_batch;
