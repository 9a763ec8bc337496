-- Hide a subject's faces in a gallery from every search; returns the faces removed.
UPDATE enrollments SET removed_at = current_timestamp
WHERE gallery_id = ? AND subject_id = ? AND removed_at IS NULL
RETURNING face_id;
