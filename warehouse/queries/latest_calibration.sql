-- The newest calibration of a model.
SELECT calibration_id, source, impostor_scores, created_at
FROM calibrations WHERE model_id = ? ORDER BY created_at DESC LIMIT 1;
