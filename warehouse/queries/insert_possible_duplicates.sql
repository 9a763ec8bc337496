INSERT INTO possible_duplicates (calibration_id, rank, gallery_id, subject_a, face_a, subject_b, face_b, score)
SELECT calibration_id, rank, gallery_id, subject_a, face_a, subject_b, face_b, score FROM duplicates_batch;
