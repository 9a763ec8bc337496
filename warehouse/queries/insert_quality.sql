-- Reads the registered Arrow relations `validation_batch` and `result_batch`.
INSERT INTO quality_validations (check_id, context, context_id, gallery_id, image_sha256, source_path, subject_id,
    face_index, suite, suite_version, passed, failed_checks, image_width, image_height, is_colour, face_count, rival_faces,
    face_width_px, inter_eye_px, detector_score, sharpness, brightness, clipped_fraction, contrast,
    roll_deg, yaw_deg, pitch_deg, checked_at)
SELECT check_id, context, context_id, gallery_id, image_sha256, source_path, subject_id,
    face_index, suite, suite_version, passed, failed_checks, image_width, image_height, is_colour, face_count, rival_faces,
    face_width_px, inter_eye_px, detector_score, sharpness, brightness, clipped_fraction, contrast,
    roll_deg, yaw_deg, pitch_deg, current_timestamp
FROM validation_batch;
INSERT INTO quality_results (check_id, expectation, metric, passed, observed, min_value, max_value, reason)
SELECT check_id, expectation, metric, passed, observed, min_value, max_value, reason FROM result_batch;
