INSERT INTO calibrations (calibration_id, model_id, source, impostor_scores, created_at)
VALUES ($calibration_id, $model_id, $source, $impostor_scores, $created_at);
